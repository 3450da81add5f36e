package consumer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/record"
)

// result is a fetch result of n bytes of batches, ending at next; n == 0 makes a
// position mark.
func result(next int64, n int) feedMsg {
	f := &fetched{next: next, counted: true}
	if n > 0 {
		f.batches = []record.Batch{{Length: int32(n - 12)}}
	}
	return feedMsg{fetched: f}
}

func TestReaderBufferKeepsPerPartitionOrderAndRotates(t *testing.T) {
	b := newReaderBuffer()
	ps := []*part{{about: About{"t", 0}}, {about: About{"t", 1}}, {about: About{"t", 2}}}
	for _, p := range ps {
		b.add(p)
	}
	// Partition 0 is busy: 10 results; the others have 2 each.
	for i := range 10 {
		if b.push(ps[0], result(int64(i+1), 100)) != pushQueued {
			t.Fatal("refused")
		}
	}
	for _, p := range ps[1:] {
		b.push(p, result(1, 100))
		b.push(p, result(2, 100))
	}
	if b.bytes != 14*100 {
		t.Fatalf("bytes %d, want 1400", b.bytes)
	}
	// With a limit of one result per take, the takes visit the partitions in turn: the
	// busy one cannot starve the others.
	var order []int32
	last := map[int32]int64{}
	for range 6 {
		got := b.take(nil, 1)
		if len(got) != 1 {
			t.Fatalf("took %d", len(got))
		}
		p := got[0].p.about.Partition
		if next := got[0].m.fetched.next; next != last[p]+1 {
			t.Fatalf("partition %d: result %d after %d: out of order", p, next, last[p])
		}
		last[p]++
		order = append(order, p)
	}
	seen := map[int32]int{}
	for _, p := range order {
		seen[p]++
	}
	if seen[0] != 2 || seen[1] != 2 || seen[2] != 2 {
		t.Fatalf("takes visited %v: not in rotation", order)
	}
	// Without a limit, one result per partition per take.
	if got := b.take(nil, 0); len(got) != 1 || got[0].p != ps[0] {
		t.Fatalf("took %d, want partition 0's next", len(got))
	}
	if b.bytes != 7*100 {
		t.Fatalf("bytes %d, want 700", b.bytes)
	}
}

func TestReaderBufferMarksPauseAndRemove(t *testing.T) {
	b := newReaderBuffer()
	p, q := &part{about: About{"t", 0}}, &part{about: About{"t", 1}}
	b.add(p)
	b.add(q)
	// A mark with nothing before it is applied at once; behind a result, it waits.
	if b.push(p, result(5, 0)) != pushMark {
		t.Fatal("a mark at the head was queued")
	}
	b.push(p, result(6, 50))
	if b.push(p, result(9, 0)) != pushQueued {
		t.Fatal("a mark behind a result was not queued")
	}
	b.push(p, result(10, 50))
	got := b.take(nil, 0)
	if len(got) != 1 || got[0].m.fetched.next != 6 {
		t.Fatalf("took %v", got)
	}
	got = b.take(nil, 0) // the mark, then the result after it
	if len(got) != 2 || !isMark(got[0].m) || got[1].m.fetched.next != 10 {
		t.Fatalf("took %+v", got)
	}
	// Paused: skipped, kept.
	b.push(q, result(1, 50))
	b.setPaused(q, true)
	if b.ready() || len(b.take(nil, 0)) != 0 {
		t.Fatal("a paused partition was taken from")
	}
	b.setPaused(q, false)
	if !b.ready() {
		t.Fatal("resumed partition not ready")
	}
	// Removed: its queue comes back to the caller, and pushes are refused.
	b.push(q, result(2, 50))
	if rest := b.remove(q); len(rest) != 2 || b.bytes != 0 {
		t.Fatalf("remove gave back %d, bytes %d", len(rest), b.bytes)
	}
	if b.push(q, result(3, 50)) != pushRefused || b.has(q) {
		t.Fatal("push to a removed partition accepted")
	}
	if b.ready() {
		t.Fatal("ready after everything was taken or removed")
	}
}

