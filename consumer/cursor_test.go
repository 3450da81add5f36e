package consumer

import (
	"slices"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/record"
	"pgregory.net/rapid"
)

// hb builds the header of a v2 batch: base offset, last offset delta, record count,
// leader epoch.
func hb(base int64, lastDelta, n, epoch int32) record.Batch {
	return record.Batch{BaseOffset: base, LastOffsetDelta: lastDelta, NumRecords: n, LeaderEpoch: epoch, Magic: 2}
}

func control(b record.Batch) record.Batch {
	b.Attributes |= record.AttrControl | record.AttrTransactional
	return b
}

func bases(bs []record.Batch) []int64 {
	out := make([]int64, len(bs))
	for i := range bs {
		out[i] = bs[i].BaseOffset
	}
	return out
}

func TestCursorApply(t *testing.T) {
	cases := []struct {
		name     string
		start    int64
		epoch    int32
		maxBytes int32 // before the fetch; 0 means the base, 100
		fetch    partitionFetch
		deliver  []int64 // base offsets of the batches to deliver
		next     int64
		last     int32
		moved    bool
		grew     bool
		after    int32 // maxBytes after
	}{
		{
			name:    "whole batches from the start",
			start:   0,
			fetch:   partitionFetch{batches: []record.Batch{hb(0, 4, 5, 1), hb(5, 4, 5, 1)}},
			deliver: []int64{0, 5}, next: 10, last: 1, moved: true, after: 100,
		},
		{
			name:    "a batch starting below the position is delivered for its records at or above it",
			start:   3,
			fetch:   partitionFetch{batches: []record.Batch{hb(0, 4, 5, 1), hb(5, 4, 5, 2)}},
			deliver: []int64{0, 5}, next: 10, last: 2, moved: true, after: 100,
		},
		{
			name:    "a batch wholly below the position is dropped",
			start:   5,
			fetch:   partitionFetch{batches: []record.Batch{hb(0, 4, 5, 1), hb(5, 0, 1, 1)}},
			deliver: []int64{5}, next: 6, last: 1, moved: true, after: 100,
		},
		{
			name:    "a control batch advances the position and delivers nothing",
			start:   0,
			fetch:   partitionFetch{batches: []record.Batch{hb(0, 2, 3, 1), control(hb(3, 0, 1, 1)), hb(4, 0, 1, 1)}},
			deliver: []int64{0, 4}, next: 5, last: 1, moved: true, after: 100,
		},
		{
			name:    "only a control batch",
			start:   7,
			epoch:   3,
			fetch:   partitionFetch{batches: []record.Batch{control(hb(7, 0, 1, 4))}},
			deliver: []int64{}, next: 8, last: 4, moved: true, after: 100,
		},
		{
			name:    "a batch emptied by compaction advances the position by its last offset delta",
			start:   10,
			fetch:   partitionFetch{batches: []record.Batch{hb(10, 9, 0, 1), hb(25, 3, 2, 1)}},
			deliver: []int64{25}, next: 29, last: 1, moved: true, after: 100,
		},
		{
			name:    "a gap between batches (compaction, transactions) is skipped",
			start:   0,
			fetch:   partitionFetch{batches: []record.Batch{hb(0, 0, 1, 1), hb(40, 1, 2, 1)}},
			deliver: []int64{0, 40}, next: 42, last: 1, moved: true, after: 100,
		},
		{
			name:     "a cut batch after whole ones: fetch it next, no growth",
			start:    0,
			maxBytes: 400,
			fetch:    partitionFetch{batches: []record.Batch{hb(0, 4, 5, 1)}, tail: record.Tail{Have: 30, Need: 500}},
			deliver:  []int64{0}, next: 5, last: 1, moved: true, after: 100,
		},
		{
			name:    "a first batch cut: grow to its size",
			start:   0,
			epoch:   -1,
			fetch:   partitionFetch{tail: record.Tail{Have: 100, Need: 700, First: true}},
			deliver: []int64{}, next: 0, last: -1, grew: true, after: 700,
		},
		{
			name:    "a first batch cut beyond the ceiling: grow to the ceiling",
			start:   0,
			epoch:   -1,
			fetch:   partitionFetch{tail: record.Tail{Have: 100, Need: 5000, First: true}},
			deliver: []int64{}, next: 0, last: -1, grew: true, after: 1000,
		},
		{
			name:     "at the ceiling there is nothing left to grow",
			start:    0,
			epoch:    -1,
			maxBytes: 1000,
			fetch:    partitionFetch{tail: record.Tail{Have: 1000, Need: 5000, First: true}},
			deliver:  []int64{}, next: 0, last: -1, after: 1000,
		},
		{
			name:    "a cut batch whose size is unknown (under 12 bytes): double",
			start:   0,
			epoch:   -1,
			fetch:   partitionFetch{tail: record.Tail{Have: 8, First: true}},
			deliver: []int64{}, next: 0, last: -1, grew: true, after: 200,
		},
		{
			name:    "a cut batch that would fit (the response limit cut it): still at least double",
			start:   0,
			epoch:   -1,
			fetch:   partitionFetch{tail: record.Tail{Have: 10, Need: 60, First: true}},
			deliver: []int64{}, next: 0, last: -1, grew: true, after: 200,
		},
		{
			name:     "progress returns a grown size to the base",
			start:    0,
			maxBytes: 900,
			fetch:    partitionFetch{batches: []record.Batch{hb(0, 0, 1, 2)}},
			deliver:  []int64{0}, next: 1, last: 2, moved: true, after: 100,
		},
		{
			name:    "nothing new",
			start:   42,
			epoch:   5,
			fetch:   partitionFetch{},
			deliver: []int64{}, next: 42, last: 5, after: 100,
		},
		{
			name:    "a batch without a leader epoch keeps the last one",
			start:   0,
			epoch:   6,
			fetch:   partitionFetch{batches: []record.Batch{hb(0, 0, 1, -1)}},
			deliver: []int64{0}, next: 1, last: 6, moved: true, after: 100,
		},
		{
			name:    "a legacy compressed wrapper (record count unknown) is delivered",
			start:   0,
			fetch:   partitionFetch{batches: []record.Batch{{BaseOffset: 3, NumRecords: 0, LeaderEpoch: -1, Magic: 1}}},
			deliver: []int64{3}, next: 4, last: 0, moved: true, after: 100,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCursor(100, 1000)
			c.seek(tc.start, tc.epoch)
			if tc.maxBytes != 0 {
				c.maxBytes = tc.maxBytes
			}
			s := c.apply(tc.fetch)
			if got := bases(s.deliver); !slices.Equal(got, tc.deliver) {
				t.Errorf("deliver %v, want %v", got, tc.deliver)
			}
			if s.from != tc.start {
				t.Errorf("from %d, want %d", s.from, tc.start)
			}
			if c.next != tc.next || c.lastEpoch != tc.last {
				t.Errorf("next %d epoch %d, want %d epoch %d", c.next, c.lastEpoch, tc.next, tc.last)
			}
			if s.moved != tc.moved || s.grew != tc.grew {
				t.Errorf("moved %v grew %v, want %v %v", s.moved, s.grew, tc.moved, tc.grew)
			}
			if c.maxBytes != tc.after {
				t.Errorf("maxBytes %d, want %d", c.maxBytes, tc.after)
			}
		})
	}
}

