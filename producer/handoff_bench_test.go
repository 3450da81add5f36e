package producer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkHandOffs counts, per sealed batch, the hand-offs after the accumulator at 300,
// 3000 and 10000 partitions (in-process kfake, 3 brokers, BlackholeProduce, 100-byte
// records round robin, the scale mode's settings): the drivers' wake-ups and messages,
// the broker producers' wake-ups and messages, and the batches per request. They measure
// what issue 18's broker-led ownership (sealed batches straight to the leader's broker
// actor, which would also own the partitions' sequencing) would remove: the message from
// driver to broker producer (one per batch) and the results handed to drivers one per
// batch (broker-led: one per request). docs/benchmarks.md has the figures and the
// decision.
//
//	go test -run '^$' -bench HandOffs -benchtime 1x ./producer/
func BenchmarkHandOffs(b *testing.B) {
	for _, parts := range []int{300, 3000, 10000} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			_, seeds := kafkatest.Start(b, kfake.NumBrokers(3), kfake.SeedTopics(int32(parts), "scale"), kfake.BlackholeProduce())
			p, err := New(Config{Seeds: seeds, Linger: 10 * time.Millisecond, MaxBatchBytes: 1 << 20,
				MaxInflightRequests: 5, Partitioner: RoundRobinPartitioner()})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			ctx := context.Background()
			if err := p.ProduceSync(ctx, &troupe.Record{Topic: "scale", Value: make([]byte, 100)}); err != nil {
				b.Fatal(err)
			}
			n := max(200*parts, 200_000) // records per op
			recs := make([]troupe.Record, n)
			value := make([]byte, 100)
			start := p.hopsNow()
			b.ResetTimer()
			for range b.N {
				var wg sync.WaitGroup
				wg.Add(n)
				cb := func(_ *troupe.Record, err error) {
					if err != nil {
						b.Error(err)
					}
					wg.Done()
				}
				for i := range recs {
					recs[i] = troupe.Record{Topic: "scale", Value: value}
					p.Produce(ctx, &recs[i], cb)
				}
				wg.Wait()
			}
			b.StopTimer()
			h := p.hopsNow().minus(start)
			batches := float64(h.sent)
			b.ReportMetric(float64(n*b.N)/batches, "records/batch")
			b.ReportMetric(batches/float64(h.requests), "batches/request")
			b.ReportMetric(float64(h.driverWakes)/batches, "driver-wakes/batch")
			b.ReportMetric(float64(h.driverMsgs)/batches, "driver-msgs/batch")
			b.ReportMetric(float64(h.brokerWakes)/batches, "broker-wakes/batch")
			b.ReportMetric(float64(h.brokerMsgs)/batches, "broker-msgs/batch")
			// What broker-led would not send: the batch to the broker producer, and the
			// results one per batch instead of one per request.
			b.ReportMetric((batches+float64(h.results)-float64(h.requests))/batches, "saved-msgs/batch")
		})
	}
}

// hops is a copy of hopCounts' values.
type hops struct{ driverWakes, driverMsgs, results, brokerWakes, brokerMsgs, requests, sent uint64 }

func (p *Producer) hopsNow() hops {
	c := &p.hops
	return hops{c.driverWakes.Load(), c.driverMsgs.Load(), c.results.Load(), c.brokerWakes.Load(),
		c.brokerMsgs.Load(), c.requests.Load(), c.sent.Load()}
}

func (h hops) minus(o hops) hops {
	return hops{h.driverWakes - o.driverWakes, h.driverMsgs - o.driverMsgs, h.results - o.results,
		h.brokerWakes - o.brokerWakes, h.brokerMsgs - o.brokerMsgs, h.requests - o.requests, h.sent - o.sent}
}
