package producer

import (
	"context"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// newTestAcc returns an accumulator of batches of up to maxRecords records lingering 10ms,
// whose partition producer is never reached (pokes are only noted), and a maker of
// numbered records.
func newTestAcc(t *testing.T, maxRecords int) (*partAcc, func(n int) []Pending) {
	t.Helper()
	p := &Producer{budget: newBudget(1000, 1<<20), linger: newLingerQueue()}
	acc := &partAcc{p: p, topic: "t", bt: newBatcher(nil, 1<<20, maxRecords, 10*time.Millisecond, time.Hour), pp: &partition{}}
	next := 0
	recs := func(n int) []Pending {
		out := make([]Pending, 0, n)
		for range n {
			gen, err := p.budget.acquire(context.Background(), 20)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, Pending{rec: &troupe.Record{Topic: "t", Offset: int64(next)}, size: 20, gen: gen, taken: time.Now().UnixNano()})
			next++
		}
		return out
	}
	return acc, recs
}

// The accumulator seals a batch when it is full and keeps sealed batches in order for the
// partition producer. It pokes the partition producer only for sealed batches, at most
// one poke outstanding: records joining an open batch wake nobody.
func TestAccumulatorSealsInOrderAndPokesOnce(t *testing.T) {
	acc, recs := newTestAcc(t, 3)
	now := time.Now()
	acc.add(recs(2), now, true)
	if acc.poked || len(acc.sealed) != 0 {
		t.Fatalf("an open batch: poked %v, %d sealed", acc.poked, len(acc.sealed))
	}
	acc.add(recs(5), now, true) // seals 3, seals 3, opens one of 1
	if len(acc.sealed) != 2 || !acc.poked {
		t.Fatalf("%d batches sealed (want 2), poked %v", len(acc.sealed), acc.poked)
	}
	got := acc.take(nil, now, false, false)
	if len(got) != 2 || acc.poked {
		t.Fatalf("take: %d batches, poked %v", len(got), acc.poked)
	}
	want := int64(0)
	for _, b := range got {
		for _, r := range b.recs {
			if r.rec.Offset != want {
				t.Fatalf("record %d in place of %d", r.rec.Offset, want)
			}
			want++
		}
	}
	acc.add(recs(1), now, true) // joins the open batch: no poke
	if acc.poked {
		t.Fatal("a poke for a record joining an open batch")
	}
	acc.add(recs(1), now, true) // fills it: sealed, poke
	if !acc.poked || len(acc.sealed) != 1 || acc.sealed[0].recs[0].rec.Offset != want {
		t.Fatalf("a full batch: poked %v, %d sealed", acc.poked, len(acc.sealed))
	}
}

// Opening a batch pushes its linger deadline, once per batch; the lingerer seals the
// batch at that deadline unless it was sealed before (a stale entry does nothing), and an
// append after the deadline seals it first if the lingerer has not come yet.
func TestAccumulatorLinger(t *testing.T) {
	acc, recs := newTestAcc(t, 3)
	lq := acc.p.linger
	now := time.Now()
	acc.add(recs(1), now, true)
	acc.add(recs(1), now.Add(time.Millisecond), true)
	due, next := lq.due(now.Add(9*time.Millisecond), nil)
	if len(due) != 0 || !next.Equal(now.Add(10*time.Millisecond)) {
		t.Fatalf("before the deadline: %d due, next at %v", len(due), next.Sub(now))
	}
	due, next = lq.due(now.Add(10*time.Millisecond), nil)
	if len(due) != 1 || !next.IsZero() {
		t.Fatalf("at the deadline: %d due (one batch opened), next %v", len(due), next)
	}
	due[0].pa.sealLingered(due[0].open, now.Add(10*time.Millisecond))
	if len(acc.sealed) != 1 || !acc.bt.empty() {
		t.Fatalf("the lingerer sealed %d, open empty %v", len(acc.sealed), acc.bt.empty())
	}
	acc.take(nil, now, false, false)

	acc.add(recs(2), now, true) // opens a batch: a deadline
	acc.add(recs(1), now, true) // full: sealed before its deadline
	acc.add(recs(1), now, true) // the next batch
	due, _ = lq.due(now.Add(10*time.Millisecond), nil)
	if len(due) != 2 {
		t.Fatalf("%d deadlines for two batches opened", len(due))
	}
	due[0].pa.sealLingered(due[0].open, now.Add(10*time.Millisecond)) // stale: that batch is sealed
	if len(acc.sealed) != 1 || acc.bt.empty() {
		t.Fatalf("a stale deadline sealed the open batch: %d sealed", len(acc.sealed))
	}
	acc.add(recs(1), now.Add(20*time.Millisecond), true) // lingered: sealed before this one joins
	if len(acc.sealed) != 2 || acc.sealed[1].count != 1 || acc.bt.empty() {
		t.Fatalf("an append after the linger: %d sealed, open empty %v", len(acc.sealed), acc.bt.empty())
	}
}

