package group

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var benchRecords = flag.Int("group.records", 300_000, "records BenchmarkGroupConsume reads per iteration")

const benchPartitions = 6

// BenchmarkGroupConsume reads every record of 6 partitions as the one member of a fresh
// group (so from the oldest offset), with troupe and, in the same run, with franz-go's
// kgo (range balancer, autocommit off, the same fetch sizes). Each iteration runs from
// Join (kgo: the client's creation) to the last record; Close is not timed. cpu-ms/1M
// counts the whole process, kfake included.
//
//	go test -run '^$' -bench GroupConsume ./consumer/group/ [-group.records N]
func BenchmarkGroupConsume(b *testing.B) {
	n := *benchRecords / benchPartitions * benchPartitions
	_, seeds := kafkatest.Start(b, kfake.NumBrokers(1), kfake.SeedTopics(benchPartitions, "bench"))
	fillBench(b, seeds, n)
	var seq atomic.Int64
	b.Run("troupe", func(b *testing.B) {
		measure(b, n, func() { groupTroupe(b, seeds, fmt.Sprintf("bt%d", seq.Add(1)), n) })
	})
	b.Run("kgo", func(b *testing.B) {
		measure(b, n, func() { groupKgo(b, seeds, fmt.Sprintf("bk%d", seq.Add(1)), n) })
	})
}

