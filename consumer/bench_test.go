package consumer

import (
	"context"
	"flag"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var benchRecords = flag.Int("consume.records", 1_000_000, "records BenchmarkConsume reads per iteration")

const (
	benchPartitions = 6
	benchValueSize  = 100
)

// BenchmarkConsume reads the same records from offset 0 of 6 partitions of an in-process
// kfake cluster, with troupe (a PartitionConsumer and a goroutine per partition, and one
// Reader polled by one goroutine) and, in the same run, with franz-go's kgo, both with the
// same fetch settings (50 MiB per response, 1 MiB per partition). Each iteration is a
// fresh consumer reading every record once, from its creation to the last record (its
// Close is not timed); ns/op is per iteration, and the metrics are per record. cpu-ms/1M
// counts the whole process, kfake included (it serves both alike), Close included.
//
//	go test -run '^$' -bench Consume -benchmem ./consumer/ [-consume.records N]
func BenchmarkConsume(b *testing.B) {
	n := *benchRecords / benchPartitions * benchPartitions
	_, seeds := kafkatest.Start(b, kfake.NumBrokers(1), kfake.SeedTopics(benchPartitions, "bench"))
	fillBench(b, seeds, n)

	b.Run("troupe", func(b *testing.B) {
		var batches int
		measure(b, n, func() {
			batches = consumeTroupe(b, seeds, n)
		})
		b.ReportMetric(float64(n)/float64(batches), "records/batch")
	})
	b.Run("troupe-reader", func(b *testing.B) {
		var batches int
		measure(b, n, func() {
			batches = consumeReader(b, seeds, n)
		})
		b.ReportMetric(float64(n)/float64(batches), "records/batch")
	})
	b.Run("kgo", func(b *testing.B) {
		var polls int
		measure(b, n, func() {
			polls = consumeKgo(b, seeds, n)
		})
		b.ReportMetric(float64(n)/float64(polls), "records/poll")
	})
}

// measure runs consume b.N times and reports per-record figures.
func measure(b *testing.B, n int, consume func()) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		consume()
	}
	b.StopTimer()
	total := float64(n) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/record")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/total*1e6, "cpu-ms/1M")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fillBench writes n records of 100 bytes, spread evenly over the partitions, with kgo
// (uncompressed batches up to 1 MiB, 10ms linger).
func fillBench(b *testing.B, seeds []string, n int) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(10*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	val := make([]byte, benchValueSize)
	for i := range val {
		val[i] = 'a' + byte(i%26)
	}
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	for i := range n {
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: "bench", Partition: int32(i % benchPartitions), Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				once.Do(func() { failed = err })
			}
			wg.Done()
		})
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
}

// consumeTroupe reads n records with a troupe Consumer, a goroutine per partition, and
// returns how many batches they came in.
func consumeTroupe(b *testing.B, seeds []string, n int) int {
	c, err := New(Config{Seeds: seeds, MaxBytes: 50 << 20, MaxPartitionBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		// Not timed: closing its own client, the consumer waits for the long poll in
		// flight (up to MaxWait) to come back.
		b.StopTimer()
		c.Close(context.Background())
		b.StartTimer()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	batches := make([]int, benchPartitions)
	for p := range int32(benchPartitions) {
		pc, err := c.ConsumePartition(ctx, "bench", p, At(0))
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got := 0; got < n/benchPartitions; {
				batch, err := pc.Next(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				got += len(batch.Records)
				batches[p]++
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, k := range batches {
		total += k
	}
	return total
}

// consumeReader reads n records with a troupe Consumer's Reader of every partition,
// polled by one goroutine (as kgo's PollFetches is), and returns how many batches they
// came in.
func consumeReader(b *testing.B, seeds []string, n int) int {
	c, err := New(Config{Seeds: seeds, MaxBytes: 50 << 20, MaxPartitionBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer() // not timed, as in consumeTroupe
		c.Close(context.Background())
		b.StartTimer()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := c.ReadTopics(ctx, At(0), "bench")
	if err != nil {
		b.Fatal(err)
	}
	batches := 0
	for got := 0; got < n; {
		bs, err := r.Poll(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range bs {
			if batch.Err != nil {
				b.Fatal(batch.Err)
			}
			got += len(batch.Records)
		}
		batches += len(bs)
	}
	return batches
}

// consumeKgo reads n records with a kgo client polling every partition, and returns how
// many polls it took.
func consumeKgo(b *testing.B, seeds []string, n int) int {
	offsets := make(map[int32]kgo.Offset)
	for p := range int32(benchPartitions) {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"bench": offsets}),
		kgo.FetchMaxBytes(50<<20), kgo.FetchMaxPartitionBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer() // not timed either
		cl.Close()
		b.StartTimer()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	polls := 0
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		got += fs.NumRecords()
		polls++
	}
	return polls
}
