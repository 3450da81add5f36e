package producer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Close waits for the records accepted before it, also after a Flush of an idle producer,
// which used to leave an empty flush generation behind that made the next Flush and Close
// return at once: Close then stopped the producer, failed the records in flight as
// "producer closed", and reported success.
func TestCloseAfterAnIdleFlushWaitsForRecordsInFlight(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	p, err := producer.New(producer.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(context.Background()); err != nil { // idle: nothing to wait for
		t.Fatal(err)
	}
	release := make(chan struct{})
	held, resumed := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if once.CompareAndSwap(false, true) {
			close(held)
			c.SleepControl(func() { <-release }) // hold the first produce until released
			close(resumed)
		}
		return nil, nil, false
	})
	defer func() {
		// Let the broker take the held request up again before the cluster closes (at
		// cleanup): kfake's run loop deadlocks, and leaks, if the cluster closes while it
		// wakes a slept control function (seen once in CI, as a goroutine left behind).
		close(release)
		select {
		case <-resumed:
		case <-time.After(30 * time.Second):
			t.Error("the held produce request was never taken up again")
		}
	}()
	got := make(chan error, 1)
	p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte("x")}, func(_ *troupe.Record, err error) { got <- err })
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the produce request never reached the broker")
	}
	// The broker holds the record past Close's deadline: Close must say it could not
	// deliver everything, and the record may have been written.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil {
		t.Fatal("Close reported success while the broker still held a record")
	}
	if err := <-got; !errors.Is(err, troupe.ErrMaybeWritten) {
		t.Fatalf("the record held by the broker past Close's deadline: %v", err)
	}
}
