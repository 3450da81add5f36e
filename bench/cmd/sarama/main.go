// Command sarama runs one benchmark job (produce or consume) with IBM's sarama client;
// the bench driver starts it, one process per run. See bench/README.md.
package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/troupe-go/troupe/bench/internal/workload"
)

func main() {
	workload.Main("sarama", "github.com/IBM/sarama", produce, consume)
}

// version is the Kafka version sarama is told to speak: the newest sarama knows that kfake
// also serves. It picks record batches v2 and recent request versions.
var version = sarama.V4_0_0_0

// produce feeds the job's records into an AsyncProducer's Input and counts Successes and
// Errors, which sarama delivers on channels.
func produce(j *workload.Job, t *workload.Tally) error {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	cfg.Producer.MaxMessageBytes = 1 << 20
	cfg.Net.MaxOpenRequests = 5
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	cfg.Producer.Compression = sarama.CompressionNone
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	j.Describe("Version: V4_0_0_0, Producer.RequiredAcks: WaitForAll, Producer.Flush.Frequency: 10ms, " +
		"Producer.MaxMessageBytes: 1 MiB (the batch cap per partition), Net.MaxOpenRequests: 5, " +
		"Partitioner: NewRoundRobinPartitioner, CompressionNone, Return.Successes; not idempotent " +
		"(sarama's idempotent producer requires Net.MaxOpenRequests = 1); ChannelBufferSize 256 (default)")
	p, err := sarama.NewAsyncProducer(j.Brokers, cfg)
	if err != nil {
		return err
	}
	// Warm up: metadata and connections.
	p.Input() <- &sarama.ProducerMessage{Topic: workload.Topic, Value: sarama.ByteEncoder(workload.Value(0))}
	select {
	case <-p.Successes():
	case perr := <-p.Errors():
		p.Close()
		return fmt.Errorf("warm-up: %w", perr.Err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for m := range p.Successes() {
			t.Add(1, m.Value.Length())
		}
	})
	wg.Go(func() {
		for e := range p.Errors() {
			t.Fail(e.Err)
		}
	})
	if err := j.Ready(); err != nil {
		p.AsyncClose()
		wg.Wait()
		return err
	}
	for i := range j.Records {
		p.Input() <- &sarama.ProducerMessage{Topic: workload.Topic, Value: sarama.ByteEncoder(workload.Value(i))}
	}
	<-t.Done()
	j.Finish()
	p.AsyncClose()
	wg.Wait()
	return nil
}

// consume reads every partition from offset 0 with a PartitionConsumer each (no group),
// one goroutine per partition draining its Messages channel.
func consume(j *workload.Job, t *workload.Tally) error {
	if err := j.Ready(); err != nil {
		return err
	}
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.Consumer.Fetch.Min = 1
	cfg.Consumer.Fetch.Default = 1 << 20
	cfg.Consumer.Fetch.MaxBytes = 50 << 20
	cfg.Consumer.MaxWaitTime = 500 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	j.Describe("Version: V4_0_0_0, Consumer.Fetch.Min: 1, Consumer.Fetch.Default: 1 MiB (per partition), " +
		"Consumer.Fetch.MaxBytes: 50 MiB, Consumer.MaxWaitTime: 500ms; ConsumePartition(topic, p, OffsetOldest) for each partition, " +
		"one goroutine per partition reading Messages(); ChannelBufferSize 256 (default)")
	c, err := sarama.NewConsumer(j.Brokers, cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, j.Partitions)
	var pcs []sarama.PartitionConsumer
	for p := range int32(j.Partitions) {
		pc, err := c.ConsumePartition(workload.Topic, p, sarama.OffsetOldest)
		if err != nil {
			cancel()
			for _, pc := range pcs {
				pc.AsyncClose()
			}
			c.Close()
			return err
		}
		pcs = append(pcs, pc)
		wg.Go(func() {
			for {
				select {
				case m := <-pc.Messages():
					t.Add(1, len(m.Value))
				case e := <-pc.Errors():
					errs <- fmt.Errorf("partition %d: %w", p, e.Err)
					return
				case <-ctx.Done():
					return
				}
			}
		})
	}
	select {
	case <-t.Done():
	case err = <-errs:
	}
	j.Finish()
	cancel()
	wg.Wait()
	for _, pc := range pcs {
		pc.Close() // drains Messages, so the consumer can stop
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}