// TestReaderBufferMarkWaitsForResultsOut checks that a position mark pushed while a Poll
// holds a taken result of the partition (taken, not yet delivered) is queued, not
// applied: applying it would set the position past a result that may still be dropped
// (its partition removed) or would be overwritten by that result's own, lower, position.
func TestReaderBufferMarkWaitsForResultsOut(t *testing.T) {
	b := newReaderBuffer()
	p := &part{about: About{"t", 0}}
	b.add(p)
	b.push(p, result(6, 50))
	if got := b.take(nil, 0); len(got) != 1 {
		t.Fatalf("took %d", len(got))
	}
	if b.push(p, result(9, 0)) != pushQueued {
		t.Fatal("a mark was applied while a result taken before it was out")
	}
	b.delivered(p)
	got := b.take(nil, 0)
	if len(got) != 1 || !isMark(got[0].m) || got[0].m.fetched.next != 9 {
		t.Fatalf("took %+v, want the mark", got)
	}
	if b.push(p, result(10, 0)) != pushMark {
		t.Fatal("a mark with nothing before it or out was queued")
	}
}

// records is a result of n records (one batch) ending before next.
func records(next int64, n int32) feedMsg {
	return feedMsg{fetched: &fetched{next: next, counted: true, batches: []record.Batch{{Length: 100, NumRecords: n}}}}
}

// TestReaderBufferTakeCountsRecords checks take's limit under MaxPollRecords: it stops
// once the records taken reach the limit, by the batches' record counts, and the next
// take goes on from the partition where it stopped, so every partition is visited in
// turn however small the limit.
func TestReaderBufferTakeCountsRecords(t *testing.T) {
	b := newReaderBuffer()
	ps := []*part{{about: About{"t", 0}}, {about: About{"t", 1}}, {about: About{"t", 2}}, {about: About{"t", 3}}}
	for _, p := range ps {
		b.add(p)
		for i := range 3 {
			b.push(p, records(int64(10*(i+1)), 10))
		}
	}
	var order []int32
	for range 6 {
		got := b.take(nil, 15) // the first result reaches 10, the second crosses 15
		if len(got) != 2 {
			t.Fatalf("took %d results, want 2", len(got))
		}
		for _, x := range got {
			order = append(order, x.p.about.Partition)
			b.delivered(x.p)
		}
	}
	want := []int32{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("takes visited %v, want %v", order, want)
	}
	// A result without records (an error notice) still counts one.
	n := &part{about: About{"u", 0}}
	b = newReaderBuffer()
	b.add(n)
	b.push(n, feedMsg{notice: &Batch{}})
	if got := b.take(nil, 1); len(got) != 1 {
		t.Fatalf("took %d", len(got))
	}
}

// TestReaderBufferUnshiftComesFirst checks that the part of a result a Poll did not
// return goes back before everything queued since, marks included, keeps its bytes in
// the budget, is skipped while paused, and is handed back by remove.
func TestReaderBufferUnshiftComesFirst(t *testing.T) {
	b := newReaderBuffer()
	p := &part{about: About{"t", 0}}
	b.add(p)
	b.push(p, records(10, 10))
	got := b.take(nil, 0)
	if len(got) != 1 {
		t.Fatalf("took %d", len(got))
	}
	b.push(p, records(20, 10))
	if b.push(p, result(25, 0)) != pushQueued {
		t.Fatal("a mark behind a queued result was applied")
	}
	b.delivered(p)
	rest := &decoded{p: p, b: &Batch{Records: make([]troupe.Record, 4)}, next: 10, bytes: 40}
	if !b.unshift(p, feedMsg{rest: rest}) {
		t.Fatal("unshift refused")
	}
	if b.bytes != 40+112 {
		t.Fatalf("bytes %d, want 152", b.bytes)
	}
	b.setPaused(p, true)
	if b.ready() {
		t.Fatal("a paused partition's rest is ready")
	}
	b.setPaused(p, false)
	if got = b.take(nil, 3); len(got) != 1 || got[0].m.rest != rest {
		t.Fatalf("took %+v, want the rest first", got)
	}
	b.delivered(p)
	if !b.unshift(p, feedMsg{rest: rest}) {
		t.Fatal("unshift refused")
	}
	if items := b.remove(p); len(items) != 3 || items[0].rest != rest || b.bytes != 0 {
		t.Fatalf("remove gave back %d, bytes %d", len(items), b.bytes)
	}
	if b.unshift(p, feedMsg{rest: rest}) {
		t.Fatal("unshift to a removed partition accepted")
	}
}

