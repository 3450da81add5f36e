// Command kafkago runs one benchmark job (produce or consume) with segmentio's kafka-go
// client; the bench driver starts it, one process per run. See bench/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/troupe-go/troupe/bench/internal/workload"
)

func main() {
	workload.Main("kafka-go", "github.com/segmentio/kafka-go", produce, consume)
}

// window is the most records the runner lets kafka-go hold unacknowledged: the async
// Writer has no bound of its own, and the other producers hold at most 100000 records
// (their buffer budgets) too.
const window = 100_000

// produce hands the job's records to an async Writer one WriteMessages call each and
// counts them in its Completion callback.
func produce(j *workload.Job, t *workload.Tally) error {
	slots := make(chan struct{}, window)
	w := &kafka.Writer{
		Addr:         kafka.TCP(j.Brokers...),
		Topic:        workload.Topic,
		Balancer:     &kafka.RoundRobin{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond,
		BatchBytes:   1 << 20,
		BatchSize:    10_000,
		Async:        true,
		// Compression: zero, none.
		Completion: func(msgs []kafka.Message, err error) {
			for i := range msgs {
				if err != nil {
					t.Fail(err)
				} else {
					t.Add(1, len(msgs[i].Value))
				}
				<-slots
			}
		},
	}
	j.Describe("Writer{RequiredAcks: RequireAll, BatchTimeout: 10ms, BatchBytes: 1 MiB, BatchSize: 10000 (a count cap above the ~9000 records that fit in 1 MiB, so bytes and time decide; kafka-go allocates this many slots per batch), " +
		"Balancer: RoundRobin, Async: true with a Completion callback, no compression}; one batch in flight per partition " +
		"(kafka-go has no setting for it); not idempotent; a window of 100000 unacknowledged records kept by the runner " +
		"(the async Writer has no bound of its own)")
	defer w.Close()
	ctx := context.Background()
	// Warm up: metadata and connections. Async writes report only to Completion, so the
	// warm-up uses a synchronous Writer sharing nothing but the address.
	warm := &kafka.Writer{Addr: w.Addr, Topic: workload.Topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := warm.WriteMessages(ctx, kafka.Message{Value: workload.Value(0)}); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	warm.Close()
	if err := j.Ready(); err != nil {
		return err
	}
	for i := range j.Records {
		slots <- struct{}{}
		if err := w.WriteMessages(ctx, kafka.Message{Value: workload.Value(i)}); err != nil {
			return err
		}
	}
	<-t.Done()
	j.Finish()
	return w.Close()
}

// consume reads every partition from offset 0 with one Reader each (a partition reader,
// no group), one goroutine per partition calling FetchMessage.
func consume(j *workload.Job, t *workload.Tally) error {
	if err := j.Ready(); err != nil {
		return err
	}
	j.Describe("one Reader per partition: ReaderConfig{Partition: p, StartOffset: FirstOffset, MinBytes: 1, MaxBytes: 1 MiB (per partition fetch), " +
		"MaxWait: 500ms}, QueueCapacity 100 (default); one goroutine per partition calling FetchMessage")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, j.Partitions)
	readers := make([]*kafka.Reader, j.Partitions)
	for p := range readers {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:     j.Brokers,
			Topic:       workload.Topic,
			Partition:   p,
			StartOffset: kafka.FirstOffset,
			MinBytes:    1,
			MaxBytes:    1 << 20,
			MaxWait:     500 * time.Millisecond,
		})
		readers[p] = r
		wg.Go(func() {
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("partition %d: %w", p, err)
					}
					return
				}
				t.Add(1, len(m.Value))
			}
		})
	}
	var err error
	select {
	case <-t.Done():
	case err = <-errs:
	}
	j.Finish()
	cancel()
	wg.Wait()
	for _, r := range readers {
		err = errors.Join(err, r.Close())
	}
	return err
}
