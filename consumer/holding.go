package consumer

import (
	"container/heap"
	"time"
)

// holding is the set of subscriptions a dispatcher holds, sorted by what each waits for,
// so that a step looks only at those with something to do. A plain struct: no goroutines,
// no clock (the dispatcher passes the time in).
//
// Held subscriptions wait for one of five things: nothing (ready: looked at in the next
// step), a time (a backoff after a failure, in a heap by due time), the answer to a
// lookup (the dispatcher's waiting map, by ask ID: filed back as ready), a lookup of a
// kind already in flight to the same leader (blocked under its key: ready when that one
// ends, to go together in the next), or the user (paused or slow: looked at in every
// step, as Resume or a caught-up feeder wakes the dispatcher without saying which).
//
// Why: a Reader's dispatcher may hold thousands of subscriptions at once, after a broker
// failed or a fetch was refused, each waiting out its backoff. Looking at every one in
// every step, and a dispatcher steps for each message and each answer, cost most of a
// core at 10000 partitions (docs/benchmarks.md, "A fetch too large"), where only the few
// that came due had anything to do.
type holding struct {
	all     []*heldSub               // every one held, in no order (heldSub.at is its index)
	ready   []*heldSub               // to look at in the next step
	timers  dueHeap                  // waiting for their due time (and those let go of since: skipped)
	parked  []*heldSub               // waiting for their user
	blocked map[lookupKey][]*heldSub // waiting for a lookup in flight to end
}

// add holds h, to be looked at once due (h.due; at the next step if it is not after now).
func (hd *holding) add(h *heldSub, now time.Time) {
	h.at = len(hd.all)
	hd.all = append(hd.all, h)
	hd.wait(h, now)
}

// wait puts held h where it waits until h.due: ready if that is not after now.
func (hd *holding) wait(h *heldSub, now time.Time) {
	if h.due.After(now) {
		heap.Push(&hd.timers, h)
		return
	}
	hd.ready = append(hd.ready, h)
}

// park puts held h with those waiting for their user.
func (hd *holding) park(h *heldSub) { hd.parked = append(hd.parked, h) }

// block puts held h with those waiting for the lookup in flight under k.
func (hd *holding) block(k lookupKey, h *heldSub) {
	if hd.blocked == nil {
		hd.blocked = make(map[lookupKey][]*heldSub)
	}
	hd.blocked[k] = append(hd.blocked[k], h)
}

// unblock makes ready those blocked on the lookup under k, which has ended.
func (hd *holding) unblock(k lookupKey) {
	hs, ok := hd.blocked[k]
	if !ok {
		return
	}
	delete(hd.blocked, k)
	for _, h := range hs {
		if h.held() {
			hd.ready = append(hd.ready, h)
		}
	}
}

// answered makes held h ready: the answer it waited for came.
func (hd *holding) answered(h *heldSub) { hd.ready = append(hd.ready, h) }

// remove lets go of h: it is no longer held. Wherever it waited, it is skipped from now on.
func (hd *holding) remove(h *heldSub) {
	i := h.at
	if i < 0 {
		return
	}
	last := len(hd.all) - 1
	hd.all[i] = hd.all[last]
	hd.all[i].at = i
	hd.all[last] = nil
	hd.all = hd.all[:last]
	h.at = -1
	if len(hd.all) == 0 && cap(hd.all) > 64 {
		// A reader's thousands were subscribed: do not keep their room.
		hd.all = nil
		hd.timers = nil // only skipped entries are left in it
	}
}

// due moves to the ready list every held subscription that is due at now and every
// parked one, and returns the list: the step looks at each and puts it back where it
// waits (or removes it). The list is reused by the next call.
func (hd *holding) due(now time.Time) []*heldSub {
	for len(hd.timers) > 0 {
		h := hd.timers[0]
		if h.held() && h.due.After(now) {
			break
		}
		heap.Pop(&hd.timers)
		if h.held() {
			hd.ready = append(hd.ready, h)
		}
	}
	for _, h := range hd.parked {
		if h.held() {
			hd.ready = append(hd.ready, h)
		}
	}
	clear(hd.parked)
	hd.parked = hd.parked[:0]
	out := hd.ready
	hd.ready = nil
	return out
}

// recycle gives back the list due returned, once the step is done with it.
func (hd *holding) recycle(list []*heldSub) {
	clear(list)
	if hd.ready == nil && cap(list) <= 64 {
		hd.ready = list[:0]
	}
}

// next is when the earliest timer is due; zero if none is.
func (hd *holding) next() time.Time {
	for len(hd.timers) > 0 {
		if h := hd.timers[0]; h.held() {
			return h.due
		}
		heap.Pop(&hd.timers)
	}
	return time.Time{}
}

// dueHeap is a min-heap of held subscriptions by due time.
type dueHeap []*heldSub

func (q dueHeap) Len() int           { return len(q) }
func (q dueHeap) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q dueHeap) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueHeap) Push(x any)        { *q = append(*q, x.(*heldSub)) }
func (q *dueHeap) Pop() any {
	old := *q
	h := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return h
}