func groupTroupe(b *testing.B, seeds []string, name string, n int) {
	c, err := consumer.New(consumer.Config{Seeds: seeds, MaxBytes: 50 << 20, MaxPartitionBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m, err := Join(ctx, c, Config{Group: name, Topics: []string{"bench"}, Assignors: []Assignor{Range()}})
	if err != nil {
		b.Fatal(err)
	}
	for got := 0; got < n; {
		bs, err := m.Poll(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range bs {
			got += len(batch.Records)
		}
	}
	b.StopTimer()
	_ = m.Close(ctx)
	_ = c.Close(ctx)
	b.StartTimer()
}

func groupKgo(b *testing.B, seeds []string, name string, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(name), kgo.ConsumeTopics("bench"),
		kgo.Balancers(kgo.RangeBalancer()), kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(50<<20), kgo.FetchMaxPartitionBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		got += fs.NumRecords()
	}
	b.StopTimer()
	cl.Close()
	b.StartTimer()
}

// BenchmarkGroupRebalance times a second member joining a group of one over 60
// partitions, both heartbeating every 250ms: from the second member's start until both
// own their halves (troupe: both members' Assigned have 30; kgo: both
// OnPartitionsAssigned callbacks have run). The time is mostly the first member noticing
// the rebalance at its next heartbeat. With range both give up everything and rejoin;
// with cooperative-sticky (the -cooperative runs, KIP-429) the first member gives up
// only the half that moves, and a second rebalance gives it to the newcomer.
func BenchmarkGroupRebalance(b *testing.B) {
	const parts = 60
	_, seeds := kafkatest.Start(b, kfake.NumBrokers(1), kfake.SeedTopics(parts, "bench"))
	var seq atomic.Int64
	for _, mode := range []struct {
		suffix   string
		assignor Assignor
		balancer kgo.GroupBalancer
	}{
		{"", Range(), kgo.RangeBalancer()},
		{"-cooperative", CooperativeSticky(), kgo.CooperativeStickyBalancer()},
	} {
		b.Run("troupe"+mode.suffix, func(b *testing.B) { rebalanceTroupe(b, seeds, &seq, parts, mode.assignor) })
		b.Run("kgo"+mode.suffix, func(b *testing.B) { rebalanceKgo(b, seeds, &seq, parts, mode.balancer) })
	}
}

func rebalanceTroupe(b *testing.B, seeds []string, seq *atomic.Int64, parts int, assignor Assignor) {
	for range b.N {
		b.StopTimer()
		name := fmt.Sprintf("rt%d", seq.Add(1))
		cfg := Config{Group: name, Topics: []string{"bench"}, Assignors: []Assignor{assignor}, HeartbeatInterval: 250 * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		c1, c2 := newBenchConsumer(b, seeds), newBenchConsumer(b, seeds)
		first, err := Join(ctx, c1, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		second, err := Join(ctx, c2, cfg)
		if err != nil {
			b.Fatal(err)
		}
		for {
			s1, s2 := first.settled(), second.settled() // before looking
			if len(first.Assigned()) == parts/2 && len(second.Assigned()) == parts/2 {
				break
			}
			select {
			case <-s1:
			case <-s2:
			case <-ctx.Done():
				b.Fatal("the members never settled")
			}
		}
		b.StopTimer()
		_ = second.Close(ctx)
		_ = first.Close(ctx)
		_ = c1.Close(ctx)
		_ = c2.Close(ctx)
		cancel()
	}
}

func rebalanceKgo(b *testing.B, seeds []string, seq *atomic.Int64, parts int, balancer kgo.GroupBalancer) {
	for range b.N {
		b.StopTimer()
		name := fmt.Sprintf("rk%d", seq.Add(1))
		var mu sync.Mutex
		owned := map[int]int{}
		changed := make(chan struct{}, 16)
		client := func(i int) *kgo.Client {
			note := func(_ context.Context, _ *kgo.Client, m map[string][]int32, sign int) {
				mu.Lock()
				owned[i] += sign * len(m["bench"])
				mu.Unlock()
				select {
				case changed <- struct{}{}:
				default:
				}
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(name), kgo.ConsumeTopics("bench"),
				kgo.Balancers(balancer), kgo.DisableAutoCommit(), kgo.HeartbeatInterval(250*time.Millisecond),
				kgo.OnPartitionsAssigned(func(ctx context.Context, c *kgo.Client, m map[string][]int32) { note(ctx, c, m, 1) }),
				kgo.OnPartitionsRevoked(func(ctx context.Context, c *kgo.Client, m map[string][]int32) { note(ctx, c, m, -1) }),
				kgo.OnPartitionsLost(func(ctx context.Context, c *kgo.Client, m map[string][]int32) { note(ctx, c, m, -1) }))
			if err != nil {
				b.Fatal(err)
			}
			return cl
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		first := client(1)
		poll := func(cl *kgo.Client, stop <-chan struct{}, done chan<- struct{}) {
			defer close(done)
			for {
				pctx, pcancel := context.WithTimeout(ctx, 50*time.Millisecond)
				cl.PollFetches(pctx)
				pcancel()
				select {
				case <-stop:
					return
				default:
				}
			}
		}
		settled := func(want map[int]int) {
			for {
				mu.Lock()
				ok := owned[1] == want[1] && owned[2] == want[2]
				mu.Unlock()
				if ok {
					return
				}
				select {
				case <-changed:
				case <-ctx.Done():
					b.Fatal("kgo never settled")
				}
			}
		}
		stop := make(chan struct{})
		d1, d2 := make(chan struct{}), make(chan struct{})
		go poll(first, stop, d1)
		settled(map[int]int{1: parts})
		b.StartTimer()
		second := client(2)
		go poll(second, stop, d2)
		settled(map[int]int{1: parts / 2, 2: parts / 2})
		b.StopTimer()
		close(stop)
		<-d1
		<-d2
		second.Close()
		first.Close()
		cancel()
	}
}

func newBenchConsumer(b *testing.B, seeds []string) *consumer.Consumer {
	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		b.Fatal(err)
	}
	return c
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
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/total*1e6, "cpu-ms/1M")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fillBench writes n records of 100 bytes, spread evenly over the partitions, with kgo.
func fillBench(b *testing.B, seeds []string, n int) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(10*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	val := make([]byte, 100)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for i := range n {
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: "bench", Partition: int32(i % benchPartitions), Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}
