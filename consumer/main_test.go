package consumer

import (
	"fmt"
	"os"
	"testing"

	"github.com/troupe-go/troupe/internal/actorhook"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(checkOwnership{m},
		// When a go-resiliency breaker opens it starts a goroutine that sleeps for the
		// breaker's timeout and then half-opens it; the sleep cannot be cancelled. It
		// holds nothing and ends by itself, so it may outlive a test.
		goleak.IgnoreAnyFunction("github.com/eapache/go-resiliency/breaker.(*Breaker).timer"),
	)
}

// checkOwnership fails the run, after the tests, if the hand-off protocol was broken
// anywhere (only built with -tags troupecheck does anything record violations); each
// test also checks at its end (see newConsumer).
type checkOwnership struct{ m *testing.M }

func (c checkOwnership) Run() int {
	code := c.m.Run()
	if vs := actorhook.Violations(); len(vs) > 0 {
		for _, v := range vs {
			fmt.Fprintln(os.Stderr, v)
		}
		fmt.Fprintf(os.Stderr, "%d ownership violations\n", len(vs))
		if code == 0 {
			code = 1
		}
	}
	return code
}
