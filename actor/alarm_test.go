package actor_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// rang reports whether the alarm has rung, without waiting: call it after synctest.Wait.
func rang(a *actor.Alarm) bool {
	select {
	case <-a.C():
		return true
	default:
		return false
	}
}

// TestAlarmRingsOnceForTheTimeLastSet: under fake time, an alarm rings exactly at the time
// set; setting an earlier or later time moves it, with no stale ring for the time it
// replaced (even one that had come and was never received); setting the same time again
// does not move it, and rings again once that time has passed; the zero time and Stop disarm it (C is nil); a past time rings at
// once.
func TestAlarmRingsOnceForTheTimeLastSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var a actor.Alarm
		defer a.Stop()
		if a.C() != nil || !a.At().IsZero() {
			t.Fatal("the zero Alarm is armed")
		}
		start := time.Now()
		a.Set(start.Add(time.Second))
		time.Sleep(500 * time.Millisecond)
		a.Set(start.Add(time.Second)) // the same time: stays as it is
		at := <-a.C()
		if !at.Equal(start.Add(time.Second)) || !time.Now().Equal(start.Add(time.Second)) {
			t.Fatalf("rang at %v (now %v), want %v", at.Sub(start), time.Since(start), time.Second)
		}
		a.Set(at) // the time it rang for, set again: it has passed, so it rings again at once
		synctest.Wait()
		if !rang(&a) {
			t.Fatal("set again for a time that has passed, it did not ring")
		}

		// Come and not received: replaced by a later time, it must not ring before that.
		start = time.Now()
		a.Set(start.Add(time.Second))
		time.Sleep(2 * time.Second)
		a.Set(time.Now().Add(time.Second))
		synctest.Wait()
		if rang(&a) {
			t.Fatal("a stale ring for the time replaced")
		}
		<-a.C()
		if got := time.Since(start); got != 3*time.Second {
			t.Fatalf("rang after %v, want 3s", got)
		}

		// Moved earlier: rings at the earlier time.
		start = time.Now()
		a.Set(start.Add(time.Hour))
		a.Set(start.Add(time.Minute))
		<-a.C()
		if got := time.Since(start); got != time.Minute {
			t.Fatalf("moved earlier, rang after %v, want 1m", got)
		}

		// Disarmed: no channel, no ring.
		a.Set(time.Now().Add(time.Second))
		a.Set(time.Time{})
		if a.C() != nil {
			t.Fatal("disarmed by the zero time, C is not nil")
		}
		a.Set(time.Now().Add(time.Second))
		a.Stop()
		if a.C() != nil || !a.At().IsZero() {
			t.Fatal("stopped, the alarm is still armed")
		}
		time.Sleep(2 * time.Second)

		// A past time rings at once.
		start = time.Now()
		a.Set(start.Add(-time.Second))
		<-a.C()
		if time.Since(start) != 0 {
			t.Fatalf("a past time rang after %v", time.Since(start))
		}
	})
}

func TestEarlierTreatsZeroAsNothingDue(t *testing.T) {
	t0 := time.Unix(100, 0)
	t1 := t0.Add(time.Second)
	var zero time.Time
	for _, c := range []struct{ a, b, want time.Time }{
		{zero, zero, zero}, {zero, t1, t1}, {t1, zero, t1}, {t0, t1, t0}, {t1, t0, t0}, {t0, t0, t0},
	} {
		if got := actor.Earlier(c.a, c.b); !got.Equal(c.want) {
			t.Errorf("Earlier(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
