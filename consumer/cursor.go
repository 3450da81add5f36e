package consumer

import (
	"cmp"
	"slices"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/record"
)

// cursor is one partition's fetch-offset bookkeeping: where the next fetch starts, the
// leader epoch of what was fetched last (for KIP-320 truncation checks), the partition's
// fetch size, and the log bounds the last fetch reported. It is a plain deterministic
// struct — no goroutines, clock or I/O — owned by whichever actor owns the partition's
// subscription; cursor_test.go drives it exhaustively.
//
// The rules it implements:
//   - A fetch from offset `from` may return batches that start before it (a broker
//     returns whole batches, and compressed ones cannot be split): records below `from`
//     are skipped, and batches entirely below it are dropped.
//   - The next fetch starts after the last whole batch: its base offset + last offset
//     delta + 1. Control batches and batches emptied by compaction advance it like any
//     other but deliver nothing.
//   - A batch cut at the fetch size limit is not an error: the next fetch starts at it.
//     When a fetch made no progress because the batch at the position was cut, the
//     partition's fetch size is raised to the batch's declared size, and at least
//     doubled (bounded by the response limit); once a fetch makes progress again, it
//     returns to the configured size.
//   - Under ReadCommitted the broker returns the log only up to the last stable offset,
//     with the transactions aborted in the range it returned (txnFilter): their data
//     batches advance the position but deliver nothing.
type cursor struct {
	next      int64 // offset the next fetch starts at
	lastEpoch int32 // leader epoch of the last batch fetched, or of the position; -1 unknown

	maxBytes int32 // the partition's fetch size for the next request
	base     int32 // the configured per-partition fetch size
	ceiling  int32 // the most maxBytes grows to (the response limit)

	hwm      int64 // high-water mark from the last fetch response; -1 unknown
	lso      int64 // last stable offset; -1 unknown
	logStart int64 // log start offset; -1 unknown

	readCommitted bool       // skip the data of aborted transactions
	txns          *txnFilter // per fetch, under readCommitted (nil otherwise); kept for its storage
}

// newCursor returns a cursor at offset 0 with fetch size base, growing up to ceiling.
func newCursor(base, ceiling int32) cursor {
	return cursor{lastEpoch: -1, maxBytes: base, base: base, ceiling: max(ceiling, base), hwm: -1, lso: -1, logStart: -1}
}

// seek moves the position to offset, fetched (or listed) under leader epoch epoch (-1
// if unknown): the start, a reset, or a truncation.
func (c *cursor) seek(offset int64, epoch int32) {
	c.next, c.lastEpoch = offset, epoch
	c.maxBytes = c.base
}

// partitionFetch is what one fetch response said about one partition, without an
// error: its log bounds (-1 where the response version has none) and the whole batches
// the records bytes held, in order (only their headers are read here), and the cut batch
// after them, if any.
type partitionFetch struct {
	hwm, lso, logStart int64
	batches            []record.Batch
	tail               record.Tail
	// aborted lists the aborted transactions overlapping the batches (ReadCommitted
	// fetches only), in any order; apply may reorder it.
	aborted []api.FetchResponseAbortedTransaction
}

// step is what the cursor made of one partitionFetch.
type step struct {
	// deliver holds the batches with records to hand to the user, in order: data batches
	// reaching at or beyond from. It reuses the partitionFetch's slice.
	deliver []record.Batch
	// from is the position the fetch started at: records below it are skipped.
	from int64
	// moved reports that the position advanced.
	moved bool
	// grew reports that the partition's fetch size was raised because its first batch
	// did not fit.
	grew bool
}

