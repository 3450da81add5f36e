// Command kgo runs one benchmark job (produce or consume) with franz-go's kgo client; the
// bench driver starts it, one process per run. See bench/README.md.
package main

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	workload.Main("kgo", "github.com/twmb/franz-go", produce, consume, workload.WithGroup(member), workload.WithTrickle(trickle))
}

// produce writes the job's records one Produce call each and waits for every promise. In
// the idle mode it then watches the idle client (Job.MeasureIdle) before closing it.
func produce(j *workload.Job, t *workload.Tally) error {
	partitioner, partitionerName := kgo.RoundRobinPartitioner(), "RoundRobinPartitioner()"
	if j.Keyed {
		partitioner, partitionerName = kgo.StickyKeyPartitioner(nil), "StickyKeyPartitioner(nil) (murmur2 of the key)"
	}
	maxBuffered := 100_000
	if j.MaxBuffered > 0 {
		maxBuffered = j.MaxBuffered
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(j.Brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(10 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.RecordPartitioner(partitioner),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(maxBuffered),
	}
	metadata := ""
	if j.MetadataRefresh > 0 {
		opts = append(opts, kgo.MetadataMaxAge(j.MetadataRefresh))
		metadata = fmt.Sprintf(", MetadataMaxAge(%v)", j.MetadataRefresh)
	}
	j.Describe(fmt.Sprintf("RequiredAcks(AllISRAcks()), ProducerLinger(10ms), ProducerBatchMaxBytes(1 MiB), "+
		"RecordPartitioner(%s), ProducerBatchCompression(NoCompression()), MaxBufferedRecords(%d)%s; "+
		"idempotent (default), so 5 produce requests in flight per broker (MaxProduceRequestsInflightPerBroker has no effect with idempotence)",
		partitionerName, maxBuffered, metadata))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: workload.Topic, Key: j.Key(0), Value: workload.Value(0)}).FirstErr(); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := j.Ready(); err != nil {
		return err
	}
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			t.Fail(err)
			return
		}
		t.Add(1, len(r.Value))
	}
	for i := range j.Records {
		cl.Produce(ctx, &kgo.Record{Topic: workload.Topic, Key: j.Key(i), Value: workload.Value(i)}, promise)
	}
	<-t.Done()
	j.Finish()
	j.MeasureIdle()
	return nil
}

// consume reads every partition from offset 0 by direct assignment (ConsumePartitions, no
// group), polling fetches until the job's record count is reached. In the idle-consume
// mode it then keeps polling while watchIdle watches the caught-up consumer.
func consume(j *workload.Job, t *workload.Tally) error {
	if err := j.Ready(); err != nil {
		return err
	}
	recycle := ""
	opts := []kgo.Opt{kgo.SeedBrokers(j.Brokers...)}
	if j.Recycle {
		recycle = "; WithPools(a PoolRecords), each record recycled once counted (Record.Recycle)"
		opts = append(opts, kgo.WithPools(new(recordPool)))
	}
	j.Describe("ConsumePartitions(every partition at NewOffset().At(0)), FetchMinBytes(1), FetchMaxBytes(50 MiB), " +
		"FetchMaxPartitionBytes(1 MiB), FetchMaxWait(500ms), BrokerMaxReadBytes(1 GiB); one goroutine calling PollFetches" + recycle)
	offsets := make(map[int32]kgo.Offset, j.Partitions)
	for p := range int32(j.Partitions) {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{workload.Topic: offsets}),
		kgo.FetchMinBytes(1),
		kgo.FetchMaxBytes(50<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
		kgo.FetchMaxWait(500*time.Millisecond),
		// kfake's SyntheticFetch answers every partition named in a fetch with at least
		// its canned batch, whatever FetchMaxBytes says (Kafka returns a batch over the
		// limit only for the first partition with data). kgo names every partition in
		// every fetch, so at 10000 partitions of 1000-record batches a response is ~400
		// MB, over kgo's default read limit (100 MiB), which fails the fetch. The limit
		// is raised so that kgo reads what the broker sends.
		kgo.BrokerMaxReadBytes(1<<30),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := t.Done()
	for {
		select {
		case <-done:
			j.Finish()
			if j.Mode != workload.IdleConsume {
				return nil
			}
			// Keep polling, as a user waiting for records would, while the watch runs.
			done = nil
			go watchIdle(j, cancel)
		default:
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // the idle watch is over
		}
		if errs := fs.Errors(); len(errs) > 0 {
			e := errs[0]
			return fmt.Errorf("partition %d: %w", e.Partition, e.Err)
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			n := 0
			for _, r := range p.Records {
				n += len(r.Value)
			}
			t.Add(len(p.Records), n)
			if j.Recycle {
				for _, r := range p.Records {
					r.Recycle()
				}
			}
		})
	}
}

// watchIdle measures the idle consumer (Job.MeasureIdle) while consume keeps polling, then
// stops the polling.
func watchIdle(j *workload.Job, stop context.CancelFunc) {
	j.MeasureIdle()
	stop()
}

// recordPool is kgo's PoolRecords for -recycle: record slices kept by capacity class (a
// power of two), one sync.Pool per class, as a user of WithPools would write it.
type recordPool struct{ classes [32]sync.Pool }

func (p *recordPool) GetRecords(n int) []kgo.Record {
	c := bits.Len(uint(max(n, 1) - 1))
	if v := p.classes[c].Get(); v != nil {
		return (*v.(*[]kgo.Record))[:0]
	}
	return make([]kgo.Record, 0, 1<<c)
}

func (p *recordPool) PutRecords(recs []kgo.Record) {
	full := recs[:cap(recs)]
	if len(full) == 0 {
		return
	}
	clear(full)
	c := bits.Len(uint(len(full))) - 1
	p.classes[c].Put(&full)
}
