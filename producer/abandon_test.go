package producer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
)

// A partition producer that gives up (Close past its deadline, a failed incarnation)
// reports everything it holds. A batch already appended, whose result it handled but had
// not reported yet (the result came in its last drain, or waited behind an earlier
// batch), was written: it is reported as written, not failed (found by property_test:
// records reported "not written" were in the log).
func TestAbandonReportsAnAppendedBatchAsWritten(t *testing.T) {
	p, err := New(Config{Seeds: []string{"localhost:1"}, MaxBatchRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	}()
	r := &troupe.Record{Topic: "t", Value: []byte("x")}
	got := make(chan error, 1)
	_, proc := actor.Start(context.Background(), "partition", actor.Func[partMsg](func(_ context.Context, in *actor.Inbox[partMsg]) error {
		pp := newPartition(p, "t", 0)
		pp.in = in
		gen, err := p.budget.acquire(context.Background(), 20)
		if err != nil {
			return err
		}
		pp.accept([]Pending{{rec: r, topic: "t", size: 20, gen: gen, cb: func(_ *troupe.Record, err error) { got <- err }}}, time.Now())
		pp.seq.setProducer(1, 0)
		sent := pp.seq.ready(nil)
		if len(sent) != 1 {
			return errors.New("the batch was not sent")
		}
		sent[0].baseOffset = 5
		pp.seq.resolve(sent[0], appended) // its result, handled in the partition's last drain
		pp.abandon(errProducerClosed)
		return nil
	}))
	if err := proc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil || r.Offset != 5 {
			t.Fatalf("an appended batch abandoned: err %v, offset %d", err, r.Offset)
		}
	default:
		t.Fatal("no outcome")
	}
}
