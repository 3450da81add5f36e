package producer_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/wire/record"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The producer against franz-go's kgo in the same run: b.N records of 100 bytes over 6
// partitions of an in-process kfake cluster (3 brokers), acks=all, linger 10ms, batches up
// to 1 MiB, 5 requests in flight per broker. kfake shares the machine and handles every
// request on one goroutine, so absolute figures mostly measure kfake; BlackholeProduce
// (kfake answers produces without storing them) shows the clients' own ceiling.
//
//	go test -run '^$' -bench Produce -benchmem ./producer/

func benchCluster(b *testing.B, blackhole bool) []string {
	opts := []kfake.Opt{kfake.NumBrokers(3), kfake.SeedTopics(6, "bench")}
	if blackhole {
		opts = append(opts, kfake.BlackholeProduce())
	}
	_, seeds := kafkatest.Start(b, opts...)
	return seeds
}

// benchValue is 100 bytes of pseudo-random text: compressible a little, like real data.
var benchValue = func() []byte {
	v := make([]byte, 100)
	x := uint32(2463534242)
	for i := range v {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v[i] = 'a' + byte(x%26)
	}
	return v
}()

func BenchmarkProduce(b *testing.B) {
	for _, blackhole := range []bool{false, true} {
		name := "stored"
		if blackhole {
			name = "blackhole"
		}
		b.Run(name+"/troupe", func(b *testing.B) {
			seeds := benchCluster(b, blackhole)
			p, err := producer.New(producer.Config{Seeds: seeds, Linger: 10 * time.Millisecond, Partitioner: producer.RoundRobinPartitioner()})
			if err != nil {
				b.Fatal(err)
			}
			recs := make([]troupe.Record, b.N)
			var wg sync.WaitGroup
			wg.Add(b.N)
			cb := func(_ *troupe.Record, err error) {
				if err != nil {
					b.Error(err)
				}
				wg.Done()
			}
			ctx := context.Background()
			// Warm up connections and metadata.
			if err := p.ProduceSync(ctx, &troupe.Record{Topic: "bench", Value: benchValue}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range recs {
				recs[i] = troupe.Record{Topic: "bench", Value: benchValue}
				p.Produce(ctx, &recs[i], cb)
			}
			wg.Wait()
			b.StopTimer()
			report(b)
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
		b.Run(name+"/kgo", func(b *testing.B) {
			seeds := benchCluster(b, blackhole)
			// kgo compresses with snappy by default; both clients send uncompressed here.
			cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ProducerLinger(10*time.Millisecond),
				kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.MaxBufferedRecords(100000),
				kgo.ProducerBatchCompression(kgo.NoCompression()))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "bench", Value: benchValue}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs := make([]kgo.Record, b.N)
			var wg sync.WaitGroup
			wg.Add(b.N)
			cb := func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
				wg.Done()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range recs {
				recs[i] = kgo.Record{Topic: "bench", Value: benchValue}
				cl.Produce(ctx, &recs[i], cb)
			}
			wg.Wait()
			b.StopTimer()
			report(b)
		})
	}
}

// BenchmarkProduceFloor measures, in one goroutine, the work on each record that no
// producer can avoid: the caller allocates the record (as bench/'s runners do), the
// record is encoded into a batch, the batch sealed (its CRC) every 1600 records (troupe's
// batch size in bench/), and each record's callback counts it with an atomic add. Up to
// 20000 records are alive at a time, as many as the producer's default budget holds, so
// the garbage collector has as much to mark. Left out: handing records between
// goroutines, partitioning, the network, and responses. An op is a record and its ns/op
// is CPU time: divided by 1000, it is CPU-seconds per 1M records, the unit of
// docs/benchmarks.md, where it is a floor for the producer's figure.
//
//	go test -run '^$' -bench ProduceFloor ./producer/
func BenchmarkProduceFloor(b *testing.B) {
	const perBatch, live = 1600, 20000
	var records, bytes atomic.Int64
	cb := func(r *troupe.Record, err error) {
		if err != nil {
			b.Fatal(err)
		}
		bytes.Add(int64(len(r.Value)))
		records.Add(1)
	}
	bl := record.NewBuilder(nil)
	buf := make([]byte, 0, 1<<20)
	alive := make([]*troupe.Record, live)
	open := make([]*troupe.Record, 0, perBatch)
	cbs := make([]func(*troupe.Record, error), 0, perBatch)
	b.ReportAllocs()
	bl.Reset(buf)
	i, now := 0, time.Now() // one clock reading per batch, as the dispatcher takes one per bite
	for b.Loop() {
		r := &troupe.Record{Topic: "bench", Value: benchValue, Timestamp: now}
		alive[i%live] = r
		i++
		bl.Append(r)
		open, cbs = append(open, r), append(cbs, cb)
		if len(open) < perBatch {
			continue
		}
		raw, err := bl.Seal(record.NoProducer())
		if err != nil {
			b.Fatal(err)
		}
		buf = raw[:0]
		for j, r := range open {
			cbs[j](r, nil)
		}
		clear(open)
		clear(cbs)
		open, cbs = open[:0], cbs[:0]
		bl.Reset(buf)
		now = time.Now()
	}
	if records.Load() != int64(b.N/perBatch*perBatch) {
		b.Fatalf("%d records counted, want %d", records.Load(), b.N/perBatch*perBatch)
	}
}

func report(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "records/s")
	}
}
