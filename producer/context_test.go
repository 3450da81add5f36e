package producer_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// values lists the values of topic's records in partition 0, in offset order, as kgo
// reads them back.
func values(t *testing.T, seeds []string, topic string) []string {
	t.Helper()
	var out []string
	for _, r := range kafkatest.ReadAll(t, seeds, topic)[0] {
		out = append(out, string(r.Value))
	}
	return out
}

// A context already done at the door refuses the record even when the budget has room:
// the caller learns it was not written (and why), and nothing reaches the log. Before,
// the record was accepted and written, and ProduceSync returned the bare context error
// (or nil, whichever its select picked), so the caller could not tell whether to resend.
func TestDoneContextRefusesTheRecordAtTheDoor(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: -1})

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	errWhy := errors.New("the caller gave up")
	withCause, cancel3 := context.WithCancelCause(context.Background())
	cancel3(errWhy)

	for _, c := range []struct {
		name string
		ctx  context.Context
		want []error
	}{
		{"cancelled", cancelled, []error{context.Canceled}},
		{"past its deadline", expired, []error{context.DeadlineExceeded}},
		{"cancelled with a cause", withCause, []error{context.Canceled, errWhy}},
	} {
		err := p.ProduceSync(c.ctx, &troupe.Record{Topic: "t", Value: []byte("sync " + c.name)})
		var ran atomic.Bool
		p.Produce(c.ctx, &troupe.Record{Topic: "t", Value: []byte("async " + c.name)}, func(_ *troupe.Record, cbErr error) {
			ran.Store(true)
			if !errors.Is(cbErr, troupe.ErrNotWritten) {
				t.Errorf("%s: Produce's callback: %v", c.name, cbErr)
			}
		})
		if !ran.Load() {
			t.Errorf("%s: Produce returned before refusing the record", c.name)
		}
		if !errors.Is(err, troupe.ErrNotWritten) || errors.Is(err, troupe.ErrMaybeWritten) {
			t.Errorf("%s: ProduceSync: %v, want not written", c.name, err)
		}
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: ProduceSync: %v does not match %v", c.name, err, w)
			}
		}
	}
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if got := values(t, seeds, "t"); len(got) != 1 || got[0] != "after" {
		t.Fatalf("the log holds %q, want only the record produced with a live context", got)
	}
}

// watchedContext tells when someone first waits on it: Produce checks a context at the
// door with Err, and waits on Done only while the budget is spent.
type watchedContext struct {
	context.Context
	once  sync.Once
	waits chan struct{}
}

func (c *watchedContext) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waits) })
	return c.Context.Done()
}

// A record refused while it waited for budget is not written either: the log holds the
// records that held the budget and the one produced after, not the refused one.
func TestContextEndingInTheBudgetWaitWritesNothing(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	release := make(chan struct{})
	var held atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if held.CompareAndSwap(false, true) {
			c.SleepControl(func() { <-release }) // hold the first produce until released
		}
		return nil, nil, false
	})
	p := newProducer(t, producer.Config{Seeds: seeds, MaxBufferedRecords: 1, Linger: -1})
	o := newOutcomes(1)
	p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte("first")}, o.cb)
	parent, cancel := context.WithCancel(context.Background())
	ctx := &watchedContext{Context: parent, waits: make(chan struct{})}
	waiting := make(chan error, 1)
	go func() { waiting <- p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("refused")}) }()
	select {
	case <-ctx.waits: // past the door: Produce waits for budget
	case <-time.After(30 * time.Second):
		t.Fatal("Produce never waited for budget")
	}
	cancel()
	if err := <-waiting; !errors.Is(err, troupe.ErrNotWritten) || !errors.Is(err, context.Canceled) {
		t.Fatalf("a record whose context ended while the budget was spent: %v", err)
	}
	close(release)
	o.wait(t)
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if got := values(t, seeds, "t"); len(got) != 2 || got[0] != "first" || got[1] != "after" {
		t.Fatalf("the log holds %q, want first and after", got)
	}
}

// ProduceSync whose context ends after the record was accepted, while the broker holds
// its response, reports that the record may have been written (with the context's error),
// and the record's fate is the producer's: here it is written. Before, ProduceSync
// returned the bare context error.
func TestProduceSyncContextEndingAfterAcceptanceIsMaybeWritten(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: -1})
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // a failed test does not hang kfake
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(seen)
		c.SleepControl(func() { <-release }) // the broker has the request; its answer waits
		return nil, nil, false
	})
	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("held")}) }()
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		t.Fatal("the produce request never reached the broker")
	}
	cancel()
	err := <-result
	if !errors.Is(err, troupe.ErrMaybeWritten) || errors.Is(err, troupe.ErrNotWritten) || !errors.Is(err, context.Canceled) {
		t.Fatalf("ProduceSync whose context ended while the outcome was unknown: %v", err)
	}
	releaseOnce.Do(func() { close(release) })
	flush, cancelFlush := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelFlush()
	if err := p.Flush(flush); err != nil {
		t.Fatal(err)
	}
	if got := values(t, seeds, "t"); len(got) != 2 || got[1] != "held" {
		t.Fatalf("the log holds %q: the context changed the accepted record's fate", got)
	}
}
