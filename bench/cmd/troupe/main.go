// Command troupe runs one benchmark job (produce or consume) with troupe's producer or
// consumer; the bench driver starts it, one process per run. See bench/README.md.
package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/bench/internal/workload"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
)

func main() {
	workload.Main("troupe", "github.com/troupe-go/troupe", produce, consume, workload.WithGroup(member))
}

// produce writes the job's records one Produce call each, as an application would, and
// waits for every callback. In the idle mode it then watches the idle producer
// (Job.MeasureIdle) before closing it.
func produce(j *workload.Job, t *workload.Tally) error {
	partitioner, partitionerName := producer.RoundRobinPartitioner(), "RoundRobinPartitioner()"
	if j.Keyed {
		partitioner, partitionerName = producer.HashPartitioner(), "HashPartitioner() (murmur2 of the key)"
	}
	cfg := producer.Config{
		Seeds:               j.Brokers,
		Acks:                producer.AcksAll,
		Linger:              10 * time.Millisecond,
		MaxBatchBytes:       1 << 20,
		MaxInflightRequests: 5,
		Partitioner:         partitioner,
		MaxBufferedRecords:  j.MaxBuffered, // zero: the default
		Cluster:             cluster.Config{RefreshInterval: j.MetadataRefresh},
		// Compression: zero, none.
	}
	budget := "budget 20000 records, growing to 10 per partition above 2000 partitions, / 32 MiB (defaults)"
	if j.MaxBuffered > 0 {
		budget = fmt.Sprintf("budget %d records (MaxBufferedRecords) / 32 MiB (default)", j.MaxBuffered)
	}
	metadata := ""
	if j.MetadataRefresh > 0 {
		metadata = fmt.Sprintf(", Cluster.RefreshInterval: %v", j.MetadataRefresh)
	}
	j.Describe(fmt.Sprintf("producer.Config{Acks: AcksAll, Linger: 10ms, MaxBatchBytes: 1 MiB, MaxInflightRequests: 5 (per broker), "+
		"Partitioner: %s, no compression%s}; idempotent (default); %s", partitionerName, metadata, budget))
	p, err := producer.New(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	defer p.Close(ctx) // on the early returns; Close is idempotent
	// Warm up: metadata, connections, producer ID.
	if err := p.ProduceSync(ctx, &troupe.Record{Topic: workload.Topic, Key: j.Key(0), Value: workload.Value(0)}); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := j.Ready(); err != nil {
		return err
	}
	cb := func(r *troupe.Record, err error) {
		if err != nil {
			t.Fail(err)
			return
		}
		t.Add(1, len(r.Value))
	}
	for i := range j.Records {
		p.Produce(ctx, &troupe.Record{Topic: workload.Topic, Key: j.Key(i), Value: workload.Value(i)}, cb)
	}
	<-t.Done()
	j.Finish()
	j.MeasureIdle()
	return p.Close(ctx)
}

// consume reads every partition from offset 0 through one consumer.Reader (no group),
// taking whole batches with Poll on one goroutine, until the job's record count is
// reached. In the idle-consume mode it then watches the caught-up consumer
// (Job.MeasureIdle).
func consume(j *workload.Job, t *workload.Tally) error {
	if err := j.Ready(); err != nil {
		return err
	}
	cfg := consumer.Config{
		Seeds:             j.Brokers,
		MinBytes:          1,
		MaxBytes:          50 << 20,
		MaxPartitionBytes: 1 << 20,
		MaxWait:           500 * time.Millisecond,
		// kfake's SyntheticFetch answers every partition named in a fetch with at least
		// its canned batch, whatever the fetch's MaxBytes says (Kafka returns a batch over
		// the limit only for the first partition with data, KIP-74): at 10000 partitions a
		// response can be ~400 MB, over the connections' default limit (100 MiB), which
		// fails the fetch and hands its partitions back. The limit is raised as it is for
		// kgo (BrokerMaxReadBytes), so that both read what the broker sends.
		Cluster: cluster.Config{Broker: broker.Config{MaxResponseBytes: 1 << 30}},
	}
	recycle := ""
	if j.Recycle {
		recycle = "; each poll's batches given back once counted (Reader.Release)"
	}
	j.Describe("consumer.Config{MinBytes: 1, MaxBytes: 50 MiB, MaxPartitionBytes: 1 MiB, MaxWait: 500ms, " +
		"Cluster.Broker.MaxResponseBytes: 1 GiB}; " +
		"ReadTopics(At(0), topic): one Reader of every partition, one goroutine calling Poll" + recycle)
	c, err := consumer.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := c.ReadTopics(ctx, consumer.At(0), workload.Topic)
	if err != nil {
		c.Close(context.Background())
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	wg.Go(func() {
		for {
			bs, err := r.Poll(ctx)
			if err != nil {
				if ctx.Err() == nil {
					errs <- err
				}
				return
			}
			for _, b := range bs {
				if b.Err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("partition %d: %w", b.Partition, b.Err)
					}
					return
				}
				n := 0
				for i := range b.Records {
					n += len(b.Records[i].Value)
				}
				t.Add(len(b.Records), n)
			}
			if j.Recycle {
				r.Release(bs...)
			}
		}
	})
	select {
	case <-t.Done():
		j.Finish()
		j.MeasureIdle() // idle-consume: the polling goroutine keeps waiting in Poll meanwhile
	case err = <-errs:
	}
	j.Finish()
	cancel()
	wg.Wait()
	if cerr := c.Close(context.Background()); err == nil {
		err = cerr
	}
	return err
}
