package producer_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// A broker that metadata stops listing (it went down: a restart, one broker at a time)
// has its connections retired; when it comes back at the same address and leads a
// partition again, the partition's records reach it. The partition was idle while the
// broker was gone, so it still routed to the broker producer it had: that broker
// producer held the retired connection, every send failed at once as not sent, and the
// partition refreshed metadata after every backoff without a produce request ever
// leaving, until the delivery timeout (issue 16).
func TestBrokerBackAtItsAddressGetsRecordsAgain(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(1, "t"))
	client, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds, MinRefreshInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})
	p := newProducer(t, producer.Config{Client: client, Backoff: supervisor.Backoff{Min: 10 * time.Millisecond}, DeliveryTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}

	leader := c.LeaderFor("t", 0)
	_, port, err := net.SplitHostPort(c.ListenAddrs()[leader])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveNode(leader); err != nil {
		t.Fatal(err)
	}
	// The metadata without the leader retires its connections.
	if _, err := client.Refresh(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	if _, _, err := c.AddNode(leader, n); err != nil {
		t.Fatal(err)
	}
	if err := c.MoveTopicPartition("t", 0, leader); err != nil {
		t.Fatal(err)
	}
	snap, err := client.Refresh(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if b, _, err := snap.Leader("t", 0); err != nil || b.ID != leader {
		t.Fatalf("metadata after the broker came back: leader %+v, %v; want node %d", b, err, leader)
	}

	done := make(chan error, 1)
	p.Produce(ctx, &troupe.Record{Topic: "t", Value: []byte("after")}, func(_ *troupe.Record, err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the record for the broker that came back: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("no outcome for the record within 20s")
	}
}
