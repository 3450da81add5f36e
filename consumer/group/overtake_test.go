package group

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRevocationOvertakesTheAssignmentInProgress: an eager member whose assignment is
// still being taken (the coordinator does not answer the OffsetFetch of its committed
// offsets) is told of the next rebalance meanwhile. The revocation overtakes the
// assignment: its partitions are never announced (no OnAssigned) nor read, the lookup is
// given up at once, and the member rejoins and takes the next assignment. (The hand-off
// finished the stale assignment first, OnAssigned and Reader.AddOffsets included, once
// the offsets came, and only then carried out the revocation: the partitions were fetched
// after the revocation was requested, in the group property suite up to seconds past the
// member's session. Issue 21, a3.)
func TestRevocationOvertakesTheAssignmentInProgress(t *testing.T) {
	const parts = 2
	kc, seeds := startKfake(t, parts, kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	produceN(t, seeds, parts, 0, 10)
	cfg := testGroupConfig("go")
	// A lookup that gets no answer fails after the request timeout and is asked again.
	col := joinWithTimeout(t, seeds, cfg, "m1", time.Second)
	readsEverything(t, col, parts, 10)
	gen := col.m.Generation()

	var mu sync.Mutex
	var (
		holdFetch  bool          // OffsetFetch gets no answer
		fetchHeld  chan struct{} // closed at the first OffsetFetch held
		rebalances int           // heartbeats to answer REBALANCE_IN_PROGRESS
		answered   = make(chan struct{}, 2)
	)
	kc.ControlKey(int16(kmsg.OffsetFetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		kc.KeepControl()
		if !holdFetch {
			return nil, nil, false
		}
		holdFetch = false // the next one (after the request timeout) is answered
		close(fetchHeld)
		return nil, nil, true
	})
	kc.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		kc.KeepControl()
		if rebalances == 0 {
			return nil, nil, false
		}
		rebalances--
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		answered <- struct{}{}
		return resp, nil, true
	})

	// A rebalance (the member revokes and rejoins), whose assignment's committed offsets
	// get no answer.
	mu.Lock()
	holdFetch, fetchHeld, rebalances = true, make(chan struct{}), 1
	held := fetchHeld
	mu.Unlock()
	select {
	case <-held:
	case <-time.After(testTimeout):
		t.Fatal("no OffsetFetch for the second assignment")
	}
	// The next rebalance, while that assignment is still being taken.
	mu.Lock()
	rebalances = 1
	mu.Unlock()
	for range 2 {
		select {
		case <-answered:
		case <-time.After(testTimeout):
			t.Fatal("no heartbeat answered REBALANCE_IN_PROGRESS")
		}
	}
	col.waitFor(t, "the assignment of the third generation", func() bool {
		return col.m.Generation() >= gen+2 && strings.HasPrefix(col.events[len(col.events)-1], "assigned")
	})
	produceN(t, seeds, parts, 10, 10)
	readsEverything(t, col, parts, 20)
	col.mu.Lock()
	defer col.mu.Unlock()
	var got []string
	for _, e := range col.events {
		got = append(got, e[:strings.IndexByte(e, ' ')])
	}
	if strings.Join(got, ",") != "assigned,revoked,assigned" {
		t.Errorf("callbacks %v; want assigned, revoked, assigned: the assignment the second rebalance overtook is never announced", col.events)
	}
}
