package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTransactionalBatchesFromAnotherClient reads what franz-go wrote in transactions,
// committed and aborted, between plain records. Under ReadUncommitted every data record
// is delivered, those of the aborted transaction included; the commit and abort markers
// (control batches) never are, though they take offsets and the position moves past them.
func TestTransactionalBatchesFromAnotherClient(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 5) // plain
	next := 5
	for i, commit := range []bool{true, false, true, false} {
		// A producer per transaction: kfake is not always in step with franz-go's
		// sequence handling after an abort (OUT_OF_ORDER_SEQUENCE_NUMBER now and then),
		// and that is not what this test is about.
		tx := kgoClient(t, seeds, kgo.TransactionalID(fmt.Sprint("troupe-test-", i)))
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produceWith(t, tx, "t", 0, next, 10)
		next += 10
		if err := tx.EndTransaction(ctxT(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	produce(t, seeds, "t", 0, next, 5) // plain again
	next += 5

	c := newConsumer(t, testConfig(seeds, newRecorder()))
	pc := consume(t, c, "t", 0, Oldest())
	r := newReader(t, pc, 0)
	r.mustRead(next)
	// Four markers, each one offset, after each transaction's records.
	gaps := 0
	for i := 1; i < len(r.got); i++ {
		switch d := r.got[i].Offset - r.got[i-1].Offset; d {
		case 1:
		case 2:
			gaps++
		default:
			t.Fatalf("offset %d after %d", r.got[i].Offset, r.got[i-1].Offset)
		}
	}
	if gaps != 4 {
		t.Fatalf("%d gaps for 4 transaction markers", gaps)
	}
	if last := r.got[len(r.got)-1].Offset; pc.HighWaterMark() != last+1 || pc.Lag() != 0 {
		t.Fatalf("high-water mark %d lag %d after the last record at %d", pc.HighWaterMark(), pc.Lag(), last)
	}

	// A partition ending in a marker: the position moves past it, so nothing is "lagging".
	tx := kgoClient(t, seeds, kgo.TransactionalID("troupe-test-last"))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produceWith(t, tx, "t", 0, next, 3)
	if err := tx.EndTransaction(ctxT(t), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	r.mustRead(3)
	waitFor(t, func() bool { return pc.Lag() == 0 && pc.Position() == pc.HighWaterMark() })
}

// TestReadCommitted reads, under ReadCommitted, what franz-go wrote in two transactions
// open at the same time on one partition, one aborted and one committed, between plain
// records: the aborted transaction's records never arrive (their values are numbered
// apart, so the reader's sequence check would catch one), the committed one's do, in
// offset order. Then an open transaction holds back everything after its start, the
// plain records written after it included, until it commits.
func TestReadCommitted(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	begin := func(id string) *kgo.Client {
		tx := kgoClient(t, seeds, kgo.TransactionalID(id))
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	end := func(tx *kgo.Client, commit bool) {
		if err := tx.EndTransaction(ctxT(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	abort, commit := begin("troupe-abort"), begin("troupe-commit")
	produceWith(t, abort, "t", 0, 1000, 10) // offsets 0-9
	produceWith(t, commit, "t", 0, 0, 10)   // 10-19
	produceWith(t, abort, "t", 0, 1010, 5)  // 20-24
	produce(t, seeds, "t", 0, 10, 5)        // 25-29, plain
	end(abort, false)                       // marker at 30
	end(commit, true)                       // marker at 31
	produce(t, seeds, "t", 0, 15, 5)        // 32-36, plain

	cfg := testConfig(seeds, newRecorder())
	cfg.IsolationLevel = ReadCommitted
	c := newConsumer(t, cfg)
	pc := consume(t, c, "t", 0, Oldest())
	r := newReader(t, pc, 0)
	r.mustRead(20)
	if first, last := r.got[0].Offset, r.got[len(r.got)-1].Offset; first != 10 || last != 36 {
		t.Fatalf("read offsets %d to %d, want 10 to 36", first, last)
	}
	waitFor(t, func() bool { return pc.Lag() == 0 && pc.Position() == 37 })

	open := begin("troupe-open")
	produceWith(t, open, "t", 0, 20, 5) // 37-41, in the open transaction
	produce(t, seeds, "t", 0, 25, 3)    // 42-44, plain, after its start
	waitFor(t, func() bool { return pc.HighWaterMark() == 45 && pc.LastStableOffset() == 37 })
	if pc.Lag() != 0 {
		t.Fatalf("lag %d at the last stable offset", pc.Lag())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if b, err := pc.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a record past the last stable offset was delivered: %v %v", b, err)
	}
	end(open, true) // marker at 45
	r.mustRead(8)
	waitFor(t, func() bool { return pc.Lag() == 0 && pc.Position() == 46 })

	// Newest, under ReadCommitted, is the last stable offset.
	open = begin("troupe-open-2")
	produceWith(t, open, "t", 0, 2000, 2) // 46-47
	if err := pc.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	late := consume(t, c, "t", 0, Newest())
	waitFor(t, func() bool { return late.Position() >= 0 })
	if late.Position() != 46 {
		t.Fatalf("Newest under ReadCommitted is %d, want the last stable offset 46", late.Position())
	}
	end(open, false)
}
