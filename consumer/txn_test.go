package consumer

import (
	"fmt"
	"testing"

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
	pc := consume(t, c, "t", 0, Oldest)
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