func TestCursorLogBoundsAndLag(t *testing.T) {
	c := newCursor(100, 100)
	if c.hwm != -1 || c.lso != -1 || c.logStart != -1 {
		t.Fatalf("fresh cursor knows bounds: %+v", c)
	}
	c.apply(partitionFetch{hwm: 50, lso: 48, logStart: 3})
	c.apply(partitionFetch{hwm: -1, lso: -1, logStart: -1}) // an older version's "unknown"
	if c.hwm != 50 || c.lso != 48 || c.logStart != 3 {
		t.Fatalf("bounds %d %d %d", c.hwm, c.lso, c.logStart)
	}
	for _, tc := range []struct{ hwm, pos, want int64 }{{50, 20, 30}, {50, 50, 0}, {50, 60, 0}, {-1, 5, -1}, {5, -1, -1}} {
		if got := lag(tc.hwm, tc.pos); got != tc.want {
			t.Errorf("lag(%d, %d) = %d, want %d", tc.hwm, tc.pos, got, tc.want)
		}
	}
	c.maxBytes = 77
	c.seek(9, 4)
	if c.next != 9 || c.lastEpoch != 4 || c.maxBytes != 100 {
		t.Fatalf("seek: %+v", c)
	}
}

// simBatch is a batch in a simulated partition log.
type simBatch struct {
	base      int64
	lastDelta int32
	offsets   []int64 // the records left in it (compaction may have removed some)
	epoch     int32
	control   bool
	size      int // bytes on the wire
}

func (b simBatch) header() record.Batch {
	h := hb(b.base, b.lastDelta, int32(len(b.offsets)), b.epoch)
	if b.control {
		h = control(h)
	}
	return h
}

