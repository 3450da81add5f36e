package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The go-resiliency breaker's timer goroutine sleeps out the breaker timeout and
		// ends by itself; see supervisor's tests.
		goleak.IgnoreAnyFunction("github.com/eapache/go-resiliency/breaker.(*Breaker).timer"),
	)
}

func TestPipelineRecoversAndLosesNothing(t *testing.T) {
	var out bytes.Buffer
	cfg := config{items: 300, failRate: 0.01, stormFrom: 150, stormTo: 151, seed: 7}
	if err := run(context.Background(), &out, cfg); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"flaky failed", "restarted", "breaker OPEN", "half-open", "breaker closed", "300 items arrived once each, in order"} {
		if !strings.Contains(s, want) {
			t.Fatalf("output lacks %q:\n%s", want, s)
		}
	}
}
