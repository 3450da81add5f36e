package producer

import (
	"testing"
	"testing/synctest"
	"time"
)

// A retry time that has passed wakes nothing. A partition producer backs off after a
// failure by setting retryAt; once that time has passed, step sends, and what it waits
// for next (outcomes, a route, a producer ID) arrives as a message. Arming the timer for
// the past retry time made the loop wake at once, forever, whenever a batch was pending
// after the partition's first retry: a busy loop on a core, and under testing/synctest a
// bubble whose clock never advances (found by property_test's deterministic suite).
func TestArmIgnoresAPastRetryTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		pp := &partition{seq: newSequencer(true, 5)}
		pp.seq.setProducer(1, 0)
		pp.seq.seal(&batch{count: 1, deadline: now.Add(time.Hour).UnixNano()})
		pp.seq.ready(nil) // the batch is in flight: the partition waits for its outcome
		pp.retryAt = now.Add(-time.Second)

		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		pp.arm(timer, now)
		time.Sleep(time.Minute)
		select {
		case <-timer.C:
			t.Fatal("the timer fired for a retry time in the past")
		default:
		}

		// A retry time ahead is what the timer is for.
		pp.retryAt = time.Now().Add(time.Second)
		pp.arm(timer, time.Now())
		time.Sleep(time.Second)
		select {
		case <-timer.C:
		default:
			t.Fatal("the timer did not fire at the retry time")
		}
	})
}
