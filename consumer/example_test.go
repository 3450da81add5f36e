package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
)

// seed writes n records to each of the partitions of topic (values "p/i"), with franz-go
// so that the examples show only the consumer.
func seed(seeds []string, topic string, partitions int32, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range partitions {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(strconv.Itoa(int(p)) + "/" + strconv.Itoa(i))})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// ExampleConsumer_ReadTopics reads every partition of a topic, with no goroutine or actor
// per partition, until it has what the partitions held when it started: UntilCaughtUp
// makes Batches end (with ErrCaughtUp, which the iterator does not report) once every
// partition reached the end it had then.
func ExampleConsumer_ReadTopics() {
	kc, seeds, err := kafkatest.Embedded(1, 3, "orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	if err := seed(seeds, "orders", 3, 4); err != nil {
		fmt.Println(err)
		return
	}

	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err) // an invalid Config: errors.Is(err, consumer.ErrInvalidConfig)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer c.Close(ctx)

	r, err := c.ReadTopics(ctx, consumer.Oldest(), "orders")
	if err != nil {
		fmt.Println(err) // an unknown topic: errors.Is(err, consumer.ErrUnknownTopic)
		return
	}
	if err := r.UntilCaughtUp(ctx); err != nil {
		fmt.Println(err)
		return
	}
	perPartition := make(map[int32]int)
	for b, err := range r.Batches(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		perPartition[b.Partition] += len(b.Records) // each batch is one partition's, in offset order
	}
	fmt.Println("records per partition:", perPartition)
	// Output:
	// records per partition: map[0:4 1:4 2:4]
}

// ExampleConsumer_ConsumePartition reads one partition from an exact offset, one record
// at a time, with the iterator over its batches. Oldest(), Newest() and AtTime(t) are the
// other places to start; At(n) with a negative n fails with ErrInvalidOffset.
func ExampleConsumer_ConsumePartition() {
	kc, seeds, err := kafkatest.Embedded(1, 1, "orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	if err := seed(seeds, "orders", 1, 5); err != nil {
		fmt.Println(err)
		return
	}

	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer c.Close(ctx)

	if _, err := c.ConsumePartition(ctx, "orders", 0, consumer.At(-1)); errors.Is(err, consumer.ErrInvalidOffset) {
		fmt.Println("At(-1) is not an offset: say Newest()")
	}
	pc, err := c.ConsumePartition(ctx, "orders", 0, consumer.At(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pc.Close(ctx)
	for rec, err := range pc.Records(ctx) {
		if err != nil {
			fmt.Println(err) // final for this partition (a *TruncationError is reported and skipped)
			return
		}
		fmt.Printf("offset %d: %s\n", rec.Offset, rec.Value)
		if rec.Offset == 4 {
			break
		}
	}
	// Output:
	// At(-1) is not an offset: say Newest()
	// offset 2: 0/2
	// offset 3: 0/3
	// offset 4: 0/4
}

// ExamplePartitionConsumer_Pause holds a partition back without losing its place: while
// it is paused Next hands nothing over (here it waits until its context's deadline), and
// after Resume the partition goes on exactly where it stopped.
func ExamplePartitionConsumer_Pause() {
	kc, seeds, err := kafkatest.Embedded(1, 1, "orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	if err := seed(seeds, "orders", 1, 3); err != nil {
		fmt.Println(err)
		return
	}

	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer c.Close(ctx)

	pc, err := c.ConsumePartition(ctx, "orders", 0, consumer.Oldest())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pc.Close(ctx)

	pc.Pause()
	short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = pc.Next(short)
	stop()
	fmt.Println("paused:", pc.Paused(), errors.Is(err, context.DeadlineExceeded))

	pc.Resume()
	var offsets []int64
	for len(offsets) < 3 {
		b, err := pc.Next(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, rec := range b.Records {
			offsets = append(offsets, rec.Offset)
		}
	}
	fmt.Println("after Resume:", offsets)
	// Output:
	// paused: true true
	// after Resume: [0 1 2]
}
