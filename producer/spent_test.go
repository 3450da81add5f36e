package producer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// The budget reports running out once per time it runs out: when the first Produce
// starts waiting, not for each waiter, and again after a release.
func TestBudgetReportsRunningOutOncePerTime(t *testing.T) {
	b := newBudget(1, 100)
	var spent atomic.Int32
	notified := make(chan struct{}, 4)
	b.onSpent = func() { spent.Add(1); notified <- struct{}{} }
	ctx := context.Background()
	g, err := b.acquire(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { _, err := b.acquire(ctx, 10); waiting <- err }()
	select {
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatal("no report when a Produce had to wait")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.acquire(cancelled, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("a second waiter: %v", err)
	}
	if n := spent.Load(); n != 1 {
		t.Fatalf("%d reports while one wait was under way", n)
	}
	b.release([]Pending{{size: 10, gen: g}}) // the first waiter gets it: spent again
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	if _, err := b.acquire(cancelled, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter after the release: %v", err)
	}
	if n := spent.Load(); n != 2 {
		t.Fatalf("%d reports after the budget ran out a second time, want 2", n)
	}
}

// When the budget runs out, a partition producer seals its open batch at once if it
// holds at least the share it was told (lingering could only add records once outcomes
// return budget, and those outcomes wait for batches to be sent), and lingers otherwise.
func TestSpentBudgetSealsBatchesHoldingTheirShare(t *testing.T) {
	inPartition(t, nil, nil, func(pp *partition) error {
		pp.bt.maxRecords = 100 // one batch for every record here
		now := time.Now()
		fill := func(n int) error { // n records of 20 bytes into the open batch
			recs := make([]Pending, 0, n)
			for range n {
				gen, err := pp.p.budget.acquire(context.Background(), 20)
				if err != nil {
					return err
				}
				recs = append(recs, Pending{rec: &troupe.Record{Topic: "t"}, size: 20, gen: gen})
			}
			pp.accept(recs, now)
			return nil
		}
		spent := func(records int, bytes int64) {
			pp.handle(&partMsg{spent: &share{records: records, bytes: bytes}}, now)
			pp.step(now)
		}
		if err := fill(3); err != nil {
			return err
		}
		spent(4, 1<<20)
		if pp.bt.empty() {
			return errors.New("a batch below its share was sealed")
		}
		spent(3, 1<<20)
		if !pp.bt.empty() {
			return errors.New("a batch holding its share of records was not sealed when the budget ran out")
		}
		if err := fill(3); err != nil { // three records take more than 50 bytes encoded
			return err
		}
		spent(100, 50)
		if !pp.bt.empty() {
			return errors.New("a batch holding its share of bytes was not sealed when the budget ran out")
		}
		pp.abandon(errProducerClosed)
		return nil
	})
}
