package producer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A partition producer whose producer ID request fails backs off before asking again.
// The request can fail at once (the admin connection's breaker is open after the broker
// closed it three times): asking again at once made the partition producer spin until
// the breaker let a reconnect through, and under testing/synctest kept the bubble's clock
// from ever getting there (found by property_test's deterministic suite). Without the
// backoff this test never ends.
func TestProducerIDRequestsBackOff(t *testing.T) {
	syncTestWithin(t, 20*time.Second, "the bubble's clock could not reach the delivery timeout", func(t *testing.T) {
		vn := &kfake.VirtualNetwork{}
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9092), kfake.ListenFn(vn.Listen), kfake.SeedTopics(1, "t"))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			return nil, errors.New("no producer IDs today"), true // close the connection
		})
		p, err := producer.New(producer.Config{
			Seeds:           c.ListenAddrs(),
			DeliveryTimeout: 2 * time.Second,
			Cluster: cluster.Config{Broker: broker.Config{
				Dial:    vn.DialContext,
				Breaker: supervisor.BreakerConfig{Errors: 3, Timeout: time.Second},
			}},
		})
		if err != nil {
			t.Error(err)
			return
		}
		defer p.Close(context.Background())
		err = p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("x")})
		if !errors.Is(err, producer.ErrDeliveryTimeout) || !errors.Is(err, troupe.ErrNotWritten) {
			t.Errorf("a record without a producer ID: %v", err)
		}
	})
}
