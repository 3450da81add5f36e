package group_test

import (
	"context"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/cluster"
)

// ExampleConfig_topicPattern subscribes a member to every topic whose name starts with
// "orders-": it reads orders-eu, which exists when it joins, and orders-us, created
// later, but not audit.
func ExampleConfig_topicPattern() {
	kc, seeds, err := kafkatest.Embedded(1, 1, "orders-eu", "audit")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := consumer.New(consumer.Config{
		Seeds: seeds,
		// A classic member lists the cluster's topics at the client's RefreshInterval
		// (5m by default); this example does not want to wait that long.
		Cluster: cluster.Config{RefreshInterval: 100 * time.Millisecond},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = c.Close(context.Background()) }()
	m, err := group.Join(ctx, c, group.Config{
		Group:        "shipping",
		TopicPattern: `orders-.*`, // whole names: "orders-eu", not "reorders-eu"
	})
	if err != nil {
		fmt.Println(err) // errors.Is(err, group.ErrInvalidConfig) for `orders-(`
		return
	}
	defer func() { _ = m.Close(context.Background()) }()

	for _, topic := range []string{"orders-eu", "audit"} {
		if err := produce(seeds, topic, 1, 3); err != nil {
			fmt.Println(err)
			return
		}
	}
	readFrom := func(topic string, n int) {
		read := 0
		for rec, err := range m.Records(ctx) {
			if err != nil {
				fmt.Println(err)
				return
			}
			if rec.Topic != topic {
				fmt.Println("unexpected", rec.Topic)
			}
			if read++; read == n {
				break
			}
		}
		fmt.Println("read", read, "from", topic)
	}
	readFrom("orders-eu", 3)

	// A topic created after the member joined: the member notices it at its next
	// listing, rejoins, and reads it.
	if err := kc.CreateTopic("orders-us", 1, nil); err != nil {
		fmt.Println(err)
		return
	}
	if err := produce(seeds, "orders-us", 1, 3); err != nil {
		fmt.Println(err)
		return
	}
	readFrom("orders-us", 3)
	// Output:
	// read 3 from orders-eu
	// read 3 from orders-us
}
