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
	c, err := consumer.New(consumer.Config{
		Seeds: seeds, RequestTimeout: 3 * time.Second, MaxWait: 50 * time.Millisecond,
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
	col := newCollector(t, "m1")
	col.callbacks(&cfg)
	m, err := Join(ctxT(t), c, cfg)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	col.m = m
	ctx, cancel := context.WithCancel(context.Background())
	go col.run(ctx)
	t.Cleanup(func() {
		closeMember(t, col)
		cancel()
		<-col.done
	})
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
