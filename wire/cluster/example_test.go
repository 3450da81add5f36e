package cluster_test

import (
	"context"
	"fmt"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/cluster"
)

// ExampleClient_ListOffsets asks where two partitions begin and end, in one call: the
// queries are grouped by leader, one request per broker.
func ExampleClient_ListOffsets() {
	kc, seeds, err := kafkatest.Embedded(2, 2, "events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	ctx := context.Background()
	c, err := cluster.Open(ctx, cluster.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ctx)

	got, err := c.ListOffsets(ctx, cluster.ReadCommitted,
		cluster.OffsetQuery{Topic: "events", Partition: 0, At: cluster.OffsetOldest},
		cluster.OffsetQuery{Topic: "events", Partition: 0, At: cluster.OffsetNewest},
		cluster.OffsetQuery{Topic: "events", Partition: 1, At: cluster.OffsetNewest},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range got {
		if o.Err != nil {
			fmt.Println(o.Topic, o.Partition, o.Err)
			continue
		}
		fmt.Printf("%s[%d] at %d: offset %d\n", o.Topic, o.Partition, o.At, o.Offset)
	}
	// Output:
	// events[0] at -2: offset 0
	// events[0] at -1: offset 0
	// events[1] at -1: offset 0
}
