package producer

import (
	"context"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// newTestAcc returns an accumulator of batches of up to maxRecords records lingering 10ms,
// whose partition producer is never reached (pokes are only noted).
func newTestAcc(t *testing.T, maxRecords int) (*partAcc, func(n int) []Pending) {
	t.Helper()
	p := &Producer{budget: newBudget(1000, 1<<20)}
	acc := &partAcc{p: p, topic: "t", bt: newBatcher(nil, 1<<20, maxRecords, 10*time.Millisecond, time.Hour)}
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

// The accumulator seals a batch when it is full, keeps sealed batches in order for the
// partition producer, and asks for at most one poke at a time: a poke when a batch is
// sealed or opened unwatched, none while one is outstanding or while the partition
// producer watches the open batch.
func TestAccumulatorSealsInOrderAndPokesOnce(t *testing.T) {
	acc, recs := newTestAcc(t, 3)
	now := time.Now()
	acc.add(recs(2), now)
	if !acc.poked || len(acc.sealed) != 0 {
		t.Fatalf("an open batch nobody watches: poked %v, %d sealed", acc.poked, len(acc.sealed))
	}
	acc.add(recs(5), now) // seals 3, seals 3, opens one of 1
	if len(acc.sealed) != 2 {
		t.Fatalf("%d batches sealed, want 2", len(acc.sealed))
	}
	got, due := acc.take(nil, now, false, false)
	if len(got) != 2 || acc.poked || !acc.watching || !due.Equal(now.Add(10*time.Millisecond)) {
		t.Fatalf("take: %d batches, poked %v, watching %v, due %v", len(got), acc.poked, acc.watching, due.Sub(now))
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
	acc.add(recs(1), now) // joins the watched open batch: no poke
	if acc.poked {
		t.Fatal("a poke for a record joining a watched open batch")
	}
	acc.add(recs(1), now) // fills it: sealed, poke
	if !acc.poked || len(acc.sealed) != 1 || acc.sealed[0].recs[0].rec.Offset != want {
		t.Fatalf("a full batch: poked %v, %d sealed", acc.poked, len(acc.sealed))
	}
}

// A batch that lingered its time is sealed by whoever comes first: the partition
// producer's take at its due time, or an append after it (which then opens the next).
// Once the partition producer stops for good, its last take seals what is open and
// later appends are refused.
func TestAccumulatorLingerAndFinalTake(t *testing.T) {
	acc, recs := newTestAcc(t, 100)
	now := time.Now()
	acc.add(recs(2), now)
	if got, _ := acc.take(nil, now.Add(5*time.Millisecond), false, false); len(got) != 0 {
		t.Fatal("sealed before its linger")
	}
	if got, due := acc.take(nil, now.Add(10*time.Millisecond), false, false); len(got) != 1 || !due.IsZero() {
		t.Fatalf("at its linger: %d sealed, due %v", len(got), due)
	}
	acc.add(recs(1), now)
	acc.add(recs(1), now.Add(20*time.Millisecond)) // the open batch lingered: sealed before this one joins
	if len(acc.sealed) != 1 || acc.sealed[0].count != 1 || acc.bt.empty() {
		t.Fatalf("an append after the linger: %d sealed, open empty %v", len(acc.sealed), acc.bt.empty())
	}
	if got, _ := acc.take(nil, now, true, false); len(got) != 2 {
		t.Fatalf("a flushing take sealed %d, want 2", len(got))
	}
	acc.add(recs(1), now)
	if got, _ := acc.take(nil, now, false, true); len(got) != 1 {
		t.Fatalf("the final take sealed %d, want 1", len(got))
	}
	if acc.add(recs(1), now) {
		t.Fatal("an append after the final take was accepted")
	}
}
