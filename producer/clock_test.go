package producer

import (
	"testing"
	"time"
)

// The direct path's clock tells the time as time.Now does (within the slew of a second,
// allowed 1ms here), never goes backwards, and takes a new base once its base is a second
// old.
func TestClockFollowsTimeNow(t *testing.T) {
	var c clock
	c.init()
	prev := c.now()
	for range 1000 {
		before := time.Now()
		got := c.now()
		after := time.Now()
		if got.Before(before.Add(-time.Millisecond)) || got.After(after.Add(time.Millisecond)) {
			t.Fatalf("clock says %v, time.Now %v to %v", got, before, after)
		}
		if got.Before(prev) {
			t.Fatalf("the clock went back from %v to %v", prev, got)
		}
		prev = got
	}
	old := time.Now().Add(-2 * time.Second)
	c.base.Store(&old)
	if now := c.now(); now.Sub(old) < 2*time.Second || c.base.Load() == &old {
		t.Fatalf("a base two seconds old was kept: now %v", now.Sub(old))
	}
}