// apply updates the cursor with one fetch result for a fetch that started at c.next, and
// says what to deliver. It reorders nothing and trusts nothing: batches that end at or
// before the position (a repeated or stale batch) are dropped, so nothing is delivered
// twice whatever a broker returns.
func (c *cursor) apply(f partitionFetch) step {
	s := step{from: c.next}
	if f.hwm >= 0 {
		c.hwm = f.hwm
	}
	if f.lso >= 0 {
		c.lso = f.lso
	}
	if f.logStart >= 0 {
		c.logStart = f.logStart
	}
	if c.readCommitted {
		if c.txns == nil {
			c.txns = new(txnFilter)
		}
		c.txns.reset(f.aborted)
	}
	out := f.batches[:0]
	for i := range f.batches {
		b := &f.batches[i]
		aborted := c.readCommitted && c.txns.skip(b) // every batch, in order: it tracks markers
		end := b.NextOffset()
		if end <= c.next {
			continue // wholly below the position
		}
		c.next = end
		if b.LeaderEpoch >= 0 {
			c.lastEpoch = b.LeaderEpoch
		}
		s.moved = true
		if b.Attributes.Control() || b.NumRecords == 0 && b.Magic == 2 || aborted {
			// A transaction marker, emptied by compaction, or written by a transaction
			// that was aborted: nothing to deliver.
			continue
		}
		out = append(out, *b)
	}
	if c.txns != nil {
		c.txns.pending = nil // the response's list: not kept past this fetch
	}
	s.deliver = out
	switch {
	case s.moved:
		c.maxBytes = c.base
	case f.tail.Truncated():
		s.grew = c.grow(f.tail.Need)
	}
	return s
}

// txnFilter finds, in one ReadCommitted fetch result, the batches written by aborted
// transactions, as Kafka's own consumer does. The broker lists each aborted transaction
// that overlaps the batches it returned: its producer and first offset. Walking the
// batches in offset order, a producer becomes aborted when the walk reaches its aborted
// transaction's first offset, and stops being aborted at its next marker (the ABORT that
// ends that transaction); in between, its transactional batches are skipped. A
// producer's transactions never overlap, so this needs no state across fetches: a later
// fetch lists the transaction again if its marker comes later still.
type txnFilter struct {
	pending []api.FetchResponseAbortedTransaction // by first offset, not yet reached
	active  []int64                               // producers inside an aborted transaction
}

// reset starts the filter over for one fetch result's batches.
func (t *txnFilter) reset(aborted []api.FetchResponseAbortedTransaction) {
	slices.SortFunc(aborted, func(a, b api.FetchResponseAbortedTransaction) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
	t.pending = aborted
	t.active = t.active[:0]
}

// skip reports whether b, the next batch in offset order, holds records of an aborted
// transaction. A marker is never data, and it ends its producer's transaction: after
// an aborted transaction's first offset, the producer's next marker is that
// transaction's ABORT (its previous transaction's marker came before the first offset),
// so the marker's key need not be read.
func (t *txnFilter) skip(b *record.Batch) bool {
	if b.ProducerID < 0 {
		return false
	}
	last := b.NextOffset() - 1
	for len(t.pending) > 0 && t.pending[0].FirstOffset <= last {
		if pid := t.pending[0].ProducerID; !slices.Contains(t.active, pid) {
			t.active = append(t.active, pid)
		}
		t.pending = t.pending[1:]
	}
	if b.Attributes.Control() {
		if i := slices.Index(t.active, b.ProducerID); i >= 0 {
			t.active = slices.Delete(t.active, i, i+1)
		}
		return false
	}
	return b.Attributes.Transactional() && slices.Contains(t.active, b.ProducerID)
}

// grow raises the fetch size after a fetch that made no progress because the batch at
// the position was cut: to the batch's declared size need, and at least double, within
// the ceiling. It reports whether the size changed. A batch larger than the ceiling still
// arrives: a broker returns the first batch of the first partition with data whole
// whatever the limits (KIP-74), and the broker consumer rotates which partition comes
// first.
func (c *cursor) grow(need int) bool {
	want := max(int64(need), 2*int64(c.maxBytes))
	next := int32(min(want, int64(c.ceiling)))
	if next <= c.maxBytes {
		return false
	}
	c.maxBytes = next
	return true
}

// lag is the high-water mark minus position, or -1 while the high-water mark is unknown.
func lag(hwm, position int64) int64 {
	if hwm < 0 || position < 0 {
		return -1
	}
	return max(hwm-position, 0)
}
