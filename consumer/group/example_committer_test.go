package group_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/internal/kafkatest"
)

// writeOrders writes n records to each of the partitions of topic with franz-go, so that the
// example shows only the consumer side.
func writeOrders(seeds []string, topic string, partitions int32, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range partitions {
		for range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("order")})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// ExampleCommitter reads two partitions it assigns itself, resuming where the group
// "billing" committed, and commits only what it processed: records read but not
// processed are read again by whoever resumes from the commit.
func ExampleCommitter() {
	kc, seeds, err := kafkatest.Embedded(1, 2, "orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	if err := writeOrders(seeds, "orders", 2, 5); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ctx)
	parts := []consumer.About{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}}

	// The first run: a new group, so both partitions start at their oldest record.
	cm, err := group.NewCommitter(c, "billing", group.CommitterConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := c.NewReader()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cm.Assign(ctx, r, parts...); err != nil {
		fmt.Println(err) // a partition without a commit under ResetNone: errors.Is(err, group.ErrNoCommittedOffset)
		return
	}
	processed := 0
	for rec, err := range r.Records(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if rec.Partition == 1 && rec.Offset >= 3 {
			continue // read, but not processed: not committed
		}
		processed++ // ... the work ...
		if err := cm.MarkRecords(rec); err != nil {
			fmt.Println(err)
			return
		}
		if processed == 8 {
			break
		}
	}
	if err := cm.Close(ctx); err != nil { // the last commit: what was marked
		fmt.Println(err) // a *group.CommitError names each partition refused
		return
	}
	_ = r.Close(ctx)

	// The next run resumes after what was processed.
	next, err := group.NewCommitter(c, "billing", group.CommitterConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer next.Close(ctx)
	starts, err := next.Starts(ctx, parts...)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range parts {
		// With the leader epoch of the last record processed: the reader checks that the
		// log was not truncated under it (KIP-320).
		fmt.Printf("%s resumes at %s\n", p, starts[p])
	}
	// Output:
	// orders[0] resumes at 5 (epoch 0)
	// orders[1] resumes at 3 (epoch 0)
}
