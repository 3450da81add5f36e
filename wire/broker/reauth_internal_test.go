package broker

import (
	"testing"
	"time"
)

// TestReauthAtWithinKIP368Window: re-authentication is scheduled between 85% and 95% of
// the session's lifetime, spread over that window, and never for a session without one.
func TestReauthAtWithinKIP368Window(t *testing.T) {
	start := time.Unix(1000, 0)
	const lifetime = 100 * time.Second
	lo, hi := start.Add(85*time.Second), start.Add(95*time.Second)
	first, last := hi, lo
	for range 1000 {
		at := reauthAt(start, lifetime)
		if at.Before(lo) || at.After(hi) {
			t.Fatalf("re-authentication at %v, outside [%v, %v]", at.Sub(start), lo.Sub(start), hi.Sub(start))
		}
		first, last = minTime(first, at), maxTime(last, at)
	}
	if last.Sub(first) < 5*time.Second {
		t.Fatalf("1000 schedules all within %v: not spread over the window", last.Sub(first))
	}
	if at := reauthAt(start, 0); !at.IsZero() {
		t.Fatalf("no lifetime scheduled a re-authentication at %v", at)
	}
	if at := reauthAt(start, time.Duration(maxLifetimeMs)*time.Millisecond); !at.After(start) {
		t.Fatalf("the longest lifetime scheduled %v", at)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
