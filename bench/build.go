package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildRunners builds the broker and every client runner (bench/cmd/...) into dir with
// one go build, so each runs as a binary of its own that links only its own client.
//
// With rev empty, troupe is built from the checkout (go.mod's replace => ..), uncommitted
// changes included. Otherwise troupe is built from that git revision: git archive
// extracts it under dir, and the build uses a copy of go.mod whose replace points there.
// It returns what was built, for the report.
func buildRunners(dir, rev string) (string, error) {
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	built := "the working tree (" + troupeCommit() + ")"
	if rev != "" {
		src := filepath.Join(dir, "troupe-src")
		commit, err := exportRevision(rev, src)
		if err != nil {
			return "", err
		}
		modfile, err := modfileReplacing(dir, src)
		if err != nil {
			return "", err
		}
		args = append(args, "-modfile", modfile)
		built = "commit " + commit
	}
	cmd := exec.Command("go", append(args, "./cmd/...")...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	return built, cmd.Run()
}

// buildBase builds the troupe runner from git revision rev into dir as baseBinary, for
// an A/B comparison with the troupe runner buildRunners built, and returns its commit.
func buildBase(dir, rev string) (string, error) {
	base := filepath.Join(dir, "base")
	commit, err := exportRevision(rev, filepath.Join(base, "troupe-src"))
	if err != nil {
		return "", err
	}
	modfile, err := modfileReplacing(base, filepath.Join(base, "troupe-src"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-modfile", modfile, "-o", filepath.Join(dir, baseBinary), "./cmd/troupe")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	return "commit " + commit, cmd.Run()
}

// exportRevision extracts the tree of rev into dir and returns its short commit hash.
func exportRevision(rev, dir string) (string, error) {
	out, err := exec.Command("git", "-C", "..", "rev-parse", "--short", rev+"^{commit}").Output()
	if err != nil {
		return "", fmt.Errorf("git rev-parse %s: %w", rev, err)
	}
	commit := strings.TrimSpace(string(out))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	archive := exec.Command("git", "-C", "..", "archive", "--format=tar", commit)
	untar := exec.Command("tar", "-x", "-C", dir)
	if untar.Stdin, err = archive.StdoutPipe(); err != nil {
		return "", err
	}
	archive.Stderr, untar.Stderr = os.Stderr, os.Stderr
	if err := untar.Start(); err != nil {
		return "", err
	}
	if err := archive.Run(); err != nil {
		return "", fmt.Errorf("git archive %s: %w", commit, err)
	}
	if err := untar.Wait(); err != nil {
		return "", fmt.Errorf("extracting %s: %w", commit, err)
	}
	return commit, nil
}

// modfileReplacing writes dir/go.mod and dir/go.sum: copies of bench's, with troupe
// replaced by src.
func modfileReplacing(dir, src string) (string, error) {
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return "", err
		}
	}
	modfile := filepath.Join(dir, "go.mod")
	edit := exec.Command("go", "mod", "edit", "-replace", "github.com/troupe-go/troupe="+src, modfile)
	edit.Stderr = os.Stderr
	return modfile, edit.Run()
}
