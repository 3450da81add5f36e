package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
)

// measurement is what one run of one client yields.
type measurement struct {
	result workload.Result
	broker workload.BrokerStats // counters from "go" to the runner's exit
	cpu    time.Duration        // the runner process's user+sys CPU time, whole life
	maxRSS int64                // the runner process's peak resident set, bytes
	err    error
}

// recordsPerSecond is the timed phase's throughput.
func (m measurement) recordsPerSecond() float64 {
	if m.result.Seconds <= 0 {
		return 0
	}
	return float64(m.result.Records) / m.result.Seconds
}

// cpuPerMillion is the process's CPU seconds per million records of the timed phase.
func (m measurement) cpuPerMillion() float64 {
	if m.result.Records == 0 {
		return 0
	}
	return m.cpu.Seconds() * 1e6 / float64(m.result.Records)
}

// phaseCPUPerMillion is cpuPerMillion for the timed phase alone, as the runner measured
// it: what the whole-process figure would be without setup, warm-up and close.
func (m measurement) phaseCPUPerMillion() float64 {
	if m.result.Records == 0 {
		return 0
	}
	return m.result.PhaseCPUSeconds * 1e6 / float64(m.result.Records)
}

// phaseSysPerMillion is the kernel's part of phaseCPUPerMillion (the process's sys time).
func (m measurement) phaseSysPerMillion() float64 {
	if m.result.Records == 0 {
		return 0
	}
	return m.result.PhaseSysCPUSeconds * 1e6 / float64(m.result.Records)
}

// setupCPU is the runner's CPU time before its "ready" (client, connections, metadata,
// warm-up); closeCPU is what the process spent after the timed phase (and after the idle
// watch): closing the client and exiting.
func (m measurement) setupCPU() float64 { return m.result.SetupCPUSeconds }

func (m measurement) closeCPU() float64 {
	c := m.cpu.Seconds() - m.result.SetupCPUSeconds - m.result.PhaseCPUSeconds
	if m.result.Idle != nil {
		c -= m.result.Idle.CPUSeconds
	}
	return max(c, 0)
}

// runJob is one runner invocation.
type runJob struct {
	bins       string // directory of the runner binaries
	client     string // binary name
	mode       workload.Mode
	records    int64
	cpuprofile string // file, or empty
	memprofile string // file, or empty
	timeout    time.Duration
	verbose    bool

	// The scale mode's settings; zero values leave the runner's defaults.
	partitions      int
	keyed           bool
	spread          bool // with keyed: record i to partition i
	idle            time.Duration
	metadataRefresh time.Duration
	maxBuffered     int
	recycle         bool
}

// runClient runs one client process against b: it waits for the runner's "ready",
// resets the broker's counters, says "go", reads the Result line, waits for the exit, and
// collects the process's rusage and the broker's counters. A run that fails or takes
// longer than the job's timeout is killed after a goroutine dump, which is saved next to
// the binaries and named in the error.
func runClient(j runJob, b *broker) measurement {
	args := []string{"-mode", string(j.mode), "-brokers", b.addrs, "-records", strconv.FormatInt(j.records, 10)}
	if j.cpuprofile != "" {
		args = append(args, "-cpuprofile", j.cpuprofile)
	}
	if j.memprofile != "" {
		args = append(args, "-memprofile", j.memprofile)
	}
	args = append(args, j.scaleArgs()...)
	var m measurement
	p, err := start(j.client, filepath.Join(j.bins, j.client), args, j.verbose)
	if err != nil {
		m.err = err
		return m
	}
	fail := func(err error) measurement {
		dump := p.kill()
		f, ferr := os.CreateTemp(j.bins, j.client+"-"+string(j.mode)+"-*.stderr")
		if ferr == nil {
			f.WriteString(dump)
			f.Close()
			err = fmt.Errorf("%w (stderr with goroutine dump: %s)", err, f.Name())
		}
		m.err = err
		return m
	}
	deadline := time.Now().Add(j.timeout)
	line, err := p.readLine(time.Until(deadline))
	if err != nil {
		return fail(err)
	}
	if line != "ready" {
		return fail(fmt.Errorf("%s: expected ready, got %q", j.client, line))
	}
	if err := b.reset(); err != nil {
		return fail(err)
	}
	if err := p.send("go"); err != nil {
		return fail(err)
	}
	line, err = p.readLine(time.Until(deadline))
	if err != nil {
		return fail(err)
	}
	if err := json.Unmarshal([]byte(line), &m.result); err != nil {
		return fail(fmt.Errorf("%s: bad result line %q: %w", j.client, line, err))
	}
	if err := p.wait(time.Until(deadline) + 10*time.Second); err != nil && m.result.Error == "" {
		return fail(err)
	}
	m.cpu, m.maxRSS = p.usage()
	if m.broker, err = b.stats(); err != nil {
		m.err = err
	}
	if m.result.Error != "" {
		m.err = fmt.Errorf("%s: %s; stderr tail:\n%s", j.client, m.result.Error, lastLines(p.errs.String(), 20))
	}
	return m
}

// scaleArgs are the runner flags of the scale mode's settings that are set.
func (j runJob) scaleArgs() []string {
	var args []string
	if j.partitions > 0 {
		args = append(args, "-partitions", strconv.Itoa(j.partitions))
	}
	if j.keyed {
		args = append(args, "-keyed")
	}
	if j.spread {
		args = append(args, "-spread")
	}
	if j.idle > 0 {
		args = append(args, "-idle", j.idle.String())
	}
	if j.metadataRefresh > 0 {
		args = append(args, "-metadata-refresh", j.metadataRefresh.String())
	}
	if j.maxBuffered > 0 {
		args = append(args, "-max-buffered", strconv.Itoa(j.maxBuffered))
	}
	if j.recycle {
		args = append(args, "-recycle")
	}
	return args
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// phaseView is the timed phase's kernel time and the Go runtime's view of it (per 1M
// records where it is CPU), for a run's log line.
func (m measurement) phaseView() string {
	rt := m.result.Runtime
	gc := 0.0
	if m.result.Records > 0 {
		gc = rt.GCCPUSeconds * 1e6 / float64(m.result.Records)
	}
	return fmt.Sprintf("sys %.2f; GC %.2f, %d cycles, %d MiB allocated", m.phaseSysPerMillion(), gc, rt.GCCycles, rt.AllocBytes>>20)
}
