package property_test

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
)

// The suites run a bounded number of checks in CI and thousands in long mode:
//
//	TROUPE_PROPERTY_CHECKS=5000 go test -run Property -timeout 0 ./property_test/
//
// sets the number of checks of each suite. rapid's own -rapid.checks, -rapid.steps (and
// RAPID_CHECKS, RAPID_STEPS) win when given: they apply to every suite alike.
const checksEnv = "TROUPE_PROPERTY_CHECKS"

// bound is P7's bound: after the faults are healed, every produce outcome is reported and
// the consumer reaches the high-water mark within it (fake time under synctest, real time
// on loopback TCP).
const bound = 60 * time.Second

// The clients' timeouts: those of the outside harness that found records left pending
// after every fault had healed (issue 16): 1s produce request timeouts, a 2s broker
// request timeout (metadata and other calls without a deadline of their own), and 20ms
// retry backoff.
const (
	produceRequestTimeout = time.Second
	brokerRequestTimeout  = 2 * time.Second
	connectTimeout        = time.Second
	retryBackoff          = 20 * time.Millisecond
	// A check draws whether the clients' circuit breakers (metadata requests, each
	// connection) and reconnect backoff are the suite's quick ones or troupe's defaults.
	quickBreakerTimeout   = 250 * time.Millisecond
	quickReconnectBackoff = 250 * time.Millisecond
	// maxRetryBackoff caps a partition's retry backoff (the producer's Backoff.Max).
	maxRetryBackoff = time.Second
)

// healBound is P9's bound for a check configured as o: after the last fault is healed,
// every record still pending has its outcome within it. It follows from the timeouts: a
// request in flight at the heal ends within a request timeout (the heal closes the
// connections the faults touched, so in practice at once); the partition then waits at
// most its longest retry backoff, the metadata and connection breakers their timeout, a
// reconnect its backoff and the dial its timeout; a second attempt (the leader moved
// meanwhile) costs the same again. It is far below the delivery timeouts drawn (2s, when
// records expire first, or 2 minutes).
func healBound(o options) time.Duration {
	breakers, reconnect := 2*quickBreakerTimeout, quickReconnectBackoff
	if o.defaultTuning {
		breakers = cluster.DefaultBreakerTimeout + broker.DefaultBreakerTimeout
		reconnect = broker.DefaultBackoffMax
	}
	return 2 * (max(produceRequestTimeout, brokerRequestTimeout) + maxRetryBackoff + breakers + reconnect + connectTimeout)
}

// healStats tracks, over a suite's checks, the longest time from a heal to the last
// outcome, for the real-time suite to report.
type healStats struct {
	mu      sync.Mutex
	checks  int
	slowest time.Duration
	bound   time.Duration // the slowest check's P9 bound
}

func (h *healStats) note(d, bound time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks++
	if d > h.slowest {
		h.slowest, h.bound = d, bound
	}
}

func (h *healStats) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return fmt.Sprintf("after the heal, every outcome was in within %v at most over %d checks (that check's P9 bound: %v)", h.slowest.Round(time.Millisecond), h.checks, h.bound)
}

var (
	explicitOnce sync.Once
	explicit     map[string]bool // rapid flags the command line (or environment) set
)

// useRapid sets rapid's number of checks (and average steps per check) for the suite
// about to run: the long-mode count if TROUPE_PROPERTY_CHECKS is set, else ci; steps as
// given. What the command line says explicitly is left alone.
func useRapid(t *testing.T, ci, steps int) {
	t.Helper()
	explicitOnce.Do(func() {
		explicit = make(map[string]bool)
		flag.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		for env, name := range map[string]string{"RAPID_CHECKS": "rapid.checks", "RAPID_STEPS": "rapid.steps"} {
			if _, ok := os.LookupEnv(env); ok {
				explicit[name] = true
			}
		}
	})
	checks := ci
	if v := os.Getenv(checksEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number of checks", checksEnv, v)
		}
		checks = n
	}
	set := func(name string, v int) {
		if explicit[name] {
			return
		}
		if err := flag.Set(name, strconv.Itoa(v)); err != nil {
			t.Fatalf("setting -%s: %v", name, err)
		}
	}
	set("rapid.checks", checks)
	set("rapid.steps", steps)
	t.Logf("%s", describeRapid())
}

func describeRapid() string {
	get := func(name string) string {
		if f := flag.Lookup(name); f != nil {
			return f.Value.String()
		}
		return "?"
	}
	return fmt.Sprintf("rapid: %s checks, %s steps on average", get("rapid.checks"), get("rapid.steps"))
}
