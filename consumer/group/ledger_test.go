package group

import (
	"context"
	"errors"
	"testing"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/cluster"
	"pgregory.net/rapid"
)

var (
	tpA = cluster.TopicPartition{Topic: "a", Partition: 0}
	tpB = cluster.TopicPartition{Topic: "b", Partition: 3}
)

func offsets(cs []cluster.OffsetCommit) map[cluster.TopicPartition]int64 {
	out := make(map[cluster.TopicPartition]int64)
	for _, c := range cs {
		out[cluster.TopicPartition{Topic: c.Topic, Partition: c.Partition}] = c.Offset
	}
	return out
}

func succeed(cs []cluster.OffsetCommit) []cluster.OffsetCommitResult {
	out := make([]cluster.OffsetCommitResult, len(cs))
	for i, c := range cs {
		out[i] = cluster.OffsetCommitResult{OffsetCommit: c}
	}
	return out
}

// TestLedgerCommitsOnlyWhatIsAhead walks the cases: marks move forward only; a commit
// sends marks ahead of the committed offset, once; a failure leaves the mark due; a
// committed offset fetched at start holds back older marks; an explicit offset moves back.
func TestLedgerCommitsOnlyWhatIsAhead(t *testing.T) {
	l := newLedger()
	if d := l.due(); len(d) != 0 {
		t.Fatalf("due with nothing marked: %v", d)
	}
	l.mark(tpA, 10, 2)
	if l.mark(tpA, 7, 2) || l.marked(tpA) != 10 {
		t.Fatalf("a mark moved back to 7: %d", l.marked(tpA))
	}
	l.known(tpB, 50)
	l.mark(tpB, 40, -1) // older than what the group committed: never sent
	d := l.due()
	if got := offsets(d); len(got) != 1 || got[tpA] != 10 || d[0].LeaderEpoch() != 2 {
		t.Fatalf("due %v", d)
	}
	if again := l.due(); len(again) != 0 {
		t.Fatalf("due again while in flight: %v", again)
	}
	res := succeed(d)
	res[0].Err = errors.New("coordinator gone")
	l.sent(res)
	if l.committed(tpA) != -1 {
		t.Fatal("a failed commit counted")
	}
	d = l.due()        // the failed one is due again
	l.mark(tpA, 12, 3) // moves while in flight
	l.sent(succeed(d))
	if l.committed(tpA) != 10 {
		t.Fatalf("committed %d", l.committed(tpA))
	}
	if got := offsets(l.due()); got[tpA] != 12 {
		t.Fatalf("the mark made in flight is not due: %v", got)
	}
	l.sent(succeed([]cluster.OffsetCommit{{Topic: "a", Offset: 12}}))
	if d := l.due(); len(d) != 0 {
		t.Fatalf("due with everything committed: %v", d)
	}

	// An explicit offset may go back, and the marks after it build on it.
	l.set(cluster.OffsetCommit{Topic: "a", Offset: 5, Metadata: "rewind"})
	d = l.due()
	if len(d) != 1 || d[0].Offset != 5 || d[0].Metadata != "rewind" {
		t.Fatalf("explicit offset: %v", d)
	}
	l.sent(succeed(d))
	if l.committed(tpA) != 5 {
		t.Fatalf("committed %d after the rewind", l.committed(tpA))
	}
	l.mark(tpA, 6, -1)
	if got := offsets(l.due()); got[tpA] != 6 {
		t.Fatalf("mark after the rewind: %v", got)
	}
	l.forget(tpA)
	l.sent(succeed([]cluster.OffsetCommit{{Topic: "a", Offset: 6}})) // filed nowhere
	if l.committed(tpA) != -1 || len(l.due()) != 0 {
		t.Fatal("a forgotten partition is still kept")
	}
}

