package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	o := options{topic: "quickstart", n: 5000, partitions: 6, progress: true}
	if err := run(context.Background(), &out, io.Discard, o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"produced 5000 records", "consumed 5000 records", "verified: every record once"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestQuickstartRejectsBadFlags(t *testing.T) {
	if err := run(context.Background(), io.Discard, io.Discard, options{n: 0, partitions: 6}); err == nil {
		t.Fatal("n=0 accepted")
	}
}
