package producer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

func TestBudgetBlocksAndUnblocks(t *testing.T) {
	b := newBudget(2, 100)
	ctx := context.Background()
	g1, err := b.acquire(ctx, 40)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.acquire(ctx, 40); err != nil {
		t.Fatal(err)
	}
	// Third record: over the record budget. It waits until one is released.
	got := acquireAsync(b, ctx, 10)
	select {
	case err := <-got:
		t.Fatalf("acquire past the budget returned %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	b.release([]Pending{{size: 40, gen: g1}})
	wantAcquired(t, got, "after a release")
	if r, by := b.held(); r != 2 || by != 50 {
		t.Fatalf("held %d records, %d bytes", r, by)
	}
}

func TestBudgetBytesAndContext(t *testing.T) {
	b := newBudget(100, 100)
	if _, err := b.acquire(context.Background(), 90); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := b.acquire(ctx, 20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("over the byte budget: %v", err)
	}
	// Alone, a record bigger than what is left is let in once the budget is empty.
	b2 := newBudget(10, 100)
	if _, err := b2.acquire(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
}

func TestBudgetCloseWakesWaiters(t *testing.T) {
	b := newBudget(1, 100)
	if _, err := b.acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	got := acquireAsync(b, context.Background(), 1)
	b.close()
	select {
	case err := <-got:
		if !errors.Is(err, troupe.ErrClosed) {
			t.Fatalf("waiter woken with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not wake the waiter")
	}
}

func TestFlushGenerations(t *testing.T) {
	b := newBudget(100, 1000)
	ctx := context.Background()
	gA, _ := b.acquire(ctx, 1)
	gB, _ := b.acquire(ctx, 1)
	mark := b.mark()
	gC, _ := b.acquire(ctx, 1) // after the flush point: Flush must not wait for it
	if gA != mark || gB != mark || gC == mark {
		t.Fatalf("generations %d %d %d, mark %d", gA, gB, gC, mark)
	}
	done := make(chan error, 1)
	go func() { done <- b.waitFor(ctx, mark) }()
	b.release([]Pending{{size: 1, gen: gA}})
	select {
	case <-done:
		t.Fatal("flush returned with a record of its generation outstanding")
	case <-time.After(10 * time.Millisecond):
	}
	b.release([]Pending{{size: 1, gen: gB}})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flush did not return after its generation drained")
	}
	// Nothing outstanding at all: returns at once.
	if err := newBudget(1, 1).waitFor(ctx, newBudget(1, 1).mark()); err != nil {
		t.Fatal(err)
	}
}

// A budget that grows lets in the Produce that waited for room, and never shrinks.
func TestBudgetGrowWakesAWaiter(t *testing.T) {
	b := newBudget(1, 1000)
	ctx := context.Background()
	if _, err := b.acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	got := acquireAsync(b, ctx, 10)
	waitFor(t, "the second acquire to wait", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.wake != nil
	})
	b.grow(2)
	wantAcquired(t, got, "after the budget grew")
	b.grow(1)
	if n := b.recordLimit(); n != 2 {
		t.Fatalf("the budget shrank to %d records", n)
	}
}

// With MaxBufferedRecords left at zero, a producer writing to 2500 partitions lets in 10
// records per partition (25000) while the broker answers nothing: a fixed 20000 would
// leave Produce waiting. With MaxBufferedRecords set, the budget stays as set. The broker
// holds the first produce request, and with one request in flight at a time nothing is
// acknowledged until it lets it go.
func TestDefaultBudgetGrowsWithThePartitions(t *testing.T) {
	const parts = 2500
	for _, tc := range []struct {
		name  string
		set   int
		limit int64
	}{
		{"left at zero", 0, BufferedRecordsPerPartition * parts},
		{"set", 20000, 20000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, hold := startHeld(t, parts, Config{MaxBufferedRecords: tc.set})
			var failed, acked atomic.Int64
			cb := func(_ *troupe.Record, err error) {
				if err != nil {
					failed.Add(1)
				}
				acked.Add(1)
			}
			ctx := context.Background()
			for range parts { // one record to every partition: each has its partition producer
				p.Produce(ctx, &troupe.Record{Topic: "t", Value: []byte("x")}, cb)
			}
			// The first records wait for the topic's metadata on the actor path: the
			// partitions come into being as they leave it.
			waitFor(t, "every partition's producer", func() bool { return len(p.accList()) == parts })
			if n, _ := p.BufferLimits(); int64(n) != tc.limit {
				t.Fatalf("the budget lets in %d records after %d partitions, want %d", n, parts, tc.limit)
			}
			// Fill the budget to its limit: nothing is acknowledged, so none of it comes
			// back, and Produce must not wait.
			short, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			for i := parts; i < int(tc.limit); i++ {
				p.Produce(short, &troupe.Record{Topic: "t", Value: []byte("x")}, cb)
				if n := failed.Load(); n > 0 {
					t.Fatalf("record %d of a budget of %d: %d refused", i+1, tc.limit, n)
				}
			}
			if held, _ := p.budget.held(); held != tc.limit || acked.Load() != 0 {
				t.Fatalf("the budget holds %d records (want %d), %d reported", held, tc.limit, acked.Load())
			}
			hold.release()
			if err := p.Flush(short); err != nil {
				t.Fatal(err)
			}
			if n, f := acked.Load(), failed.Load(); n != tc.limit || f != 0 {
				t.Fatalf("%d of %d records reported, %d failed", n, tc.limit, f)
			}
		})
	}
}

// acquireAsync asks b for n bytes (one record) on a goroutine of its own, which ends
// with the answer: the channel has room for it, so the goroutine never waits on it.
func acquireAsync(b *budget, ctx context.Context, n int64) <-chan error {
	got := make(chan error, 1)
	go func() {
		_, err := b.acquire(ctx, n)
		got <- err
	}()
	return got
}

// wantAcquired waits for an acquireAsync to succeed.
func wantAcquired(t *testing.T, got <-chan error, what string) {
	t.Helper()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("acquire %s: %v", what, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("acquire did not return %s", what)
	}
}
