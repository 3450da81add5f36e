package main

import (
	"context"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupConfig describes the group member's configuration for the report.
const groupConfig = "ConsumerGroup, ConsumeTopics, Balancers(RangeBalancer() or CooperativeStickyBalancer()), " +
	"HeartbeatInterval(-heartbeat), DisableAutoCommit(), ConsumeResetOffset(NewOffset().AtStart()), FetchMinBytes(1), " +
	"FetchMaxBytes(50 MiB), FetchMaxPartitionBytes(1 MiB), FetchMaxWait(500ms); OnPartitionsAssigned/Revoked/Lost report to the driver; " +
	"one goroutine calling PollFetches"

// member is one member of the group mode: kgo's group consumer, polling until the driver
// says leave, then Close (which leaves the group). It commits nothing, so a partition
// that moves is read again from its start by its next owner.
func member(m *workload.Member) error {
	balancer := kgo.RangeBalancer()
	if m.Assignor == "cooperative-sticky" {
		balancer = kgo.CooperativeStickyBalancer()
	}
	m.Describe(groupConfig)
	parts := func(assigned map[string][]int32) []int32 { return assigned[workload.Topic] }
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(m.Brokers...),
		kgo.ConsumerGroup(m.Group),
		kgo.ConsumeTopics(workload.Topic),
		kgo.Balancers(balancer),
		kgo.HeartbeatInterval(m.Heartbeat),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMinBytes(1),
		kgo.FetchMaxBytes(50<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.Assigned(parts(a)) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.Revoked(parts(r)) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { m.Revoked(parts(l)) }),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx := m.Context()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		for _, e := range fs.Errors() {
			if e.Err != context.Canceled {
				return fmt.Errorf("partition %d: %w", e.Partition, e.Err)
			}
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if n := len(p.Records); n > 0 {
				m.Batch(p.Partition, n, p.Records[n-1].Offset, p.HighWatermark)
			}
		})
	}
}