// batchOf is a decoded result of partition p holding the records at offsets, ending
// before next.
func batchOf(p *part, next int64, offsets ...int64) decoded {
	recs := make([]troupe.Record, len(offsets))
	for i, o := range offsets {
		recs[i] = troupe.Record{Topic: "t", Partition: p.about.Partition, Offset: o}
	}
	b := &Batch{Topic: "t", Partition: p.about.Partition, Records: recs, NextOffset: next, HighWaterMark: 100}
	return decoded{p: p, b: b, next: next, counted: true, moves: true, bytes: int64(100 * len(offsets))}
}

// TestLimitRecords checks how a Poll's results are cut to MaxPollRecords: the result
// that crosses the limit returns its first records, ending after the last of them, and
// keeps the rest (with the error after it, and the prefetch count) for later; results
// after it return nothing; a notice without records is not held back.
func TestLimitRecords(t *testing.T) {
	p, q, n, s := &part{about: About{"t", 0}}, &part{about: About{"t", 1}}, &part{about: About{"t", 2}}, &part{about: About{"t", 3}}
	corrupt := errors.New("corrupt")
	ds := []decoded{
		batchOf(p, 13, 10, 11, 12),
		batchOf(q, 30, 20, 22, 24, 26), // a gap (compaction) and a control record at 28
		{p: n, errb: &Batch{Topic: "t", Partition: 2, Err: corrupt, terminal: true}},
		batchOf(s, 41, 40),
	}
	ds[1].errb, ds[1].fails = &Batch{Err: corrupt, terminal: true}, true
	limitRecords(ds, 5)

	if d := ds[0]; d.rest != nil || len(d.b.Records) != 3 || d.next != 13 || !d.counted {
		t.Fatalf("the first result, within the limit, changed: %+v", d)
	}
	d := ds[1]
	if len(d.b.Records) != 2 || d.b.NextOffset != 23 || d.next != 23 || !d.moves {
		t.Fatalf("the crossing result returns %d records, NextOffset %d, next %d", len(d.b.Records), d.b.NextOffset, d.next)
	}
	if d.counted || d.errb != nil || d.fails || cap(d.b.Records) != 2 {
		t.Fatalf("the returned part keeps what belongs to the rest: %+v", d)
	}
	r := d.rest
	if r == nil || r.records() != 2 || r.b.Records[0].Offset != 24 || r.next != 30 || r.b.NextOffset != 30 ||
		!r.counted || !r.moves || !r.fails || r.errb == nil || r.b.HighWaterMark != 100 {
		t.Fatalf("the rest: %+v", r)
	}
	if r.bytes != 200 || d.bytes != 200 {
		t.Fatalf("bytes split %d returned, %d kept; want 200 and 200", d.bytes, r.bytes)
	}
	if d := ds[2]; d.rest != nil || d.errb == nil {
		t.Fatalf("a notice was held back: %+v", d)
	}
	d = ds[3]
	if d.b != nil || d.moves || d.counted || d.rest == nil || d.rest.records() != 1 || d.rest.next != 41 {
		t.Fatalf("a result after the limit: %+v", d)
	}

	// No limit: nothing changes.
	ds = []decoded{batchOf(p, 13, 10, 11, 12)}
	limitRecords(ds, 0)
	if ds[0].rest != nil || len(ds[0].b.Records) != 3 {
		t.Fatal("cut without a limit")
	}
}
