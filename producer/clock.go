package producer

import (
	"sync/atomic"
	"time"
)

// tick is the clock's resolution while records come fast: Kafka's timestamps are in
// milliseconds.
const tick = time.Millisecond

// clock reads the time for the direct path's intake times: where a record's delivery
// deadline counts from, and the timestamp of a record without one.
//
// One reading per record was 9–12% of a 6-partition run's CPU, even as one monotonic
// reading added to a wall-clock base (docs/benchmarks.md, "The producer's clock"). So
// while records come faster than one per tick, the clock hands every record of a tick the
// reading the tick began with, and a timer ends the tick: at most one reading of the
// system clock per millisecond, however many records. A record that comes less than a
// tick after the clock was last read starts a tick; slower records each read the clock
// (time.Now) and arm nothing, so an idle or slow producer pays no timer.
//
// A reading handed out is older than the moment it is asked for by at most a tick plus
// how late the runtime runs the timer (well under a millisecond on a machine with a free
// core, up to a scheduling quantum of 10 ms on a saturated one). Linger does not use it:
// a batch's linger counts from a reading taken when the batch opens (partAcc.add), so it
// is as exact as the lingerer's timer.
//
// The timer's function (run by the runtime in a goroutine of its own, owned by no actor:
// it only clears the tick) is the only writer besides now.
type clock struct {
	cur   atomic.Pointer[time.Time] // the reading of the tick under way; nil: none
	last  atomic.Int64              // when the clock was last read, as nanoseconds since epoch (monotonic)
	armed atomic.Bool               // the timer is set to end a tick
	epoch time.Time
	timer *time.Timer
}

func (c *clock) init() {
	c.epoch = time.Now()
	c.last.Store(-int64(tick)) // the first reading starts no tick
	c.timer = time.AfterFunc(time.Hour, c.endTick)
	c.timer.Stop()
}

// now returns the current time, with a monotonic reading, to within a tick while records
// come fast (above), and whether it read the clock for this call (exact) rather than
// handing out the reading of a tick. Any goroutine may call it.
func (c *clock) now() (now time.Time, exact bool) {
	if t := c.cur.Load(); t != nil {
		return *t, false
	}
	now = time.Now()
	at := int64(now.Sub(c.epoch))
	if prev := c.last.Swap(at); at-prev < int64(tick) { // two readings within a tick: records come fast
		t := now // a copy: &now would put every call's result on the heap
		c.cur.Store(&t)
		// Ordered against endTick, which clears armed before cur: a reading stored here
		// is either cleared by an endTick already due (CompareAndSwap fails: armed is
		// still set, so that endTick's clearing of cur comes after this store), or by the
		// timer armed here.
		if c.armed.CompareAndSwap(false, true) {
			c.timer.Reset(tick)
		}
	}
	return now, true
}

// endTick ends the tick under way: the next record reads the clock again.
func (c *clock) endTick() {
	c.armed.Store(false)
	c.cur.Store(nil)
}

// stop disarms the timer (Close): a producer that is gone leaves no timer behind.
func (c *clock) stop() {
	c.timer.Stop()
	c.endTick()
}
