package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupConfig describes the group member's configuration for the report.
const groupConfig = "ConsumerGroup, ConsumeTopics, Balancers(RangeBalancer() or CooperativeStickyBalancer(); kip848: ServerSideBalancer() with StickyBalancer(), the coordinator's uniform assignor), " +
	"HeartbeatInterval(-heartbeat), autocommit (default 5s) and a blocking CommitUncommittedOffsets in OnPartitionsRevoked (records are processed as they are polled), ConsumeResetOffset(NewOffset().AtStart()), FetchMinBytes(1), " +
	"FetchMaxBytes(50 MiB), FetchMaxPartitionBytes(1 MiB), FetchMaxWait(500ms); OnPartitionsAssigned/Revoked/Lost report to the driver; " +
	"one goroutine calling PollFetches"

// member is one member of the group mode: kgo's group consumer, polling until the driver
// says leave, then Close (which leaves the group). It commits what it polled, on kgo's
// autocommit interval and, blocking, when partitions are revoked (as troupe's member
// commits the records the user finished before giving partitions up), so a partition's
// next owner resumes where it left off.
func member(m *workload.Member) error {
	var opts []kgo.Opt
	switch m.Assignor {
	case "cooperative-sticky":
		opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()))
	case workload.KIP848:
		// kgo asks the coordinator for its uniform assignor with the sticky balancer.
		opts = append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.StickyBalancer()))
	default:
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()))
	}
	if m.Recycle {
		opts = append(opts, kgo.WithPools(new(recordPool)))
		m.Describe(groupConfig + "; WithPools(a PoolRecords), each record recycled once counted (Record.Recycle)")
	} else {
		m.Describe(groupConfig)
	}
	parts := func(assigned map[string][]int32) []int32 { return assigned[workload.Topic] }
	cl, err := kgo.NewClient(append(opts,
		kgo.SeedBrokers(m.Brokers...),
		kgo.ConsumerGroup(m.Group),
		kgo.ConsumeTopics(workload.Topic),
		kgo.HeartbeatInterval(m.Heartbeat),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMinBytes(1),
		kgo.FetchMaxBytes(50<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.Assigned(parts(a)) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			m.Revoking(parts(r))
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				m.Fail(fmt.Errorf("commit on revoke: %w", err))
			}
			m.Revoked(parts(r))
			// kgo releases the partitions when this callback returns.
			m.Released(parts(r))
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { m.Revoked(parts(l)) }),
	)...)
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
				m.Batch(p.Partition, n, p.Records[0].Timestamp, p.Records[n-1].Offset, p.HighWatermark)
			}
			if m.Recycle {
				for _, r := range p.Records {
					r.Recycle()
				}
			}
		})
	}
}

// trickle produces t.Rate records a second, to each partition in turn, paced by a ticker
// of 10 ms, until the driver says stop; it waits for every record to be acknowledged.
func trickle(t *workload.Trickle) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx := context.Background()
	var failed atomic.Value
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, err)
		}
	}
	const tick = 10 * time.Millisecond
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	start := time.Now()
	var n int64
	for {
		select {
		case <-t.Stopped():
			if err := cl.Flush(ctx); err != nil {
				return n, err
			}
			if err, _ := failed.Load().(error); err != nil {
				return n, err
			}
			return n, nil
		case now := <-ticker.C:
			due := int64(now.Sub(start).Seconds() * float64(t.Rate))
			for ; n < due; n++ {
				p := int32(n % int64(t.Partitions))
				cl.Produce(ctx, &kgo.Record{Topic: workload.Topic, Partition: p, Value: workload.Value(int(n))}, promise)
			}
		}
	}
}
