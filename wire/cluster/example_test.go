package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// ExampleOpen opens a client on a list of seed brokers and closes it. Open contacts no
// broker; the first Refresh does. The context given to Open bounds the client's whole
// life, so it is not a call's deadline: Close stops the client.
func ExampleOpen() {
	kc, seeds, err := kafkatest.Embedded(1, 3, "events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	c, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err) // an invalid Config: errors.Is(err, cluster.ErrInvalidConfig)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := c.Refresh(ctx, "events")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("events has", len(snap.Topic("events").Partitions), "partitions")
	fmt.Println("close:", c.Close(ctx))
	// Output:
	// events has 3 partitions
	// close: <nil>
}

// ExampleClient_Snapshot reads the current view of the cluster without waiting: a
// Snapshot is immutable, and a new one replaces it after every metadata response. It is
// what a hot path reads (which broker leads a partition); Refresh is for when it must be
// newer than now.
func ExampleClient_Snapshot() {
	kc, seeds, err := kafkatest.Embedded(1, 2, "events")
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
	fmt.Println("before any refresh:", c.Snapshot().Topic("events") == nil)
	if _, err := c.Refresh(ctx, "events"); err != nil { // the topic is kept fresh from now on
		fmt.Println(err)
		return
	}

	snap := c.Snapshot()
	for p := range int32(2) {
		leader, _, err := snap.Leader("events", p) // and the leader epoch, for fencing
		if err != nil {
			fmt.Println(err) // no leader now: errcode.LeaderNotAvailable, say
			return
		}
		fmt.Printf("events[%d] is led by broker %d\n", p, leader.ID)
	}
	// Output:
	// before any refresh: true
	// events[0] is led by broker 0
	// events[1] is led by broker 0
}

// ExampleClient_Refresh asks for a topic that does not exist. Refresh asks again, with
// backoff, up to TopicRetries times, then answers with the topic as described: its Err
// says what is wrong. A Refresh fails only when no broker answers (ErrUnavailable), the
// client is closed (ErrClosed), or ctx ends.
func ExampleClient_Refresh() {
	kc, seeds, err := kafkatest.Embedded(1, 1, "events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	ctx := context.Background()
	c, err := cluster.Open(ctx, cluster.Config{Seeds: seeds, MinRefreshInterval: time.Millisecond, TopicRetries: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ctx)

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	snap, err := c.Refresh(ctx, "events", "missing")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"events", "missing"} {
		t := snap.Topic(name)
		fmt.Printf("%s: unknown %v, %d partitions\n", name, errors.Is(t.Err, errcode.UnknownTopicOrPartition), len(t.Partitions))
	}
	// Output:
	// events: unknown false, 1 partitions
	// missing: unknown true, 0 partitions
}

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
		cluster.OffsetQuery{Topic: "events", Partition: 0, At: cluster.Oldest},
		cluster.OffsetQuery{Topic: "events", Partition: 0, At: cluster.Newest},
		cluster.OffsetQuery{Topic: "events", Partition: 1, At: cluster.Newest},
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
