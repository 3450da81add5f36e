package consumer

import "slices"

// readerBuffer is a Reader's buffer accounting and rotation: what its partitions' broker
// consumers have fetched and its user has not taken yet, queued per partition in order,
// the bytes all of it holds, and the order in which Poll visits the partitions. It is a
// plain deterministic struct — no goroutines, no clock, no I/O, no locking (the reader's
// mutex guards it) — tested on its own in readerbuf_test.go.
//
// The rules it implements:
//   - Per partition, results leave in the order they came (fetch results, error notices
//     and position marks alike).
//   - A position mark (a result without batches) that reaches the head of an empty queue
//     is applied at once; one queued behind other results waits for them, and so does
//     one pushed while results taken by a Poll are not yet delivered (see delivered).
//   - take visits the partitions with something to deliver in rotation: each call starts
//     one partition further round the ring (or, when the last one stopped at its limit,
//     where it stopped), and takes at most one result per partition, so a partition that
//     always has data cannot starve the others, whatever the limit.
//   - A result Poll took and could return only in part (Config.MaxPollRecords) comes back
//     to the head of its partition's queue (unshift): the rest of it leaves first.
//   - A paused partition keeps its queue and is skipped by take; a removed one's queue is
//     returned to the caller to release.
//   - bytes is the records bytes of every queued result: the reader fetches only while it
//     is below the reader's budget.
//
// Each partition's queue lives in its part (no map: at thousands of partitions, one entry
// each would cost more than the queues).
type readerBuffer struct {
	ring  []*part // partitions with something queued, in rotation order
	rot   int     // where the next take starts in ring
	bytes int64
}

// partQueue is one partition's queued results, in its part; the reader's mutex guards it.
type partQueue struct {
	items  []feedMsg
	taking int32 // results (other than marks) taken and not yet delivered
	live   bool  // added and not removed
	paused bool
	inRing bool
}

// taken is one result take hands out, with its partition.
type taken struct {
	p *part
	m feedMsg
}

func newReaderBuffer() readerBuffer { return readerBuffer{} }

// add starts a queue for p.
func (b *readerBuffer) add(p *part) { p.q = partQueue{live: true} }

// has reports whether p has a queue (was added and not removed).
func (b *readerBuffer) has(p *part) bool { return p.q.live }

// remove ends p's queue and returns what was queued, for the caller to release.
func (b *readerBuffer) remove(p *part) []feedMsg {
	q := &p.q
	if !q.live {
		return nil
	}
	q.live = false
	if q.inRing {
		q.inRing = false
		i := b.index(p)
		b.ring = append(b.ring[:i], b.ring[i+1:]...)
		if b.rot > i {
			b.rot--
		}
	}
	for _, m := range q.items {
		b.bytes -= resultBytes(m)
	}
	items := q.items
	q.items = nil
	return items
}

func (b *readerBuffer) index(p *part) int {
	for i, x := range b.ring {
		if x == p {
			return i
		}
	}
	return -1
}

// pushOutcome says what push did with a result.
type pushOutcome uint8

const (
	pushRefused pushOutcome = iota // p has no queue: the caller keeps the result
	pushQueued                     // queued for take
	pushMark                       // a position mark with nothing before it: the caller applies it now
)

// push queues m for p.
func (b *readerBuffer) push(p *part, m feedMsg) pushOutcome {
	q := &p.q
	if !q.live {
		return pushRefused
	}
	if len(q.items) == 0 && q.taking == 0 && isMark(m) {
		return pushMark
	}
	q.items = append(q.items, m)
	b.bytes += resultBytes(m)
	if !q.inRing {
		q.inRing = true
		b.ring = append(b.ring, p)
	}
	return pushQueued
}

// setPaused pauses or resumes p's queue; it reports whether p has one.
func (b *readerBuffer) setPaused(p *part, paused bool) bool {
	q := &p.q
	if !q.live {
		return false
	}
	q.paused = paused
	return true
}

// ready reports whether take would hand out anything.
func (b *readerBuffer) ready() bool {
	for _, p := range b.ring {
		if !p.q.paused {
			return true
		}
	}
	return false
}

// take appends to out, in rotation, at most one result (with the marks queued before
// it) from each partition that has one and is not paused, and returns out. With limit >
// 0 it stops once the results taken hold at least limit records, by their batches'
// record counts (an upper bound of what they decode to), a result counting at least one.
func (b *readerBuffer) take(out []taken, limit int) []taken {
	n := len(b.ring)
	if n == 0 {
		return out
	}
	start := b.rot % n
	b.rot = start + 1
	got := 0
	for k := range n {
		p := b.ring[(start+k)%n]
		q := &p.q
		if limit > 0 && got >= limit {
			b.rot = (start + k) % n // the next take goes on from here
			break
		}
		if q.paused {
			continue
		}
		for len(q.items) > 0 {
			m := q.items[0]
			q.items[0] = feedMsg{}
			q.items = q.items[1:]
			b.bytes -= resultBytes(m)
			out = append(out, taken{p: p, m: m})
			if !isMark(m) {
				q.taking++
				if limit > 0 {
					got += max(resultRecords(m), 1)
				}
				break
			}
		}
		if len(q.items) == 0 {
			q.items = nil
			q.inRing = false
		}
	}
	// Drop the emptied queues from the ring, keeping the rotation where it was.
	keep := b.ring[:0]
	rot := b.rot
	for i, p := range b.ring {
		if p.q.inRing {
			keep = append(keep, p)
		} else if i < b.rot {
			rot--
		}
	}
	clear(b.ring[len(keep):])
	b.ring, b.rot = keep, rot
	return out
}

// unshift puts m, the part of a result taken for p that Poll did not return, back at
// the head of p's queue, before anything pushed since; false if p has no queue (it was
// removed meanwhile: the caller drops m). The caller calls delivered for the result
// first: m is queued, no longer out.
func (b *readerBuffer) unshift(p *part, m feedMsg) bool {
	q := &p.q
	if !q.live {
		return false
	}
	q.items = slices.Insert(q.items, 0, m)
	b.bytes += resultBytes(m)
	if !q.inRing {
		q.inRing = true
		b.ring = append(b.ring, p)
	}
	return true
}

// delivered ends the count of a result take handed out for p (other than a mark): the
// caller delivered it, or dropped it. A mark pushed while results are out waits in the
// queue, so that the position it sets never comes before theirs.
func (b *readerBuffer) delivered(p *part) {
	if p.q.taking > 0 {
		p.q.taking--
	}
}

// isMark reports whether m only moves the position: a fetch result without batches.
func isMark(m feedMsg) bool {
	return m.fetched != nil && len(m.fetched.batches) == 0 && m.fetched.err == nil
}

// resultRecords is how many records m holds, at most: its batches' record counts (the
// first batch may start before the position), or the records left of a partial result.
func resultRecords(m feedMsg) int {
	switch {
	case m.rest != nil:
		return m.rest.records()
	case m.fetched != nil:
		return m.fetched.records()
	}
	return 0
}

// resultBytes is the records bytes m holds.
func resultBytes(m feedMsg) int64 {
	if m.rest != nil {
		return m.rest.bytes
	}
	if m.fetched == nil {
		return 0
	}
	var n int64
	for i := range m.fetched.batches {
		n += 12 + int64(m.fetched.batches[i].Length)
	}
	return n
}
