package producer

import (
	"container/heap"
	"context"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// hopCounts counts the hand-offs between the produce path's actors after the
// accumulator: wake-ups and messages of the drivers and the broker producers, requests
// and the batches they carry. They are what the choice between drivers and the
// broker-led ownership of issue 18 turns on, and BenchmarkHandOffs reports them per
// batch (docs/benchmarks.md). Each is added to once per wake-up or per request, never per
// record.
type hopCounts struct {
	driverWakes, driverMsgs atomic.Uint64 // drivers: wake-ups with messages, messages
	results                 atomic.Uint64 // results handed to drivers by the connections
	brokerWakes, brokerMsgs atomic.Uint64 // broker producers: wake-ups, messages (batches and finished notices)
	requests, sent          atomic.Uint64 // produce requests, and the batches in them
	// shrinks: idle drivers and broker producers that gave back room a burst grew (shrink)
	driverShrinks, brokerShrinks atomic.Uint64
}

// driveMsg is a message to one of the partitions a driver drives.
type driveMsg struct {
	pp *partition
	m  partMsg
}

// partDriver is the actor that runs the partition producers given to it: it takes their
// messages (pokes, results, answers) in one drain, steps each partition that got one,
// and keeps one timer for all of them (retry backoffs, delivery deadlines), with the
// partitions that have such a time in a heap. A
// partition needs state, not a goroutine of its own: at 3000 partitions, 3000 partition
// goroutines woke once per sealed batch each, and an idle producer kept 3000 goroutines and
// their stacks (docs/benchmarks.md). A driver's wake-up serves every partition that has
// something to do; one partition never blocks another (nothing in a step waits), so the
// isolation of partitions is kept.
//
// The producer starts a fixed number of drivers (GOMAXPROCS, at least 2) and gives each
// new partition to the next, round robin; a partition stays with its driver for the
// producer's life, so it never needs a hand-off. The first driver also runs the
// producer's lingerer.
//
// Owner: the producer's supervisor (a fixed set of drivers, started after the "brokers"
// supervisor and before the "topics" one). Its set of partitions belongs to its slot and
// survives a restart; the release hook of a failed incarnation reports everything its
// partitions held (not written, or maybe written if in flight), and the next incarnation
// steps them all afresh.
type partDriver struct {
	p   *Producer
	set *driven
	// lingers: this driver also seals the producer's lingering batches (lingerer), the
	// first driver of every producer.
	lingers bool
}

// driven is the set of partitions a driver drives, kept across its incarnations.
type driven struct {
	parts []*partition
	in    *actor.Inbox[driveMsg] // the current incarnation's, for the release hook
	// scratch is its partitions' scratch slice (partition.buf): a driver steps one
	// partition at a time, and its release hook runs once it has stopped.
	scratch []*batch
}

// wakeHeap orders the partitions that have a time to be stepped at (wakeAt) by that
// time; each partition is in it at most once (wakeIdx), so it holds no more entries than
// the driver has partitions.
type wakeHeap []*partition

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].wakeAt.Before(h[j].wakeAt) }
func (h wakeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].wakeIdx, h[j].wakeIdx = i, j
}
func (h *wakeHeap) Push(x any) {
	pp := x.(*partition)
	pp.wakeIdx = len(*h)
	*h = append(*h, pp)
}
func (h *wakeHeap) Pop() any {
	old := *h
	pp := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	pp.wakeIdx = -1
	return pp
}

// schedule sets when pp must be stepped next (zero: only when a message comes).
func (h *wakeHeap) schedule(pp *partition, at time.Time) {
	if at.Equal(pp.wakeAt) && (pp.wakeIdx >= 0) == !at.IsZero() {
		return
	}
	pp.wakeAt = at
	switch {
	case at.IsZero():
		if pp.wakeIdx >= 0 {
			heap.Remove(h, pp.wakeIdx)
		}
	case pp.wakeIdx >= 0:
		heap.Fix(h, pp.wakeIdx)
	default:
		heap.Push(h, pp)
	}
}

