package property_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/faults"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
	"pgregory.net/rapid"
)

// virtualPorts are the ports of the brokers on the in-memory network.
const virtualBase, virtualBrokers = 9092, 3

// TestPropertyDeterministic is the same check under testing/synctest: the cluster listens
// on kfake's in-memory VirtualNetwork, the clients dial through a faults.Network on it
// (the same faults as on loopback TCP), and time is the bubble's fake clock.
// Every timeout, backoff, linger and delay takes no real time and does not depend on the
// machine's speed, so a failing sequence of actions shrinks and replays the same way.
// Each check has a bubble, and so a cluster, of its own.
func TestPropertyDeterministic(t *testing.T) {
	useRapid(t, 100, 30)
	heals := &healStats{}
	rapid.Check(t, func(rt *rapid.T) {
		defer watchdog(t.Name(), stallLimit, stalled)()
		rapid.SyncTest(rt, func(rt *rapid.T) { syncCheck(rt, mode{idempotent: true}, t.Name(), heals) })
	})
	t.Logf("%v", heals)
}

// stallLimit is how much real time one check under synctest may take. Checks take well
// under a second; one that takes minutes has a goroutine that never blocks durably (a
// busy loop, or a wait on something outside the bubble), so the bubble's clock cannot
// advance and the check would hang until the test binary's timeout.
const stallLimit = 3 * time.Minute

// stalled says why a check under synctest outlived stallLimit.
const stalled = "some goroutine never blocks durably (a busy loop?), so fake time cannot advance"

// watchdog starts a real-time timer (outside any bubble) that, if the check outlives
// limit, writes every goroutine's stack to the test's artefact directory and crashes the
// test binary saying why, rather than leaving a hang to the binary's timeout. The
// returned function stops it.
func watchdog(test string, limit time.Duration, why string) (stop func()) {
	timer := time.AfterFunc(limit, func() {
		buf := make([]byte, 64<<20)
		buf = buf[:runtime.Stack(buf, true)]
		dir := artefactDir(test)
		where := "(could not write them)"
		if os.MkdirAll(dir, 0o755) == nil && os.WriteFile(filepath.Join(dir, "stacks.txt"), buf, 0o644) == nil {
			where = filepath.Join(dir, "stacks.txt")
		}
		panic(fmt.Sprintf("a check ran for %v of real time: %s; goroutine stacks in %s", limit, why, where))
	})
	return func() { timer.Stop() }
}

// breakerTimersEnd lets the bubble's clock pass the longest circuit-breaker timeout the
// checks use. A breaker that opened sleeps out its timeout on a goroutine of its own (an
// uncancellable sleep, design.md) that holds nothing and ends by itself, but may outlive
// the clients; a bubble cannot end while it sleeps, since its clock stops once the
// check's goroutine has returned. On the fake clock this takes no real time, and waits
// for nothing but those timers: everything else has stopped.
func breakerTimersEnd() {
	time.Sleep(max(cluster.DefaultBreakerTimeout, broker.DefaultBreakerTimeout, quickBreakerTimeout))
}

// syncCheck runs one check in a fresh bubble-owned cluster and then verifies, with
// everything closed (the cluster too), that no goroutine of the bubble is left.
func syncCheck(rt *rapid.T, m mode, test string, heals *healStats) {
	before := goleak.IgnoreCurrent()
	rt.Cleanup(breakerTimersEnd) // the last cleanup: a failed check's clients have closed
	vn := &kfake.VirtualNetwork{}
	dir, err := os.MkdirTemp("", "troupe-property-")
	if err != nil {
		rt.Fatal(err)
	}
	rt.Cleanup(func() { os.RemoveAll(dir) })
	ports := make([]int, virtualBrokers)
	for i := range ports {
		ports[i] = virtualBase + i
	}
	nw := faults.NewNetwork(vn.DialContext, ports)
	c, err := faults.StartCluster(faults.ClusterConfig{Brokers: virtualBrokers, Ports: ports, Listen: vn.Listen, Dial: vn.DialContext, DataDir: dir})
	if err != nil {
		rt.Fatal(err)
	}
	// Cleanups run last in, first out: the clients of a failed check (checkOnce's
	// teardown) close before the cluster does.
	rt.Cleanup(c.Close)
	e := &env{
		name:    "synctest",
		cluster: c,
		net:     nw,
		healNet: func() error { nw.HealAll(); return nil },
		dial:    nw.Dial,
		brokers: virtualBrokers,
		logTo:   func(logf func(string, ...any)) { nw.Logf = logf },

		exactTime:   true,
		slowestHeal: heals,
	}
	checkOnce(rt, e, m, test)
	c.Close()
	breakerTimersEnd()
	if err := goleak.Find(before); err != nil {
		rt.Fatalf("P8: goroutines left in the bubble after everything closed: %v", err)
	}
}
