package producer_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker that has no state for a producer ID takes any first sequence number from it on
// a partition that already holds records (Kafka 2.5+, KIP-360; only an empty partition
// insists on 0, KAFKA-15591). So the first batches of a new producer ID to such a
// partition are not protected by the broker's sequence check: if the first fails without
// being sent while later ones are already on their way, a later one is appended first.
// Here the produce connection's first handshake fails (kfake closes it), which fails
// the call for batch 0 as not sent; the broker producer then sends batch 1 on the next
// connection, and the broker appends it. Found by property_test's deterministic suite.
func TestNewProducerIDKeepsOrderWhenItsFirstBatchFailsUnsent(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"))
	for p, node := range []int32{1, 0} { // partition 0 on node 1, partition 1 on node 0
		if err := c.MoveTopicPartition("t", int32(p), node); err != nil {
			t.Fatal(err)
		}
	}
	// Partition 0 holds a record, written by another producer.
	first := newProducer(t, producer.Config{Seeds: seeds, Partitioner: producer.ManualPartitioner()})
	if err := first.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Partition: 0, Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}

	p := newProducer(t, producer.Config{Seeds: seeds, Partitioner: producer.ManualPartitioner(),
		Linger: -1, MaxBatchRecords: 1, MaxInflightRequests: 3, Backoff: supervisor.Backoff{Min: time.Millisecond}})
	// Metadata and the producer ID, through partition 1 (node 0).
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Partition: 1, Value: []byte("warm")}); err != nil {
		t.Fatal(err)
	}
	// The next connection to node 1 (the produce connection) fails its handshake.
	var armed atomic.Bool
	armed.Store(true)
	c.ControlKey(int16(kmsg.ApiVersions), func(kmsg.Request) (kmsg.Response, error, bool) {
		if c.CurrentNode() == 1 && armed.CompareAndSwap(true, false) {
			return nil, errors.New("closed during the handshake"), true
		}
		c.KeepControl()
		return nil, nil, false
	})
	const n = 5
	o := newOutcomes(n)
	recs := make([]*troupe.Record, n)
	for i := range recs {
		recs[i] = &troupe.Record{Topic: "t", Partition: 0, Value: []byte(fmt.Sprint(i))}
		p.Produce(context.Background(), recs[i], o.cb)
	}
	o.wait(t)
	last := int64(-1)
	for i, r := range recs {
		if err := o.got[r]; err != nil {
			t.Errorf("record %d: %v", i, err)
			continue
		}
		if r.Offset <= last {
			t.Errorf("record %d written at offset %d, after a later record (offset %d): reordered", i, r.Offset, last)
		}
		last = max(last, r.Offset)
	}
}
