package producer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// A budget that grows lets in the Produce that waited for room, and never shrinks.
func TestBudgetGrowWakesAWaiter(t *testing.T) {
	b := newBudget(1, 1000)
	ctx := context.Background()
	if _, err := b.acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := b.acquire(ctx, 10)
		got <- err
	}()
	waitFor(t, "the second acquire to wait", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.wake != nil
	})
	b.grow(2)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("acquire did not get the room the budget grew by")
	}
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
			c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(parts, "t"))
			p, err := New(Config{Seeds: seeds, MaxBufferedRecords: tc.set, MaxInflightRequests: 1,
				Partitioner: RoundRobinPartitioner()})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			hold := holdFirstProduce(c)
			defer hold.release() // before Close, on a failure's early return
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
