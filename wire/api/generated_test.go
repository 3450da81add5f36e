package api_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate regenerates the message code into a temporary directory and fails
// if any committed *_gen.go file differs from, lacks, or adds to the generator's output.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator with go run")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to run the generator")
	}
	out := t.TempDir()
	cmd := exec.Command(goBin, "run", "./internal/gen", "-dir", "internal/gen", "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator failed: %v\n%s", err, msg)
	}
	fresh, _ := filepath.Glob(filepath.Join(out, "*_gen.go"))
	committed, _ := filepath.Glob("*_gen.go")
	if len(fresh) == 0 || len(fresh) != len(committed) {
		t.Fatalf("generator wrote %d files, %d are committed; run go generate", len(fresh), len(committed))
	}
	for _, f := range fresh {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Base(f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what the generator writes (%v); run go generate in wire/api", filepath.Base(f), err)
		}
	}
}
