package producer

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Slow records each read the clock; fast ones share the reading of a tick, which ends a
// tick later: the next record reads the clock again. A stopped clock leaves no tick.
func TestClockTicksOnlyWhileRecordsComeFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c clock
		c.init()
		for i := range 3 { // a record every two ticks: each reads the clock
			got, exact := c.now()
			if !exact || !got.Equal(time.Now()) {
				t.Fatalf("slow record %d: got %v (exact %v), the time is %v", i, got, exact, time.Now())
			}
			time.Sleep(2 * tick)
			synctest.Wait()
			if c.armed.Load() {
				t.Fatalf("slow record %d armed the timer", i)
			}
		}
		first, _ := c.now()
		time.Sleep(tick / 4)
		second, exact := c.now() // a quarter tick after the last reading: a tick starts
		if !exact || !second.Equal(first.Add(tick/4)) {
			t.Fatalf("the reading that starts a tick: %v (exact %v), want %v", second, exact, first.Add(tick/4))
		}
		for i := range 3 {
			time.Sleep(tick / 4)
			got, exact := c.now()
			if exact || !got.Equal(second) {
				t.Fatalf("record %d of the tick: got %v (exact %v), want the tick's reading %v", i, got, exact, second)
			}
		}
		time.Sleep(tick / 4) // the tick ends
		synctest.Wait()
		got, exact := c.now()
		if !exact || !got.Equal(time.Now()) {
			t.Fatalf("after the tick: got %v (exact %v), the time is %v", got, exact, time.Now())
		}
		if !got.After(second) {
			t.Fatalf("the clock went back from %v to %v", second, got)
		}
		c.now() // a new tick
		if c.cur.Load() == nil || !c.armed.Load() {
			t.Fatal("two readings at once started no tick")
		}
		c.stop()
		if c.cur.Load() != nil || c.armed.Load() {
			t.Fatal("a stopped clock kept its tick")
		}
		if _, exact := c.now(); !exact {
			t.Fatal("a stopped clock handed out a tick's reading")
		}
	})
}

// Callers racing the timer that ends a tick never get a reading older than a tick, and
// once the callers stop, the tick ends: no reading is left behind for good (the order of
// endTick's two stores against now's). Callers wake at the instant the timer fires, so
// under the bubble's clock they run alongside endTick.
func TestClockTickNeverOutlivesItsTimer(t *testing.T) {
	for round := range 50 {
		synctest.Test(t, func(t *testing.T) {
			var c clock
			c.init()
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 40 {
						for range 1 + (g+i)%3 {
							got, _ := c.now()
							if age := time.Since(got); age > tick {
								t.Errorf("round %d: a reading %v old", round, age)
								return
							}
						}
						time.Sleep(tick / time.Duration(1+g%2))
					}
				})
			}
			wg.Wait()
			time.Sleep(2 * tick)
			synctest.Wait()
			if c.cur.Load() != nil {
				t.Fatalf("round %d: a tick outlived its timer (armed %v)", round, c.armed.Load())
			}
		})
	}
}

// Outside a bubble: under -race, callers on every core get readings within a tick of
// time.Now's (plus how late the runtime ran the timer, allowed a second here).
func TestClockFollowsTimeNow(t *testing.T) {
	var c clock
	c.init()
	defer c.stop()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20000 {
				before := time.Now()
				got, _ := c.now()
				after := time.Now()
				if got.Before(before.Add(-time.Second)) || got.After(after) {
					t.Errorf("clock says %v, time.Now %v to %v", got, before, after)
					return
				}
			}
		})
	}
	wg.Wait()
}
