package group

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLossNotHeldUpByAutomaticCommits: with the coordinator answering no commit (each
// one waits out the consumer's request timeout, 3 s here) and no heartbeat, the member still
// declares its partitions lost when its session runs out, not once the commits queued
// before the loss have timed out: a loss cancels the automatic commit in flight and the
// ones queued (their partitions are no longer the member's to commit), and automatic
// commits do not pile up behind one that is slow. (Every AutoCommitInterval queued one
// more, without limit, and the loss waited behind all of them: the member went on
// fetching and handing over records of partitions it had lost, for as long as the
// coordinator stayed unreachable. Found by the group property suite's a3, issue 21.)
func TestLossNotHeldUpByAutomaticCommits(t *testing.T) {
	const parts = 2
	kc, seeds := startKfake(t, parts, kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	produceN(t, seeds, parts, 0, 10)
	cfg := testGroupConfig("gc")
	cfg.SessionTimeout, cfg.ProcessingTime = time.Second, 10*time.Second
	cfg.DisableAutoCommit, cfg.AutoCommitInterval = false, 20*time.Millisecond
	// A request timeout of 3 s: a commit that gets no answer fails after it (and the
	// connection it waited on, which kfake holds up behind it, is usable again).
	col := joinWithTimeout(t, seeds, cfg, "m1", 3*time.Second)
	readsEverything(t, col, parts, 10)

	var mu sync.Mutex
	failing := true
	stop := func() {
		mu.Lock()
		failing = false
		mu.Unlock()
	}
	defer stop()
	kc.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		if !failing {
			kc.DropControl()
			return nil, nil, false
		}
		kc.KeepControl()
		return nil, nil, true // no answer: the commit waits for its timeout
	})
	kc.ControlKey(int16(kmsg.Heartbeat), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		if !failing {
			kc.DropControl()
			return nil, nil, false
		}
		kc.KeepControl()
		return nil, errors.New("heartbeats fail"), true
	})
	// Something finished and not committed, so that automatic commits are sent.
	produceN(t, seeds, parts, 10, 10)
	readsEverything(t, col, parts, 20)

	// The session (1 s) runs out long before the commits queued meanwhile (one every
	// 20 ms, each waiting 3 s) would have timed out.
	start := time.Now()
	deadline := time.After(15 * time.Second)
	for {
		col.mu.Lock()
		lost, ch := false, col.change
		for _, e := range col.events {
			lost = lost || strings.HasPrefix(e, "lost")
		}
		col.mu.Unlock()
		if lost {
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("no OnLost 15 s after heartbeats stopped succeeding, with a 1 s session: the loss waits behind commits")
		}
	}
	t.Logf("lost %v after the heartbeats stopped", time.Since(start).Round(time.Millisecond))
	if got := col.m.Assigned(); len(got) != 0 {
		t.Errorf("still owns %v after losing its session", got)
	}
	stop()
	waitAssigned(t, parts, []int{parts}, col)
	t.Logf("assigned again %v after the heartbeats stopped", time.Since(start).Round(time.Millisecond))
}

// TestLossVoidsTheAssignmentInProgress: a member whose committed offsets cannot be
// fetched (the coordinator does not answer OffsetFetch) loses its session meanwhile
// (no heartbeat succeeds): the assignment still being taken is given up, unseen by the
// user (no OnAssigned, no fetching), rather than taken once the offsets come, long after
// the coordinator gave the partitions to others, and lost right after. (The hand-off
// finished the stale assignment first, OnAssigned and all, and the partitions were read
// in that window: found by the group property suite's a2 under KIP-848, issue 21.)
func TestLossVoidsTheAssignmentInProgress(t *testing.T) {
	const parts = 2
	kc, seeds := startKfake(t, parts, kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	produceN(t, seeds, parts, 0, 10)
	var mu sync.Mutex
	failing, joins := true, 0
	kc.ControlKey(int16(kmsg.JoinGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		kc.KeepControl()
		if joins++; joins > 2 {
			// The member rejoins after the loss (its first JoinGroup was answered
			// MEMBER_ID_REQUIRED): from now on everything works.
			failing = false
		}
		return nil, nil, false
	})
	for _, key := range []kmsg.Key{kmsg.OffsetFetch, kmsg.Heartbeat} {
		kc.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
			mu.Lock()
			defer mu.Unlock()
			kc.KeepControl()
			switch {
			case !failing:
				return nil, nil, false
			case key == kmsg.OffsetFetch:
				return nil, nil, true // no answer: the fetch waits for its timeout
			default:
				return nil, errors.New("heartbeats fail"), true
			}
		})
	}
	cfg := testGroupConfig("gv")
	cfg.SessionTimeout, cfg.ProcessingTime = time.Second, 10*time.Second
	col := joinWithTimeout(t, seeds, cfg, "m1", 3*time.Second)
	readsEverything(t, col, parts, 10)
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.events) != 1 || !strings.HasPrefix(col.events[0], "assigned") {
		t.Fatalf("callbacks %v; want one assignment: the one taken while the session was lost is given up unseen", col.events)
	}
}

// joinWithTimeout is join with a consumer whose requests time out after rt.
func joinWithTimeout(t *testing.T, seeds []string, cfg Config, name string, rt time.Duration) *collector {
	t.Helper()
	c, err := consumer.New(consumer.Config{
		Seeds: seeds, RequestTimeout: rt, MaxWait: 50 * time.Millisecond,
		Cluster: cluster.Config{MinRefreshInterval: 10 * time.Millisecond, Broker: broker.Config{
			Backoff: supervisor.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond},
			Breaker: supervisor.BreakerConfig{Timeout: 200 * time.Millisecond},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("consumer close: %v", err)
		}
	})
	col := newCollector(t, name)
	col.callbacks(&cfg)
	m, err := Join(ctxT(t), c, cfg)
	if err != nil {
		t.Fatalf("%s: join: %v", name, err)
	}
	col.m = m
	ctx, cancel := context.WithCancel(context.Background())
	go col.run(ctx)
	t.Cleanup(func() {
		closeMember(t, col)
		cancel()
		<-col.done
	})
	return col
}
