package producer

import (
	"sync"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// lingerQueue holds the linger deadlines of open batches, oldest first. Every partition
// lingers for the same Config.Linger from its open batch's first record, so deadlines
// arrive in the order batches open: a FIFO is the heap here. (Two callers opening
// batches at the same moment may push them a few microseconds out of order; the later
// one is then sealed that much late.)
//
// Whoever opens a batch pushes its deadline; the lingerer is woken only when the queue
// goes from empty to not empty (its timer covers the rest), so lingering costs one
// wake-up per linger period, not one per batch, and an idle producer none at all. A
// batch sealed before its deadline (full, a Flush, the budget spent) leaves a stale entry,
// which the lingerer skips. Entries are bounded by the budget: at most one per open batch,
// and a batch holds at least one record.
type lingerQueue struct {
	mu   sync.Mutex
	q    []lingerEntry // a ring: q[head], then on, len n
	head int
	n    int
	wake chan struct{} // room for one: the queue was empty and has an entry now
}

// lingerEntry is the deadline of one open batch: batch number open of pa.
type lingerEntry struct {
	due  time.Time
	pa   *partAcc
	open uint64
}

func newLingerQueue() *lingerQueue { return &lingerQueue{wake: make(chan struct{}, 1)} }

// push adds e at the tail.
func (lq *lingerQueue) push(e lingerEntry) {
	lq.mu.Lock()
	if lq.n == len(lq.q) {
		grown := make([]lingerEntry, max(16, 2*len(lq.q)))
		for i := 0; i < lq.n; i++ {
			grown[i] = lq.q[(lq.head+i)%len(lq.q)]
		}
		lq.q, lq.head = grown, 0
	}
	lq.q[(lq.head+lq.n)%len(lq.q)] = e
	lq.n++
	first := lq.n == 1
	lq.mu.Unlock()
	if first {
		select {
		case lq.wake <- struct{}{}:
		default:
		}
	}
}

// due appends to dst the entries due at now, removing them, and returns dst and the
// deadline of the next entry (zero if none).
func (lq *lingerQueue) due(now time.Time, dst []lingerEntry) ([]lingerEntry, time.Time) {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	for lq.n > 0 {
		e := &lq.q[lq.head]
		if e.due.After(now) {
			return dst, e.due
		}
		dst = append(dst, *e)
		*e = lingerEntry{}
		lq.head = (lq.head + 1) % len(lq.q)
		lq.n--
	}
	return dst, time.Time{}
}

// shrink lets go of a ring grown past shrinkAbove if the queue is empty (no batch is
// open), and reports whether it did: a ring grown for thousands of partitions is not kept
// for an idle producer; the next burst grows a new one. It is the first driver's to call
// when its partitions are idle, not the lingerer's whenever it empties the queue: under
// load at 10000 partitions the queue empties between linger periods, and letting the ring
// go each time made the lingerer regrow it, some 35 bytes of garbage per record.
func (lq *lingerQueue) shrink() bool {
	lq.mu.Lock()
	defer lq.mu.Unlock()
	if lq.n > 0 || len(lq.q) <= shrinkAbove {
		return false
	}
	lq.q, lq.head = nil, 0
	return true
}

// shrinkAbove is the size above which the linger queue's ring, and the lingerer's list
// of due entries, are let go when the first driver is idle.
const shrinkAbove = 256

// lingerer seals open batches whose linger has passed: it sleeps until the oldest
// deadline in the producer's linger queue, seals the batches due (each in its partition's
// accumulator, which pokes the partition producer), and sleeps again. It holds no batch
// and no record (the queue belongs to the producer), so it is not an actor of its own:
// the first driver runs it beside its partitions (partDriver.lingers), one goroutine fewer
// for a duty that owns nothing and wakes once per linger period at most.
type lingerer struct {
	q     *lingerQueue
	alarm actor.Alarm // the oldest deadline in the queue
	due   []lingerEntry
}

// wake is the channel that says the queue has an entry again; the alarm covers the rest.
func (l *lingerer) wake() <-chan struct{} { return l.q.wake }

// seal seals what is due at now and sets the alarm for the next deadline (none when the
// queue is empty: the next push wakes the lingerer).
func (l *lingerer) seal(now time.Time) {
	var next time.Time
	l.due, next = l.q.due(now, l.due[:0])
	for i := range l.due {
		l.due[i].pa.sealLingered(l.due[i].open, now)
	}
	clear(l.due)
	l.alarm.Set(next)
}

// shrink gives back the room a burst grew, in the queue and in the list of due entries;
// the first driver calls it when its partitions are idle (lingerQueue.shrink).
func (l *lingerer) shrink() bool {
	shrunk := l.q.shrink()
	if cap(l.due) > shrinkAbove {
		l.due, shrunk = nil, true
	}
	return shrunk
}
