package consumer

import (
	"testing"

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
