package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// machine describes where a run happened, for the report.
type machine struct {
	cpu       string
	cores     int
	goVersion string
	os        string
	troupe    string // what the troupe runner was built from
	base      string // what the troupe@base runner was built from (-base), if any
	loadStart string // /proc/loadavg before and after the runs
	loadEnd   string
}

func describeMachine() machine {
	return machine{
		cpu:       cpuModel(),
		cores:     runtime.NumCPU(),
		goVersion: runtime.Version(),
		os:        runtime.GOOS + "/" + runtime.GOARCH,
		loadStart: loadAverage(),
	}
}

func (m machine) summary() string {
	return fmt.Sprintf("%s, %d cores, %s, load average %s", m.cpu, m.cores, m.goVersion, m.loadStart)
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	in := bufio.NewScanner(f)
	for in.Scan() {
		if k, v, ok := strings.Cut(in.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// loadAverage is the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// troupeCommit names the commit of the checkout the troupe runner is built from, noting
// uncommitted changes to troupe's own code (bench/ and docs/ aside).
func troupeCommit() string {
	out, err := exec.Command("git", "-C", "..", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown commit"
	}
	c := strings.TrimSpace(string(out))
	st, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench", ":!docs").Output()
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += " with uncommitted changes"
	}
	return c
}