// TestLedgerProperties drives the ledger with random marks, explicit offsets, fetched
// offsets and commits that succeed or fail, and checks: (1) a commit never moves a
// partition's committed offset backwards unless an explicit offset was set since its
// last commit; (2) a partition is never in two commits at once; (3) once every commit
// succeeds, the committed offset is the mark (or what the group had, when that was
// further), so nothing finished is left uncommitted.
func TestLedgerProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		l := newLedger()
		tps := []cluster.TopicPartition{tpA, tpB, {Topic: "a", Partition: 1}}
		type model struct {
			committed int64 // as the broker has it
			explicit  bool  // set since the last successful commit
			last      int64 // what a final flush must leave committed
			inFlight  bool
		}
		m := map[cluster.TopicPartition]*model{}
		for _, tp := range tps {
			m[tp] = &model{committed: -1, last: -1}
		}
		var flight []cluster.OffsetCommit
		check := func(results []cluster.OffsetCommitResult) {
			for _, r := range results {
				tp := cluster.TopicPartition{Topic: r.Topic, Partition: r.Partition}
				mm := m[tp]
				mm.inFlight = false
				if r.Err != nil {
					continue
				}
				if r.Offset < mm.committed && !mm.explicit {
					t.Fatalf("%v committed back from %d to %d without an explicit offset", tp, mm.committed, r.Offset)
				}
				mm.committed = r.Offset
				if l.marked(tp) == r.Offset {
					mm.explicit = false
				}
			}
		}
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for range steps {
			tp := tps[rapid.IntRange(0, len(tps)-1).Draw(t, "tp")]
			mm := m[tp]
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0, 1:
				n := rapid.Int64Range(0, 100).Draw(t, "next")
				if l.mark(tp, n, -1) {
					mm.last = n
				}
			case 2:
				n := rapid.Int64Range(0, 100).Draw(t, "explicit")
				l.set(cluster.OffsetCommit{Topic: tp.Topic, Partition: tp.Partition, Offset: n})
				mm.explicit, mm.last = true, n
			case 3:
				if mm.committed < 0 && !mm.inFlight && mm.last < 0 {
					n := rapid.Int64Range(0, 100).Draw(t, "fetched")
					l.known(tp, n)
					mm.committed = n
					mm.last = max(mm.last, n)
				}
			case 4:
				if flight != nil {
					results := succeed(flight)
					for i := range results {
						if rapid.Bool().Draw(t, "fail") {
							results[i].Err = errors.New("refused")
						}
					}
					l.sent(results)
					check(results)
					flight = nil
					continue
				}
				flight = l.due()
				for _, c := range flight {
					mm := m[cluster.TopicPartition{Topic: c.Topic, Partition: c.Partition}]
					if mm.inFlight {
						t.Fatalf("%s[%d] in two commits at once", c.Topic, c.Partition)
					}
					mm.inFlight = true
				}
			}
		}
		if flight != nil {
			results := succeed(flight)
			l.sent(results)
			check(results)
		}
		for d := l.due(); len(d) > 0; d = l.due() {
			results := succeed(d)
			l.sent(results)
			check(results)
		}
		for _, tp := range tps {
			if got, want := l.committed(tp), m[tp].last; got != want && !(want < m[tp].committed) {
				t.Fatalf("%v: committed %d after the flush, want %d", tp, got, want)
			}
			if m[tp].committed != l.committed(tp) {
				t.Fatalf("%v: ledger says %d committed, the broker has %d", tp, l.committed(tp), m[tp].committed)
			}
		}
	})
}

// BenchmarkMarkRecords is the cost the commit bookkeeping adds per record a user marks:
// one lock and one map lookup, no allocation once the partition is known.
func BenchmarkMarkRecords(b *testing.B) {
	// No client: nothing is committed while the benchmark runs.
	cm, err := newCommitter(nil, "g", nil, CommitterConfig{DisableAutoCommit: true})
	if err != nil {
		b.Fatal(err)
	}
	defer cm.proc.Cancel(context.Background())
	recs := make([]troupe.Record, 1024)
	for i := range recs {
		recs[i] = troupe.Record{Topic: "orders", Partition: int32(i % 8), Offset: int64(i), LeaderEpoch: 3}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := cm.MarkRecords(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLedgerDueOf: a revocation's commit carries only the partitions given up that are
// due, each once however often it is named; an empty list is nothing, nil everything.
func TestLedgerDueOf(t *testing.T) {
	l := newLedger()
	tp := func(p int32) cluster.TopicPartition { return cluster.TopicPartition{Topic: "t", Partition: p} }
	for p := range int32(4) {
		l.known(tp(p), 5)
	}
	l.mark(tp(0), 10, 1)
	l.mark(tp(1), 10, 1)
	l.mark(tp(2), 4, 1) // behind the committed offset: never sent
	if got := l.dueOf([]cluster.TopicPartition{}); len(got) != 0 {
		t.Fatalf("an empty list: %v", got)
	}
	got := l.dueOf([]cluster.TopicPartition{tp(1), tp(2), tp(3), tp(1), {Topic: "u", Partition: 0}})
	if len(got) != 1 || got[0].Partition != 1 || got[0].Offset != 10 || got[0].LeaderEpoch() != 1 {
		t.Fatalf("due of 1, 2, 3, 1 and an unknown topic: %v", got)
	}
	if got := l.dueOf(nil); len(got) != 1 || got[0].Partition != 0 {
		t.Fatalf("due of everything after 1 went out: %v", got)
	}
}

// BenchmarkLedgerDueOfRevoked: a member owning 2000 partitions gives up 1000 and asks
// what to commit for them.
func BenchmarkLedgerDueOfRevoked(b *testing.B) {
	l := newLedger()
	for p := range int32(2000) {
		tp := cluster.TopicPartition{Topic: "bench", Partition: p}
		l.known(tp, 5)
		l.mark(tp, 10, 0)
	}
	only := make([]cluster.TopicPartition, 0, 1000)
	for p := range int32(1000) {
		only = append(only, cluster.TopicPartition{Topic: "bench", Partition: p * 2})
	}
	b.ReportAllocs()
	for b.Loop() {
		if due := l.dueOf(only); len(due) != len(only) {
			b.Fatalf("%d due", len(due))
		}
		for _, tp := range only {
			l.parts[tp].sending = false
		}
	}
}
