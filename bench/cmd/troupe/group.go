package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
)

// groupConfig describes the group member's configuration for the report.
const groupConfig = "consumer.Config{MinBytes: 1, MaxBytes: 50 MiB, MaxPartitionBytes: 1 MiB, MaxWait: 500ms, OffsetReset: ResetEarliest}; " +
	"group.Join(group.Config{Topics, Assignors: Range() (cooperative-sticky: CooperativeSticky()), HeartbeatInterval: -heartbeat, " +
	"OnAssigned/OnRevoked/OnLost report to the driver}); one goroutine calling Poll; the member commits what Poll returned before " +
	"giving partitions up (its at-least-once hand-off)"

// member is one member of the group mode: troupe's group member, polling until the
// driver says leave, then Close (which leaves the group).
func member(m *workload.Member) error {
	m.Describe(groupConfig)
	assignor := group.Range()
	if m.Assignor == "cooperative-sticky" {
		assignor = group.CooperativeSticky()
	}
	c, err := consumer.New(consumer.Config{
		Seeds:             m.Brokers,
		MinBytes:          1,
		MaxBytes:          50 << 20,
		MaxPartitionBytes: 1 << 20,
		MaxWait:           500 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	parts := func(as []consumer.About) []int32 {
		out := make([]int32, 0, len(as))
		for _, a := range as {
			if a.Topic == workload.Topic {
				out = append(out, a.Partition)
			}
		}
		return out
	}
	ctx := m.Context()
	g, err := group.Join(ctx, c, group.Config{
		Group:             m.Group,
		Topics:            []string{workload.Topic},
		Assignors:         []group.Assignor{assignor},
		HeartbeatInterval: m.Heartbeat,
		OnAssigned:        func(_ context.Context, as []consumer.About) { m.Assigned(parts(as)) },
		OnRevoked:         func(_ context.Context, as []consumer.About) { m.Revoked(parts(as)) },
		OnLost:            func(_ context.Context, as []consumer.About) { m.Revoked(parts(as)) },
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer g.Close(context.Background())
	for {
		bs, err := g.Poll(ctx)
		if ctx.Err() != nil {
			return g.Close(context.Background())
		}
		if err != nil {
			return err
		}
		for _, b := range bs {
			if b.Err != nil {
				if errors.Is(b.Err, context.Canceled) {
					continue
				}
				return fmt.Errorf("partition %d: %w", b.Partition, b.Err)
			}
			if n := len(b.Records); n > 0 {
				m.Batch(b.Partition, n, b.Records[n-1].Offset, b.HighWaterMark)
			}
		}
	}
}
