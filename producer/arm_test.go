package producer

import (
	"testing"
	"time"
)

// A retry time that has passed wakes nothing. A partition producer backs off after a
// failure by setting retryAt; once that time has passed, step sends, and what it waits
// for next (outcomes, a route, a producer ID) arrives as a message. Arming the timer for
// the past retry time made the loop wake at once, forever, whenever a batch was pending
// after the partition's first retry: a busy loop on a core, and under testing/synctest a
// bubble whose clock never advances (found by property_test's deterministic suite).
func TestNextIgnoresAPastRetryTime(t *testing.T) {
	now := time.Now()
	deadline := now.Add(time.Hour)
	pp := &partition{seq: newSequencer(true, 5)}
	pp.seq.setProducer(1, 0)
	pp.seq.seal(&batch{count: 1, deadline: deadline.UnixNano()})
	pp.seq.ready(nil) // the batch is in flight: the partition waits for its outcome
	pp.retryAt = now.Add(-time.Second)
	if next := pp.next(now); !next.IsZero() {
		t.Fatalf("a partition waiting for an outcome, its retry time past, is due at %v", next.Sub(now))
	}
	// A retry time ahead is what the driver's timer is for.
	pp.retryAt = now.Add(time.Second)
	if next := pp.next(now); !next.Equal(pp.retryAt) {
		t.Fatalf("due at %v, want the retry time, 1s", next.Sub(now))
	}
	// A batch not in flight expires at its delivery deadline, if that comes first.
	pp.retryAt = now.Add(2 * time.Hour)
	pp.seq.resolve(pp.seq.q[0], notAppended)
	if next := pp.next(now); !next.Equal(time.Unix(0, deadline.UnixNano())) {
		t.Fatalf("due at %v, want the delivery deadline, 1h", next.Sub(now))
	}
}
