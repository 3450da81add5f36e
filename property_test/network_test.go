package property_test

import (
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/faults"
	"github.com/troupe-go/troupe/internal/testmain"
	"go.uber.org/goleak"
	"pgregory.net/rapid"
)

// sharedClusterGoroutines are the goroutines of the suite's shared cluster, which outlive
// every check: the per-check goroutine check (P8) ignores them by function. A restart
// inside a check starts new ones; the package's TestMain checks, after the cluster is
// closed, that none is left at all.
var sharedClusterGoroutines = []goleak.Option{
	// A circuit breaker that opened sleeps out its timeout on a goroutine of its own (an
	// uncancellable sleep, design.md), which holds nothing and ends by itself: with
	// troupe's default breaker timeouts (5s) it may outlive the check's clients.
	goleak.IgnoreAnyFunction(testmain.BreakerTimer),
	// kfake's cluster loop and each broker's accept loop (a cluster restarted inside a
	// check has new ones).
	goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).run"),
	goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*broker).listen"),
	// The broker's side of a client connection: it ends once it reads the client's close,
	// which kfake gets round to asynchronously. The client's side of every connection is
	// troupe's and is checked; the connections themselves are checked closed by the wire
	// tap's count.
	goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).read"),
	goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).write"),
}

// hangLimit is how much time one check in real time may take. A check's waits are each
// bounded (60 s to heal, and as much for each Close), so even a slow one ends within a
// few minutes; one that has not after hangLimit is stuck.
const hangLimit = 6 * time.Minute

// TestPropertyUnderNetworkFaults runs the real producer and consumer against a 3-broker
// kfake cluster on loopback TCP, in real time, every client dialing through a
// faults.Network, with network faults (cut, stall, latency, brokers down and up) and
// protocol faults, leader moves, broker restarts, and producer and consumer restarts;
// then heals everything and checks P1-P9 (P9 measured, not bounded: see env.exactTime). The
// cluster is shared by all checks; each check has its own topic.
func TestPropertyUnderNetworkFaults(t *testing.T) {
	useRapid(t, 12, 25)
	c, err := faults.StartCluster(faults.ClusterConfig{Brokers: 3, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	nw := faults.NewNetwork(nil, c.Ports())
	e := &env{
		name:    "tcp",
		cluster: c,
		net:     nw,
		healNet: func() error { nw.HealAll(); return nil },
		dial:    nw.Dial,
		brokers: 3,
		shared:  true,
		leaks:   sharedClusterGoroutines,

		slowestHeal: &healStats{},
	}
	rapid.Check(t, func(rt *rapid.T) {
		defer watchdog(t.Name(), hangLimit, "every wait in a check is bounded (P7's bound, Close deadlines, request timeouts), so something waits without one")()
		checkOnce(rt, e, mode{idempotent: true}, t.Name())
	})
	t.Logf("%v", e.slowestHeal)
}
