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

// When the budget runs out, an open batch is sealed at once if it holds at least the share
// it is given (lingering could only add records once outcomes return budget, and those
// outcomes wait for batches to be sent), and lingers otherwise.
func TestSpentBudgetSealsBatchesHoldingTheirShare(t *testing.T) {
	p := &Producer{budget: newBudget(100, 1<<20), linger: newLingerQueue()}
	acc := &partAcc{p: p, topic: "t", bt: newBatcher(nil, 1<<20, 100, time.Hour, time.Hour), pp: &partition{}}
	now := time.Now()
	fill := func(n int) { // n records of 20 bytes into the open batch
		recs := make([]Pending, 0, n)
		for range n {
			gen, err := p.budget.acquire(context.Background(), 20)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, Pending{rec: &troupe.Record{Topic: "t"}, size: 20, gen: gen})
		}
		if !acc.add(recs, now, true) {
			t.Fatal("the accumulator refused records")
		}
	}
	sealed := func() int { n := len(acc.sealed); acc.sealed = acc.sealed[:0]; return n }
	fill(3)
	acc.sealNow(&share{records: 4, bytes: 1 << 20})
	if sealed() != 0 || acc.bt.empty() {
		t.Fatal("a batch below its share was sealed")
	}
	acc.sealNow(&share{records: 3, bytes: 1 << 20})
	if sealed() != 1 || !acc.bt.empty() {
		t.Fatal("a batch holding its share of records was not sealed when the budget ran out")
	}
	fill(3) // three records take more than 50 bytes encoded
	acc.sealNow(&share{records: 100, bytes: 50})
	if sealed() != 1 || !acc.bt.empty() {
		t.Fatal("a batch holding its share of bytes was not sealed when the budget ran out")
	}
}
