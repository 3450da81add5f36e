package group

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFailedCloseLosesWhatItHolds: a member whose Close runs out of time before it could
// give its partitions up (the coordinator answers no commit: the hand-off is still
// waiting for an asynchronous commit when Close begins, and its revocation never starts)
// still ends every holding with a callback before Close returns: what was not revoked
// is lost (OnLost), and nothing more is committed for it. (Close returned its error with
// the partitions still owned and no callback: the user could believe it still owned
// them. Issue 21.) Both protocols.
func TestFailedCloseLosesWhatItHolds(t *testing.T) {
	for _, proto := range []Protocol{Classic, Consumer} {
		t.Run(proto.String(), func(t *testing.T) { failedCloseLoses(t, proto) })
	}
}

func failedCloseLoses(t *testing.T, proto Protocol) {
	const parts = 2
	kc, seeds := startKfake(t, parts, kfake.BrokerConfigs(map[string]string{
		"group.min.session.timeout.ms":         "100",
		"group.consumer.heartbeat.interval.ms": "50",
	}))
	produceN(t, seeds, parts, 0, 10)
	cfg := testGroupConfig("gl")
	if proto == Consumer {
		cfg = consumerConfig("gl")
	}
	// The commit waits for the consumer's request timeout (30 s): far past Close's.
	c := newConsumerWith(t, seeds, func(c *consumer.Config) { c.RequestTimeout = 30 * time.Second })
	col := newCollector(t, "m1")
	col.callbacks(&cfg)
	m, err := Join(ctxT(t), c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	col.m = m
	pctx, pcancel := context.WithCancel(context.Background())
	defer func() { pcancel(); <-col.done }()
	go col.run(pctx)
	readsEverything(t, col, parts, 10)

	var mu sync.Mutex
	commits := 0
	arrived := make(chan struct{})
	kc.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		kc.KeepControl()
		if commits++; commits == 1 {
			close(arrived)
		}
		return nil, nil, true // no answer
	})
	// The user's Poll since counts every record as finished: the commit has something
	// to carry.
	produceN(t, seeds, parts, 10, 1)
	readsEverything(t, col, parts, 11)
	answered := make(chan CommitResult, 1)
	m.CommitAsync(context.Background(), func(r CommitResult) { answered <- r })
	select {
	case <-arrived:
	case <-time.After(testTimeout):
		t.Fatal("the asynchronous commit never reached the coordinator")
	}

	cctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := m.Close(cctx); err == nil {
		t.Fatal("Close succeeded: the hand-off was held up by a commit the coordinator never answers")
	}
	col.mu.Lock()
	events := append([]string(nil), col.events...)
	col.mu.Unlock()
	if got := m.Assigned(); len(got) != 0 {
		t.Errorf("after a failed Close the member still owns %v", got)
	}
	if len(events) != 2 || !strings.HasPrefix(events[0], "assigned") || !strings.HasPrefix(events[1], "lost") {
		t.Fatalf("callbacks %v when Close returned; want the assignment, then both partitions lost (their revocation never began)", events)
	}
	if !strings.Contains(events[1], "t[0]") || !strings.Contains(events[1], "t[1]") {
		t.Errorf("callback %q does not name both partitions", events[1])
	}
	select {
	case r := <-answered:
		if r.Err == nil {
			t.Errorf("the asynchronous commit succeeded: %+v", r)
		}
	case <-time.After(testTimeout):
		t.Fatal("the asynchronous commit was never answered")
	}
	mu.Lock()
	defer mu.Unlock()
	if commits != 1 {
		t.Errorf("%d commits sent; want the asynchronous one alone: lost partitions are not committed", commits)
	}
}