// A flushing take seals the open batch; the final take (the partition producer stopping
// for good) seals it too, and later appends are refused.
func TestAccumulatorFlushAndFinalTake(t *testing.T) {
	acc, recs := newTestAcc(t, 100)
	now := time.Now()
	acc.add(recs(2), now, true)
	if got := acc.take(nil, now, false, false); len(got) != 0 {
		t.Fatal("sealed before its linger")
	}
	if got := acc.take(nil, now, true, false); len(got) != 1 {
		t.Fatalf("a flushing take sealed %d, want 1", len(got))
	}
	acc.add(recs(1), now, true)
	if got := acc.take(nil, now, false, true); len(got) != 1 {
		t.Fatalf("the final take sealed %d, want 1", len(got))
	}
	if acc.add(recs(1), now, true) {
		t.Fatal("an append after the final take was accepted")
	}
}

// While the partition producer holds unresolved batches, linger does not seal the open
// batch (neither the lingerer nor a later append): it keeps growing, and the partition
// producer's next step takes it once its linger has passed. When the partition producer
// holds nothing any more, hold reports a batch that became due meanwhile, so that it is
// collected at once rather than waiting for the next record.
func TestHeldPartitionLingersUntilItsProducerSteps(t *testing.T) {
	acc, recs := newTestAcc(t, 100)
	now := time.Now()
	later := now.Add(20 * time.Millisecond) // past the 10ms linger
	acc.add(recs(2), now, true)
	if acc.hold(true, func() time.Time { return now }) {
		t.Fatal("hold(true) asked for a collect")
	}
	acc.sealLingered(acc.opens, later)
	acc.add(recs(1), later, true)
	if len(acc.sealed) != 0 || acc.poked || len(acc.bt.recs) != 3 {
		t.Fatalf("held: %d sealed, poked %v, %d records open; want the 3 records open", len(acc.sealed), acc.poked, len(acc.bt.recs))
	}
	if got := acc.take(nil, later, false, false); len(got) != 1 || len(got[0].recs) != 3 {
		t.Fatalf("the step after linger took %d batches, want one of 3 records", len(got))
	}

	acc.add(recs(1), now, true)
	acc.sealLingered(acc.opens, later)
	if len(acc.sealed) != 0 {
		t.Fatal("sealed by the lingerer while held")
	}
	if !acc.hold(false, func() time.Time { return later }) {
		t.Fatal("released with a batch past its linger, and hold did not ask for a collect")
	}
	if acc.hold(false, func() time.Time { return now }) {
		t.Fatal("hold asked for a collect before the batch's linger passed")
	}
	acc.sealLingered(acc.opens, later)
	if len(acc.sealed) != 1 || !acc.poked {
		t.Fatalf("not held: the lingerer sealed %d batches, poked %v", len(acc.sealed), acc.poked)
	}
}