// simFetch answers a fetch from offset from with limit bytes as a broker does: whole
// batches from the one holding from (or the next), the last one cut at the limit; with
// minOne the first batch comes whole whatever its size (KIP-74).
func simFetch(log []simBatch, from int64, limit int, minOne bool) partitionFetch {
	var f partitionFetch
	i := 0
	for i < len(log) && log[i].base+int64(log[i].lastDelta) < from {
		i++
	}
	used := 0
	for ; i < len(log); i++ {
		b := log[i]
		first := len(f.batches) == 0
		if used+b.size <= limit || first && minOne {
			f.batches = append(f.batches, b.header())
			used += b.size
			continue
		}
		if have := limit - used; have > 0 {
			f.tail = record.Tail{Have: have, First: first}
			if have >= 12 {
				f.tail.Need = b.size
			}
		}
		break
	}
	return f
}

// TestPropertyCursorDeliversEveryRecordOnceInOrder runs the cursor against simulated logs
// (gaps, compacted and empty batches, control batches, epochs, batches larger than every
// limit) and a simulated broker that cuts at the limit and honours KIP-74 only on some
// rounds (as when a partition is first in the response): every data record at or after
// the start offset is delivered exactly once, in order; the fetch size stays within its
// bounds; the epoch tracks the last batch fetched; and the partition always reaches the
// end of its log.
func TestPropertyCursorDeliversEveryRecordOnceInOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var log []simBatch
		logStart := int64(rapid.IntRange(0, 5).Draw(t, "logStart"))
		off := logStart
		epoch := int32(rapid.IntRange(-1, 3).Draw(t, "epoch0"))
		nb := rapid.IntRange(0, 30).Draw(t, "batches")
		for i := range nb {
			off += int64(rapid.IntRange(0, 3).Draw(t, "gap"))
			span := int32(rapid.IntRange(1, 8).Draw(t, "span"))
			b := simBatch{base: off, lastDelta: span - 1, epoch: epoch, size: rapid.IntRange(61, 600).Draw(t, "size")}
			if rapid.Bool().Draw(t, "epochBump") {
				epoch++
				b.epoch = epoch
			}
			if i > 0 && rapid.IntRange(0, 5).Draw(t, "kind") == 0 {
				b.control = true
				b.offsets = []int64{off}
				b.lastDelta = 0
			} else {
				for d := range int64(span) {
					// compaction keeps the last record of a batch's span in its header
					// only; the records themselves may all be gone
					if rapid.IntRange(0, 3).Draw(t, "keep") > 0 {
						b.offsets = append(b.offsets, off+d)
					}
				}
			}
			off = b.base + int64(b.lastDelta) + 1
			log = append(log, b)
		}
		end := off
		start := int64(rapid.IntRange(int(logStart), int(end)).Draw(t, "start"))
		base := int32(rapid.IntRange(20, 300).Draw(t, "base"))
		ceiling := base * int32(rapid.IntRange(1, 4).Draw(t, "ceilingFactor"))
		every := rapid.IntRange(1, 4).Draw(t, "minOneEvery")

		var want []int64
		for _, b := range log {
			if b.control {
				continue
			}
			for _, o := range b.offsets {
				if o >= start {
					want = append(want, o)
				}
			}
		}
		byBase := make(map[int64]simBatch, len(log))
		for _, b := range log {
			byBase[b.base] = b
		}

		c := newCursor(base, ceiling)
		c.seek(start, -1)
		var got []int64
		for round := 0; c.next < end; round++ {
			if round > 100000 {
				t.Fatalf("no progress: stuck at %d of %d, size %d", c.next, end, c.maxBytes)
			}
			before := c.next
			f := simFetch(log, c.next, int(c.maxBytes), round%every == 0)
			s := c.apply(f)
			if s.from != before {
				t.Fatalf("from %d, want %d", s.from, before)
			}
			for _, h := range s.deliver {
				for _, o := range byBase[h.BaseOffset].offsets {
					if o >= s.from {
						got = append(got, o)
					}
				}
			}
			if c.maxBytes < base || c.maxBytes > ceiling {
				t.Fatalf("fetch size %d outside [%d, %d]", c.maxBytes, base, ceiling)
			}
			if c.next < before {
				t.Fatalf("position went back from %d to %d", before, c.next)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("delivered %v\nwant      %v", got, want)
		}
		// The epoch is that of the last batch the position passed.
		wantEpoch := int32(-1)
		for _, b := range log {
			if b.base+int64(b.lastDelta) < start {
				continue
			}
			if b.epoch >= 0 {
				wantEpoch = b.epoch
			}
		}
		if c.next > start && c.lastEpoch != wantEpoch {
			t.Fatalf("epoch %d, want %d", c.lastEpoch, wantEpoch)
		}
	})
}

// txb is a transactional data batch of producer pid (single record, at offset base);
// mark is producer pid's transaction marker at offset base; plainb is a record written
// outside transactions (by an idempotent producer pid, or none with -1).
func txb(base, pid int64) record.Batch {
	b := hb(base, 0, 1, 1)
	b.ProducerID, b.Attributes = pid, record.AttrTransactional
	return b
}

