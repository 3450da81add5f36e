package producer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
)

// inPartition runs body as the Run of a driver of a partition producer for t[0] of a producer that
// never reaches a broker (one record per batch), with the given records accepted, sealed
// and given producer ID 1; it fails the test if body fails.
func inPartition(t *testing.T, recs []*troupe.Record, cb func(*troupe.Record, error), body func(pp *partition) error) {
	t.Helper()
	p, err := New(Config{Seeds: []string{"localhost:1"}, MaxBatchRecords: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	}()
	_, proc := actor.Start(context.Background(), "partition", actor.Func[driveMsg](func(_ context.Context, in *actor.Inbox[driveMsg]) error {
		acc := &partAcc{p: p, topic: "t", id: 0, bt: newBatcher(nil, 1<<20, 1, time.Hour, time.Hour)}
		pp := newPartition(p, acc)
		pp.owner, pp.ref, acc.pp = in.Owner(), in.Ref(), pp
		pending := make([]Pending, 0, len(recs))
		for _, r := range recs {
			gen, err := p.budget.acquire(context.Background(), 20)
			if err != nil {
				return err
			}
			pending = append(pending, Pending{rec: r, size: 20, gen: gen, cb: cb})
		}
		acc.add(pending, time.Now(), true) // one record per batch: each is sealed
		pp.collect(time.Now(), false)
		pp.seq.setProducer(1, 0)
		return body(pp)
	}), actor.Options[driveMsg]{})
	if err := proc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A partition producer that gives up (Close past its deadline, a failed incarnation)
// reports everything it holds. A batch already appended, whose result it handled but had
// not reported yet (the result came in its last drain, or waited behind an earlier
// batch), was written: it is reported as written, not failed (found by property_test:
// records reported "not written" were in the log).
func TestAbandonReportsAnAppendedBatchAsWritten(t *testing.T) {
	r := &troupe.Record{Topic: "t", Value: []byte("x")}
	got := make(chan error, 1)
	inPartition(t, []*troupe.Record{r}, func(_ *troupe.Record, err error) { got <- err }, func(pp *partition) error {
		sent := pp.seq.ready(nil)
		if len(sent) != 1 {
			return errors.New("the batch was not sent")
		}
		sent[0].baseOffset = 5
		pp.seq.resolve(sent[0], appended) // its result, handled in the partition's last drain
		pp.abandon(errProducerClosed)
		return nil
	})
	select {
	case err := <-got:
		if err != nil || r.Offset != 5 {
			t.Fatalf("an appended batch abandoned: err %v, offset %d", err, r.Offset)
		}
	default:
		t.Fatal("no outcome")
	}
}

// A batch that failed for its own reason (rejected by the broker) and waits to be
// reported behind a batch still in flight keeps its own error when the partition gives
// up; only the batches without an outcome take the cause of the abandon.
func TestAbandonKeepsAResolvedBatchsOwnError(t *testing.T) {
	first := &troupe.Record{Topic: "t", Value: []byte("a")}
	second := &troupe.Record{Topic: "t", Value: []byte("b")}
	got := make(map[*troupe.Record]error)
	cb := func(r *troupe.Record, err error) { got[r] = err } // called on the partition's goroutine
	inPartition(t, []*troupe.Record{first, second}, cb, func(pp *partition) error {
		pp.seq.confirmed = true // the leader already knows this producer: five may be in flight
		sent := pp.seq.ready(nil)
		if len(sent) != 2 {
			return errors.New("both batches were not sent")
		}
		conn := actor.NewOwner("connection", nil) // stands in for the broker producer and connection
		defer conn.Close()
		for _, b := range sent {
			b.Give(pp.owner)
			b.Take(conn)
		}
		// The second comes back rejected; the first is still in flight when the
		// partition gives up, and its late outcome only releases it.
		sent[1].Give(conn)
		sent[1].Take(pp.owner)
		sent[1].err = errors.New("CORRUPT_MESSAGE")
		pp.seq.resolve(sent[1], rejected)
		pp.abandon(errProducerClosed)
		sent[0].Give(conn)
		pp.outcome(&result{b: sent[0], code: 0, baseOffset: 7}, time.Now())
		return nil
	})
	var re *RecordError
	if err := got[first]; !errors.As(err, &re) || !re.MaybeWritten || !errors.Is(err, errProducerClosed) {
		t.Fatalf("the batch in flight: %v (want maybe written, producer closed)", err)
	}
	err := got[second]
	if !errors.As(err, &re) || re.MaybeWritten || errors.Is(err, errProducerClosed) {
		t.Fatalf("the rejected batch: %v (want its own error, not written)", err)
	}
	if !strings.Contains(err.Error(), "CORRUPT_MESSAGE") {
		t.Fatalf("the rejected batch's error %q does not name its cause", err)
	}
}
