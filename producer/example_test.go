package producer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
)

// ExampleProducer_ProduceSync writes one record and waits for its outcome: the simplest
// use, one round trip per record. The error, if any, says whether the record may have been
// written (troupe.ErrMaybeWritten) or certainly was not (troupe.ErrNotWritten), which is
// what decides whether to send it again.
func ExampleProducer_ProduceSync() {
	kc, seeds, err := kafkatest.Embedded(1, 1, "greetings")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	p, err := producer.New(producer.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err) // an invalid Config: errors.Is(err, producer.ErrInvalidConfig)
		return
	}
	defer p.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &troupe.Record{Topic: "greetings", Key: []byte("k"), Value: []byte("hello")}
	switch err := p.ProduceSync(ctx, r); {
	case err == nil:
		fmt.Printf("written to %s[%d] at offset %d\n", r.Topic, r.Partition, r.Offset)
	case errors.Is(err, troupe.ErrNotWritten):
		fmt.Println("not written, safe to send again:", err)
	default: // troupe.ErrMaybeWritten
		fmt.Println("may have been written:", err)
	}
	// Output:
	// written to greetings[0] at offset 0
}

// ExampleProducer_Produce hands records over without waiting: each callback runs once,
// on a producer goroutine, in offset order within a partition, and must not block. Flush
// waits until every record handed over so far has its outcome.
func ExampleProducer_Produce() {
	kc, seeds, err := kafkatest.Embedded(1, 3, "events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	p, err := producer.New(producer.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		mu      sync.Mutex
		written int
		failed  []error
	)
	for i := range 1000 {
		r := &troupe.Record{Topic: "events", Key: fmt.Appendf(nil, "user-%d", i%10), Value: []byte("clicked")}
		p.Produce(ctx, r, func(r *troupe.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, err)
				return
			}
			written++
		})
	}
	if err := p.Flush(ctx); err != nil {
		fmt.Println("flush:", err)
		return
	}
	mu.Lock()
	fmt.Println("written:", written, "failed:", len(failed))
	mu.Unlock()
	fmt.Println("close:", p.Close(ctx))
	// Output:
	// written: 1000 failed: 0
	// close: <nil>
}

// ExampleProducer_Produce_closed shows the answer to a record handed to a closed
// producer: refused at the door, before Produce returns, as not written and closed.
func ExampleProducer_Produce_closed() {
	kc, seeds, err := kafkatest.Embedded(1, 1, "events")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kc.Close()
	p, err := producer.New(producer.Config{Seeds: seeds})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = p.Close(context.Background())
	p.Produce(context.Background(), &troupe.Record{Topic: "events", Value: []byte("late")}, func(_ *troupe.Record, err error) {
		fmt.Println("not written:", errors.Is(err, troupe.ErrNotWritten), "closed:", errors.Is(err, troupe.ErrClosed))
	})
	// Output:
	// not written: true closed: true
}
