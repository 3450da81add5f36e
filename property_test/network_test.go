package property_test

import (
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/faults"
	"github.com/troupe-go/troupe/internal/testmain"
	"go.uber.org/goleak"
	"pgregory.net/rapid"
)

// toxiproxyLeftovers are goroutines of toxiproxy that may outlive its proxies. Only these
// are ignored, by function name; each says why.
var toxiproxyLeftovers = []goleak.Option{
	// When a toxic is added to a link whose connection is closing, toxiproxy's
	// ToxicLink.AddToxic restarts the link's previous stage, which can be left forever
	// sending its last chunk into a stage that has already exited (toxiproxy v2.5.0,
	// link.go). It holds one chunk of a dead connection and nothing else.
	goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/toxics.(*NoopToxic).Pipe"),
	// The latency toxic's stage hands its chunk on with the same unguarded send, and is
	// restarted the same way.
	goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/toxics.(*LatencyToxic).Pipe"),
	// The reading half of such a broken link: it read a chunk from its connection and
	// waits forever to hand it to the first stage, which is stuck as above.
	goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/stream.(*ChanWriter).Write"),
}

// sharedClusterGoroutines are the goroutines of the suite's shared cluster and proxies,
// which outlive every check: the per-check goroutine check (P8) ignores them by function.
// A restart inside a check starts new ones; the package's TestMain checks, after the
// cluster and proxies are closed, that none is left at all.
var sharedClusterGoroutines = []goleak.Option{
	// A circuit breaker that opened sleeps out its timeout on a goroutine of its own (an
	// uncancellable sleep, design.md), which holds nothing and ends by itself: with
	// troupe's default breaker timeouts (5s) it may outlive the check's clients.
	goleak.IgnoreAnyFunction(testmain.BreakerTimer),
	// kfake's cluster loop and each broker's accept loop (a cluster restarted inside a
	// check has new ones).
	goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).run"),
	goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*broker).listen"),
	// The broker's side of a client connection: it ends when the proxy closes its
	// upstream half, which toxiproxy does asynchronously after the client closed its own
	// half (and never, until the cluster closes, for a link stuck as described in
	// toxiproxyLeftovers). The client's side of every connection is troupe's and is
	// checked; the connections themselves are checked closed by the wire tap's log.
	goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).read"),
	goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*clientConn).write"),
	// A proxy brought back up inside a check (a Down fault healed) has a new accept loop
	// and its shutdown helper.
	goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*Proxy).server"),
	goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*Proxy).freeBlocker"),
}

// hangLimit is how much time one check with toxiproxy may take. A check's waits are each
// bounded (60 s to heal, and as much for each Close), so even a slow one ends within a
// few minutes; one that has not after hangLimit is stuck.
const hangLimit = 6 * time.Minute

// TestPropertyUnderNetworkFaults runs the real producer and consumer against a 3-broker
// kfake cluster behind in-process toxiproxy proxies, in real time, with network faults
// (reset_peer, timeout, latency, proxies down and up) and protocol faults, leader moves,
// broker restarts, and producer and consumer restarts; then heals everything and checks
// P1-P8. The cluster is shared by all checks; each check has its own topic.
func TestPropertyUnderNetworkFaults(t *testing.T) {
	useRapid(t, 12, 25)
	proxies := faults.NewProxies()
	t.Cleanup(proxies.Close)
	c, err := faults.StartCluster(faults.ClusterConfig{Brokers: 3, Listen: proxies.Listen, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &env{
		name:    "toxiproxy",
		cluster: c,
		net:     proxies,
		healNet: proxies.HealAll,
		brokers: 3,
		shared:  true,
		leaks:   append(sharedClusterGoroutines, toxiproxyLeftovers...),

		slowestHeal: &healStats{},
	}
	rapid.Check(t, func(rt *rapid.T) {
		defer watchdog(t.Name(), hangLimit, "every wait in a check is bounded (P7's bound, Close deadlines, request timeouts), so something waits without one")()
		checkOnce(rt, e, mode{idempotent: true}, t.Name())
	})
	t.Logf("%v", e.slowestHeal)
}
