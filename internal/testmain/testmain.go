// Package testmain is the TestMain of troupe's packages: it runs the tests, then fails
// the run if any goroutine is left behind (goleak) or if, in checked mode (-tags
// troupecheck), any ownership hand-off was violated.
package testmain

import (
	"fmt"
	"os"
	"testing"

	"github.com/troupe-go/troupe/internal/actorhook"
	"go.uber.org/goleak"
)

// BreakerTimer is the go-resiliency breaker's timer goroutine: when a breaker opens it
// sleeps out the breaker's timeout (an uncancellable sleep) and then half-opens it. It
// holds nothing and ends by itself, so it may outlive a test; Run ignores it by function.
const BreakerTimer = "github.com/eapache/go-resiliency/breaker.(*Breaker).timer"

// Run runs m and exits with its status, made non-zero by leaked goroutines or ownership
// violations.
func Run(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	if vs := actorhook.Violations(); len(vs) > 0 {
		fmt.Fprintf(os.Stderr, "testmain: %d ownership violations:\n", len(vs))
		for _, v := range vs {
			fmt.Fprintln(os.Stderr, "  ", v)
		}
		code = 1
	}
	if code == 0 {
		opts = append(opts, goleak.IgnoreAnyFunction(BreakerTimer))
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "testmain: goroutines left behind: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
