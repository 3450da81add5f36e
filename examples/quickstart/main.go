// Command quickstart produces records to Kafka and consumes them back with troupe.
//
//	go run ./examples/quickstart                    # 1M records on an embedded 3-broker cluster
//	go run ./examples/quickstart -n 100000
//	go run ./examples/quickstart -brokers host:9092 -topic quickstart
//
// With no -brokers it starts an embedded kfake cluster (3 brokers on 127.0.0.1, the topic
// with 6 partitions). It produces -n keyed records of 100 bytes with a progress bar,
// reads the whole topic back from the oldest offset until caught up, through one
// consumer.Reader, checks that every record arrived exactly once and that each
// partition holds its records in the order they were sent, and prints the throughput of
// both halves.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
)

type options struct {
	brokers    string
	topic      string
	n          int
	partitions int
	progress   bool
}

func main() {
	var o options
	flag.StringVar(&o.brokers, "brokers", "", "comma-separated seed brokers; empty starts an embedded cluster")
	flag.StringVar(&o.topic, "topic", "quickstart", "topic to use (it must exist on a real cluster)")
	flag.IntVar(&o.n, "n", 1_000_000, "records to produce and consume")
	flag.IntVar(&o.partitions, "partitions", 6, "partitions of the embedded cluster's topic")
	flag.BoolVar(&o.progress, "progress", true, "draw a progress bar on stderr")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, os.Stderr, o); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, bar io.Writer, o options) error {
	if o.n <= 0 || o.partitions <= 0 {
		return errors.New("-n and -partitions must be positive")
	}
	if !o.progress {
		bar = io.Discard
	}
	seeds := strings.Split(o.brokers, ",")
	if o.brokers == "" {
		c, addrs, err := kafkatest.Embedded(3, int32(o.partitions), o.topic)
		if err != nil {
			return err
		}
		defer c.Close()
		seeds = addrs
		fmt.Fprintf(out, "embedded kfake cluster: 3 brokers at %s, topic %q with %d partitions\n", strings.Join(seeds, ","), o.topic, o.partitions)
	}

	ends, elapsed, err := produce(ctx, bar, seeds, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "produced %d records in %v: %.0f records/s\n", o.n, elapsed.Round(time.Millisecond), float64(o.n)/elapsed.Seconds())

	read, elapsed, err := consume(ctx, seeds, o.topic, ends)
	if err != nil {
		return err
	}
	if read != o.n {
		return fmt.Errorf("consumed %d records, produced %d", read, o.n)
	}
	fmt.Fprintf(out, "consumed %d records in %v: %.0f records/s\n", read, elapsed.Round(time.Millisecond), float64(read)/elapsed.Seconds())
	fmt.Fprintf(out, "verified: every record once, each partition in send order\n")
	return nil
}

// produce writes n records whose values carry their send index, and returns the offset
// after the last record of each partition.
func produce(ctx context.Context, bar io.Writer, seeds []string, o options) (map[int32]int64, time.Duration, error) {
	p, err := producer.New(producer.Config{Seeds: seeds, Linger: 10 * time.Millisecond})
	if err != nil {
		return nil, 0, err
	}
	var (
		mu    sync.Mutex
		ends  = map[int32]int64{}
		first error
		done  atomic.Int64
		wg    sync.WaitGroup
	)
	value := make([]byte, 100)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	records := make([]troupe.Record, o.n)
	start := time.Now()
	progress := newProgress(bar, o.n, start)
	wg.Add(o.n)
	for i := range records {
		v := make([]byte, len(value))
		copy(v, value)
		binary.BigEndian.PutUint64(v, uint64(i))
		records[i] = troupe.Record{Topic: o.topic, Key: []byte(fmt.Sprintf("key-%d", i%1000)), Value: v}
		p.Produce(ctx, &records[i], func(r *troupe.Record, err error) {
			defer wg.Done()
			if n := done.Add(1); n%10000 == 0 {
				progress.show(n)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	progress.finish(done.Load())
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.Close(closeCtx); err != nil {
		return nil, 0, err
	}
	if first != nil {
		return nil, 0, fmt.Errorf("produce: %w", first)
	}
	return ends, elapsed, nil
}

// consume reads every partition of topic back from the oldest offset through one
// consumer.Reader, up to the ends the partitions had when it started (UntilCaughtUp),
// checking that send indexes increase within each partition. The produced ends are
// checked too: the reader must have reached them.
func consume(ctx context.Context, seeds []string, topic string, ends map[int32]int64) (int, time.Duration, error) {
	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(closeCtx)
	}()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := c.ReadTopics(ctx, consumer.Oldest(), topic)
	if err != nil {
		return 0, 0, err
	}
	if err := r.UntilCaughtUp(ctx); err != nil {
		return 0, 0, err
	}
	total, last := 0, map[int32]int64{}
	for b, err := range r.Batches(ctx) {
		if err != nil {
			return 0, 0, err
		}
		for i := range b.Records {
			idx := int64(binary.BigEndian.Uint64(b.Records[i].Value))
			if prev, ok := last[b.Partition]; ok && idx <= prev {
				return 0, 0, fmt.Errorf("partition %d: record %d after %d at offset %d: out of order", b.Partition, idx, prev, b.Records[i].Offset)
			}
			last[b.Partition] = idx
			total++
		}
	}
	for part, end := range ends {
		if pos := r.Position(consumer.About{Topic: topic, Partition: part}); pos < end {
			return 0, 0, fmt.Errorf("partition %d: caught up at %d, before the last record produced (%d)", part, pos, end-1)
		}
	}
	return total, time.Since(start), nil
}

// progress draws a one-line progress bar.
type progress struct {
	w     io.Writer
	total int
	start time.Time
	mu    sync.Mutex
}

func newProgress(w io.Writer, total int, start time.Time) *progress {
	return &progress{w: w, total: total, start: start}
}

func (p *progress) show(done int64) {
	if !p.mu.TryLock() { // never make a callback wait
		return
	}
	defer p.mu.Unlock()
	const width = 40
	filled := int(done) * width / p.total
	rate := float64(done) / time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\rproducing [%s%s] %3d%% %d/%d %.0f records/s",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), int(done)*100/p.total, done, p.total, rate)
}

func (p *progress) finish(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	const width = 40
	fmt.Fprintf(p.w, "\rproducing [%s] 100%% %d/%d\n", strings.Repeat("=", width), done, p.total)
}