func mark(base, pid int64) record.Batch {
	b := txb(base, pid)
	return control(b)
}

func plainb(base, pid int64) record.Batch {
	b := hb(base, 0, 1, 1)
	b.ProducerID = pid
	return b
}

func aborted(pidFirst ...int64) []api.FetchResponseAbortedTransaction {
	var out []api.FetchResponseAbortedTransaction
	for i := 0; i < len(pidFirst); i += 2 {
		out = append(out, api.FetchResponseAbortedTransaction{ProducerID: pidFirst[i], FirstOffset: pidFirst[i+1]})
	}
	return out
}

// Under ReadCommitted the cursor drops the batches of aborted transactions, using the
// aborted-transaction list of the fetch response as Kafka's consumer does; the position
// moves past them all the same. Under ReadUncommitted it delivers them.
func TestCursorSkipsAbortedTransactions(t *testing.T) {
	cases := []struct {
		name      string
		start     int64
		fetch     partitionFetch
		committed []int64 // base offsets delivered under ReadCommitted
		next      int64
	}{
		{
			name:  "interleaved transactions, one aborted, one committed, and plain records",
			fetch: partitionFetch{batches: []record.Batch{txb(0, 1), txb(1, 2), txb(2, 1), plainb(3, -1), mark(4, 1), txb(5, 2), mark(6, 2), plainb(7, 9)}, aborted: aborted(1, 0)},
			// pid 1 aborted at 4: its data at 0 and 2 is dropped; pid 2 committed at 6.
			committed: []int64{1, 3, 5, 7}, next: 8,
		},
		{
			name:      "an aborted transaction, then a committed one of the same producer",
			fetch:     partitionFetch{batches: []record.Batch{txb(0, 1), mark(1, 1), txb(2, 1), mark(3, 1)}, aborted: aborted(1, 0)},
			committed: []int64{2}, next: 4,
		},
		{
			name:      "a committed transaction, then an aborted one of the same producer",
			fetch:     partitionFetch{batches: []record.Batch{txb(0, 1), mark(1, 1), txb(2, 1), mark(3, 1)}, aborted: aborted(1, 2)},
			committed: []int64{0}, next: 4,
		},
		{
			name:      "an aborted transaction that began before the position",
			start:     2,
			fetch:     partitionFetch{batches: []record.Batch{txb(2, 1), txb(3, 3), mark(4, 1)}, aborted: aborted(1, 0)},
			committed: []int64{3}, next: 5,
		},
		{
			name:      "an aborted transaction whose marker is in a later fetch",
			fetch:     partitionFetch{batches: []record.Batch{txb(0, 1), txb(1, 2), txb(2, 1)}, aborted: aborted(1, 0)},
			committed: []int64{1}, next: 3,
		},
		{
			name:      "aborted transactions listed out of order",
			fetch:     partitionFetch{batches: []record.Batch{txb(0, 1), txb(1, 2), mark(2, 1), mark(3, 2), txb(4, 3)}, aborted: aborted(2, 1, 1, 0)},
			committed: []int64{4}, next: 5,
		},
		{
			name:      "a batch of the aborted producer outside any transaction is delivered",
			fetch:     partitionFetch{batches: []record.Batch{txb(0, 1), plainb(1, 1), mark(2, 1)}, aborted: aborted(1, 0)},
			committed: []int64{1}, next: 3,
		},
		{
			name:      "no aborted transactions",
			fetch:     partitionFetch{batches: []record.Batch{txb(0, 1), mark(1, 1), plainb(2, -1)}},
			committed: []int64{0, 2}, next: 3,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, readCommitted := range []bool{true, false} {
				f := tc.fetch
				f.batches = slices.Clone(tc.fetch.batches)
				f.aborted = slices.Clone(tc.fetch.aborted)
				want := tc.committed
				if !readCommitted {
					want = nil
					for _, b := range f.batches {
						if !b.Attributes.Control() && b.NextOffset() > tc.start {
							want = append(want, b.BaseOffset)
						}
					}
				}
				c := newCursor(100, 1000)
				c.readCommitted = readCommitted
				c.seek(tc.start, -1)
				s := c.apply(f)
				if got := bases(s.deliver); !slices.Equal(got, want) {
					t.Errorf("read committed %v: deliver %v, want %v", readCommitted, got, want)
				}
				if c.next != tc.next || !s.moved {
					t.Errorf("read committed %v: next %d moved %v, want %d", readCommitted, c.next, s.moved, tc.next)
				}
			}
		})
	}
}
