package group

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
)

// TestRevocationPastTheRebalanceTimeoutIsALoss: a member's user holds a batch while a
// second member joins; the coordinator finishes the rebalance without the first member
// once its rebalance timeout (ProcessingTime) has passed, counted from when the
// rebalance began, and gives the partitions to those that rejoined. The first member
// learned of the rebalance only at its next heartbeat, later: it must count the timeout
// from before the rebalance began (its last heartbeat answered without one), and its
// partitions are lost at the end of it (OnLost, nothing committed), not revoked when its
// user comes back after the second member was assigned: an OnRevoked then would run
// after the new owner's OnAssigned, and its commit would be refused. (The member counted
// ProcessingTime from when it learned of the rebalance, and ran OnRevoked: found by the
// group property suite's a2, issue 21.)
func TestRevocationPastTheRebalanceTimeoutIsALoss(t *testing.T) {
	const parts = 2
	_, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, 5)
	var mu sync.Mutex
	var events []string
	cfg := func(name string) Config {
		cfg := testGroupConfig("gd")
		// Heartbeats far apart, so that the first member learns of the rebalance well
		// after it began.
		cfg.HeartbeatInterval, cfg.ProcessingTime = 1500*time.Millisecond, 2*time.Second
		note := func(what string) func(context.Context, []consumer.About) {
			return func(_ context.Context, ps []consumer.About) {
				if len(ps) > 0 {
					mu.Lock()
					events = append(events, name+" "+what)
					t.Logf("%v %s %s %v", time.Now().Format("05.000"), name, what, ps)
					mu.Unlock()
				}
			}
		}
		cfg.OnAssigned, cfg.OnRevoked, cfg.OnLost = note("assigned"), note("revoked"), note("lost")
		return cfg
	}
	m1, err := Join(ctxT(t), newConsumer(t, seeds), cfg("m1"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m1.Close(context.Background()) }()
	// m1's user takes a batch and holds it.
	if bs, err := m1.Poll(ctxT(t)); err != nil || len(bs) == 0 {
		t.Fatalf("m1's first Poll: %v, %d batches", err, len(bs))
	}
	t.Logf("%v m2 joins", time.Now().Format("05.000"))
	m2, err := Join(ctxT(t), newConsumer(t, seeds), cfg("m2"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m2.Close(context.Background()) }()
	// m1's user comes back.
	pctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	_, _ = m1.Poll(pctx)
	cancel()
	mu.Lock()
	defer mu.Unlock()
	var m1Events []string
	for _, e := range events {
		if strings.HasPrefix(e, "m1 ") {
			m1Events = append(m1Events, e)
		}
	}
	if len(m1Events) < 2 || m1Events[1] != "m1 lost" {
		t.Fatalf("m1's callbacks %v (all: %v); want its partitions lost after the first assignment", m1Events, events)
	}
}
