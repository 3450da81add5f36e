package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }

func TestProducerStageExample(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "", "events", 100); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "90 records written with the stage's headers, 10 refused by the stage") {
		t.Fatalf("unexpected output:\n%s", out.String())
	}
}
