package producer

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// A Flush on an idle producer marks a new generation while the oldest one is empty. The
// next Flush must still wait for the records accepted in between: waitFor took an empty
// head generation to mean that nothing older than the mark was outstanding, so Flush, and
// Close, returned at once and Close failed records it had time to deliver (found by
// property_test's deterministic suite).
func TestFlushWaitsAfterAFlushOfAnIdleProducer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBudget(10, 1<<20)
		if err := b.waitFor(context.Background(), b.mark()); err != nil {
			t.Fatalf("a flush with nothing outstanding: %v", err)
		}
		gen, err := b.acquire(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		mark := b.mark()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := b.waitFor(ctx, mark); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a flush with a record outstanding returned %v", err)
		}
		b.release([]Pending{{size: 1, gen: gen}})
		if err := b.waitFor(context.Background(), mark); err != nil {
			t.Fatalf("after the record's outcome: %v", err)
		}
	})
}
