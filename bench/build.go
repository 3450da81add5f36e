package main

import (
	"os"
	"os/exec"
)

// buildRunners builds the broker and every client runner (bench/cmd/...) into dir with
// one go build, so each runs as a binary of its own that links only its own client.
func buildRunners(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/...")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	return cmd.Run()
}
