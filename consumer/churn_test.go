package consumer

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestHandBacksFasterThanFetches hands a partition out of a reader and back in far faster
// than its fetches return (issue 20): each round waits until a broker consumer has taken
// the partition (and so is about to send, or has sent, its long poll), then removes it,
// which stops that broker consumer (its last partition left) with the poll in flight, and
// adds it again, which starts a new one. The connection's queue is tiny, so that the
// abandoned long polls would fill it in a few rounds; no Remove or Add may wait on it,
// and the partition must still be fetched at the end.
//
// Before the fix, a broker consumer blocked in the connection's Send stopped serving its
// mailbox, and Remove waited for it until its context ended.
func TestHandBacksFasterThanFetches(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 1)
	cfg := testConfig(seeds, newRecorder())
	cfg.MaxWait = 5 * time.Second // long polls that outlast many hand-backs
	cfg.Cluster.Broker.QueueSize = 2
	cfg.Cluster.Broker.MaxInflight = 1
	subscribed := make(chan struct{}, 1)
	cfg.Logger = slog.New(&onMessage{msg: "partition subscribed", ch: subscribed})
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	a := About{"t", 0}
	if err := r.Add(ctx, At(1), a); err != nil { // at the end: every fetch is a long poll
		t.Fatal(err)
	}
	const rounds = 20 // the connection holds 1 in flight, 1 being written and 2 queued
	for i := range rounds {
		step, cancel := context.WithTimeout(ctx, cfg.MaxWait/2)
		select {
		case <-subscribed:
		case <-step.Done():
			cancel()
			t.Fatalf("round %d: the partition was not subscribed to a broker consumer: %v", i, context.Cause(step))
		}
		if err := r.Remove(step, a); err != nil {
			cancel()
			t.Fatalf("round %d: Remove: %v", i, err)
		}
		if err := r.Add(step, At(1), a); err != nil {
			cancel()
			t.Fatalf("round %d: Add: %v", i, err)
		}
		cancel()
	}
	check := newReaderCheck(t)
	check.next[a] = 1
	produce(t, seeds, "t", 0, 1, 3)
	check.pollUntil(ctx, r, 3)
}

// onMessage is a slog.Handler that signals ch (without blocking) on every record whose
// message is msg, and drops every record.
type onMessage struct {
	msg string
	ch  chan struct{}
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }

func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onMessage) WithGroup(string) slog.Handler      { return h }
