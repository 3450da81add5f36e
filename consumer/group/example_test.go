package group_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/internal/kafkatest"
)

// ExampleJoin runs two members of one group in one process: the first reads every
// partition, the second joining moves half of them over (the first gives them up,
// committing what its user finished), and each member then reads only its own.
func ExampleJoin() {
	kc, seeds, err := kafkatest.Embedded(1, 4, "orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := group.Config{
		Group:             "billing",
		Topics:            []string{"orders"},
		HeartbeatInterval: 100 * time.Millisecond, // the default, 3s, would make the example slow to rebalance
		OnRevoked: func(ctx context.Context, parts []consumer.About) {
			// The user came back from the records in hand; the member commits what was
			// finished after this returns, then gives the partitions up.
		},
	}
	join := func() *group.Member {
		c, err := consumer.New(consumer.Config{Seeds: seeds})
		if err != nil {
			panic(err)
		}
		m, err := group.Join(ctx, c, cfg)
		if err != nil {
			panic(err) // errors.Is(err, errcode.GroupAuthorizationFailed), say
		}
		context.AfterFunc(ctx, func() { _ = c.Close(context.Background()) })
		return m
	}
	first := join()
	if err := produce(seeds, "orders", 4, 5); err != nil {
		fmt.Println(err)
		return
	}
	read := 0
	for _, err := range first.Records(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if read++; read == 20 {
			break
		}
	}
	fmt.Println("the first member read", read)

	// A second member: the first gives up everything when it next polls (a rebalance
	// waits for its user to come back from the records in hand), then both rejoin.
	// A member's user polls in a loop of its own, usually a goroutine per member.
	polled := make(chan error, 1)
	go func() {
		_, err := first.Poll(ctx) // back: its next records are of its new partitions
		polled <- err
	}()
	second := join()
	fmt.Println("the second member owns", len(second.Assigned()), "partitions")
	_ = first.Close(ctx) // its Poll returns ErrClosed
	fmt.Println(errors.Is(<-polled, group.ErrClosed))
	_ = second.Close(ctx)
	// Output:
	// the first member read 20
	// the second member owns 2 partitions
	// true
}

// produce writes n records to each partition of topic, with franz-go so that the example
// shows only the group.
func produce(seeds []string, topic string, partitions int32, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range partitions {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(strconv.Itoa(i))})
		}
	}
	return cl.ProduceSync(context.Background(), recs...).FirstErr()
}
