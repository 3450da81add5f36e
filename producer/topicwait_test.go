package producer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/wire/cluster"
)

// Records for a topic the snapshot does not have wait while the topic producer asks for
// metadata. When a refresh fails at once (the client is closed, or its metadata breaker
// is open), the next request must wait: asking again straight away made the topic
// producer's loop spin for as long as the records waited (UnknownTopicWait), and under
// testing/synctest kept the bubble's clock from ever reaching that deadline (found by
// property_test's deterministic suite). Without the backoff this test never ends.
func TestUnknownTopicWaitBacksOffWhenRefreshesFailAtOnce(t *testing.T) {
	syncTestWithin(t, 20*time.Second, "the bubble's clock could not reach UnknownTopicWait", func(t *testing.T) {
		c, err := cluster.Open(context.Background(), cluster.Config{Seeds: []string{"localhost:1"}})
		if err != nil {
			t.Error(err)
			return
		}
		if err := c.Close(context.Background()); err != nil {
			t.Error(err)
			return
		}
		p, err := producer.New(producer.Config{Client: c, UnknownTopicWait: time.Second})
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close(context.Background())
		start := time.Now()
		err = p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("x")})
		if !errors.Is(err, cluster.ErrClosed) || !errors.Is(err, troupe.ErrNotWritten) || errors.Is(err, producer.ErrUnknownTopic) {
			t.Errorf("a record for a topic metadata cannot describe: %v", err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("failed after %v, before UnknownTopicWait", waited)
		}
	})
}
