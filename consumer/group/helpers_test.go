package group

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// testTimeout bounds every wait in these tests: they wait for events, never sleep.
const testTimeout = 60 * time.Second

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startKfake starts an in-memory cluster with topic "t" of parts partitions.
func startKfake(t testing.TB, parts int, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	t.Helper()
	return kafkatest.Start(t, append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(int32(parts), "t")}, opts...)...)
}

// newConsumer starts a consumer tuned for fast tests, closed when the test ends.
func newConsumer(t testing.TB, seeds []string, reset ...consumer.ResetPolicy) *consumer.Consumer {
	t.Helper()
	var policy consumer.ResetPolicy
	if len(reset) > 0 {
		policy = reset[0]
	}
	return newConsumerWith(t, seeds, func(c *consumer.Config) { c.OffsetReset = policy })
}

// newConsumerWith is newConsumer with change applied to its Config.
func newConsumerWith(t testing.TB, seeds []string, change func(*consumer.Config)) *consumer.Consumer {
	t.Helper()
	backoff := supervisor.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}
	cfg := consumer.Config{
		Seeds: seeds,
		Cluster: cluster.Config{MinRefreshInterval: 10 * time.Millisecond, Broker: broker.Config{
			Backoff: backoff,
			// Connections that tests break on purpose come back soon.
			Breaker: supervisor.BreakerConfig{Timeout: 200 * time.Millisecond},
		}},
		MaxWait: 50 * time.Millisecond,
		Backoff: backoff,
	}
	change(&cfg)
	c, err := consumer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("consumer close: %v", err)
		}
	})
	return c
}

// testGroupConfig is a Config with fast heartbeats.
func testGroupConfig(group string) Config {
	return Config{
		Group: group, Topics: []string{"t"}, Assignors: []Assignor{Range()},
		SessionTimeout: 10 * time.Second, HeartbeatInterval: 50 * time.Millisecond,
		ProcessingTime: 10 * time.Second,
		// Off, so that what a test expects committed does not depend on its speed;
		// TestAutoCommit turns it on.
		DisableAutoCommit: true,
		Backoff:           supervisor.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond},
	}
}

// produceN writes n records to each of parts partitions of "t", values "p/i" numbered
// from first.
func produceN(t testing.TB, seeds []string, parts, first, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range parts {
		for i := first; i < first+n; i++ {
			recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(p), Value: []byte(fmt.Sprintf("%d/%d", p, i))})
		}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// committedOffsets reads the group's committed offsets with franz-go's raw requests.
func committedOffsets(t testing.TB, seeds []string, group string) map[int32]int64 {
	t.Helper()
	// Kafka 3.0's versions: OffsetFetch v7, one group per request.
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MaxVersions(kversion.V3_0_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	resp, err := req.RequestWith(ctxT(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int32]int64)
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			if p.Offset >= 0 {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out
}