func (d *partDriver) Run(ctx context.Context, in *actor.Inbox[driveMsg]) error {
	d.set.in = in
	var dirty []*partition
	for _, pp := range d.set.parts { // a new incarnation: everyone is stepped afresh
		pp.owner, pp.scratch = in.Owner(), &d.set.scratch
		pp.wakeAt, pp.wakeIdx = time.Time{}, -1
		pp.dirty = true
		dirty = append(dirty, pp)
	}
	var wakes wakeHeap
	var alarm actor.Alarm // the earliest partition's time in wakes
	defer alarm.Stop()
	var msgs []driveMsg
	var lingerWake <-chan struct{} // nil unless this driver lingers: never ready
	var lg *lingerer
	if d.lingers {
		lg = &lingerer{q: d.p.linger}
		defer lg.alarm.Stop()
		lingerWake = lg.wake()
		lg.seal(time.Now()) // a wake-up an earlier incarnation took may have left some due
	}
	busy := 0 // partitions whose sequencers hold batches (partition.busy)
	for _, pp := range d.set.parts {
		pp.busy = false
	}
	for {
		now := time.Now()
		for _, pp := range dirty {
			pp.dirty = false
			pp.step(now)
			wakes.schedule(pp, pp.next(now))
			if b := pp.seq.pending(); b != pp.busy {
				pp.busy = b
				if b {
					busy++
				} else {
					busy--
				}
			}
		}
		clear(dirty)
		dirty = dirty[:0]
		if busy == 0 && len(wakes) == 0 {
			// Idle: nothing held, nothing due. Give back what a burst grew.
			msgs, dirty, wakes = d.shrink(in, msgs, dirty, wakes)
			if lg != nil && lg.shrink() {
				d.p.hops.driverShrinks.Add(1)
			}
		}
		var at time.Time
		if len(wakes) > 0 {
			at = wakes[0].wakeAt
		}
		alarm.Set(at)
		var lingerAlarm <-chan time.Time
		if lg != nil {
			lingerAlarm = lg.alarm.C()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-lingerWake:
			lg.seal(time.Now())
		case <-lingerAlarm:
			lg.seal(time.Now())
		case <-alarm.C():
			now = time.Now()
			for len(wakes) > 0 && !wakes[0].wakeAt.After(now) {
				pp := heap.Pop(&wakes).(*partition)
				pp.wakeAt = time.Time{}
				if !pp.dirty {
					pp.dirty = true
					dirty = append(dirty, pp)
				}
			}
		case <-in.Ready():
			var closed bool
			msgs, closed = in.Drain(msgs[:0])
			d.p.hops.driverWakes.Add(1)
			d.p.hops.driverMsgs.Add(uint64(len(msgs)))
			now = time.Now()
			for i := range msgs {
				pp := msgs[i].pp
				if !pp.driven { // a new partition
					pp.driven = true
					pp.owner, pp.scratch = in.Owner(), &d.set.scratch
					d.set.parts = append(d.set.parts, pp)
				}
				pp.handle(&msgs[i].m, now)
				if !pp.dirty {
					pp.dirty = true
					dirty = append(dirty, pp)
				}
			}
			clear(msgs)
			if closed {
				// A drain stop comes after Flush has seen every record reported; anything
				// still here has nowhere to go.
				for _, pp := range d.set.parts {
					pp.abandon(errProducerClosed)
				}
				return nil
			}
		}
	}
}

// keepScratch is the most entries an idle driver keeps in each of its reused slices: a
// driver of a few partitions never reallocates them, one that a burst over 3000
// partitions grew to thousands gives them back once every partition it drives is idle.
const keepScratch = 64

// shrink gives back the driver's reused slices, and its mailbox's ring, when a burst grew
// them past keepScratch. The driver calls it once all its partitions are idle (nothing in
// their sequencers, nothing due): then no batch waits for an outcome, so it runs at most
// once per burst, and a busy driver never pays it.
func (d *partDriver) shrink(in *actor.Inbox[driveMsg], msgs []driveMsg, dirty []*partition, wakes wakeHeap) ([]driveMsg, []*partition, wakeHeap) {
	shrunk := false
	if cap(msgs) > keepScratch {
		msgs, shrunk = nil, true
		in.Compact() // it held about as many as the largest drain
	}
	if cap(dirty) > keepScratch {
		dirty, shrunk = nil, true
	}
	if cap(wakes) > keepScratch {
		wakes, shrunk = nil, true // empty: the caller shrinks only when nothing is due
	}
	if cap(d.set.scratch) > keepScratch {
		d.set.scratch, shrunk = nil, true
	}
	if shrunk {
		d.p.hops.driverShrinks.Add(1)
	}
	return msgs, dirty, wakes
}

// releaseDriver is the supervisor's release hook: a driver that failed, or was stopped,
// reports everything its partitions still hold.
func releaseDriver(a actor.Actor[driveMsg], err error) {
	d := a.(*partDriver)
	if d.set.in == nil {
		return
	}
	cause := err
	if cause == nil {
		cause = errProducerClosed
	}
	for _, pp := range d.set.parts {
		pp.abandon(cause)
	}
}
