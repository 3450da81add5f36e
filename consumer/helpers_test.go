package consumer

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/actorhook"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testTimeout bounds every wait in these tests: they wait for events, never sleep.
const testTimeout = 30 * time.Second

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// recorder keeps the consumer's events for tests to wait on.
type recorder struct {
	mu     sync.Mutex
	events []troupe.Event
	ch     chan struct{} // closed and replaced on every event
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{})} }

func (r *recorder) add(e troupe.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	close(r.ch)
	r.ch = make(chan struct{})
	r.mu.Unlock()
}

// waitFor waits until an event satisfying match has been recorded (since the start) and
// returns it.
func (r *recorder) waitFor(t testing.TB, what string, match func(troupe.Event) bool) troupe.Event {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		r.mu.Lock()
		for _, e := range r.events {
			if match(e) {
				r.mu.Unlock()
				return e
			}
		}
		ch := r.ch
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s event within %v; events:\n%s", what, testTimeout, r.dump())
		}
	}
}

// waitCount waits until n events satisfying match have been recorded (since the start).
func (r *recorder) waitCount(t testing.TB, what string, n int, match func(troupe.Event) bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		r.mu.Lock()
		ch := r.ch
		r.mu.Unlock()
		if r.count(match) >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("fewer than %d %s within %v; events:\n%s", n, what, testTimeout, r.dump())
		}
	}
}

func (r *recorder) count(match func(troupe.Event) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if match(e) {
			n++
		}
	}
	return n
}

func (r *recorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintln(&b, " ", e)
	}
	return b.String()
}

func isA[E troupe.Event](e troupe.Event) bool { _, ok := e.(E); return ok }

// testConfig is a Config tuned for fast tests: short waits and backoffs.
func testConfig(seeds []string, rec *recorder) Config {
	return Config{
		Seeds:    seeds,
		Cluster:  cluster.Config{MinRefreshInterval: 10 * time.Millisecond, Broker: testBrokerConfig()},
		MaxWait:  50 * time.Millisecond,
		Backoff:  supervisor.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond},
		OnEvent:  rec.add,
		MinBytes: 1,
	}
}

// newConsumer starts a consumer and closes it when the test ends, checking that it stops
// in time and that the ownership hand-off protocol was kept.
func newConsumer(t testing.TB, cfg Config) *Consumer {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if vs := actorhook.Violations(); len(vs) > 0 {
			t.Errorf("ownership violations: %v", vs)
			actorhook.ResetViolations()
		}
	})
	return c
}

func consume(t testing.TB, c *Consumer, topic string, partition int32, from Offset, opts ...Option) *PartitionConsumer {
	t.Helper()
	pc, err := c.ConsumePartition(ctxT(t), topic, partition, from, opts...)
	if err != nil {
		t.Fatalf("consume %s[%d] from %v: %v", topic, partition, from, err)
	}
	return pc
}

// value is what produce writes as the i-th record of a partition.
func value(topic string, partition int32, i int) string {
	return fmt.Sprintf("%s/%d/%d", topic, partition, i)
}

// kgoClient returns a franz-go client on seeds, closed when the test ends.
func kgoClient(t testing.TB, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes n records (values numbered first, first+1, ...) to topic/partition with
// franz-go and waits for them to be acknowledged.
func produce(t testing.TB, seeds []string, topic string, partition int32, first, n int, opts ...kgo.Opt) {
	t.Helper()
	cl := kgoClient(t, seeds, opts...)
	produceWith(t, cl, topic, partition, first, n)
}

func produceWith(t testing.TB, cl *kgo.Client, topic string, partition int32, first, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{
			Topic: topic, Partition: partition,
			Key:     []byte(strconv.Itoa(first + i)),
			Value:   []byte(value(topic, partition, first+i)),
			Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(strconv.Itoa(first + i))}},
		}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// reader collects what a partition delivers and checks, as it goes, that offsets only
// increase and that values are the numbered sequence produce writes. Its methods may run
// on goroutines other than the test's: they report with Errorf and stop.
type reader struct {
	t    testing.TB
	pc   *PartitionConsumer
	got  []troupe.Record
	next int // the number expected in the next value
	last int64
}

func newReader(t testing.TB, pc *PartitionConsumer, first int) *reader {
	return &reader{t: t, pc: pc, next: first, last: -1}
}

// read takes batches until at least n more records have arrived (batches do not split),
// and reports whether all went well.
func (r *reader) read(n int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	want := len(r.got) + n
	for len(r.got) < want {
		b, err := r.pc.Next(ctx)
		if err != nil {
			r.t.Errorf("%s[%d]: after %d of %d records: %v", r.pc.Topic(), r.pc.Partition(), len(r.got), want, err)
			return false
		}
		if !r.check(b) {
			return false
		}
	}
	return true
}

// readTo reads until total records have arrived in all, and no more.
func (r *reader) readTo(total int) bool {
	if !r.read(total - len(r.got)) {
		return false
	}
	if len(r.got) != total {
		r.t.Errorf("%s[%d]: %d records, want %d", r.pc.Topic(), r.pc.Partition(), len(r.got), total)
		return false
	}
	return true
}

// mustRead reads exactly n more records, on the test's goroutine: it stops the test on
// failure.
func (r *reader) mustRead(n int) {
	r.t.Helper()
	if !r.readTo(len(r.got) + n) {
		r.t.FailNow()
	}
}

func (r *reader) check(b *Batch) bool {
	if len(b.Records) == 0 {
		r.t.Errorf("an empty batch")
		return false
	}
	for i := range b.Records {
		rec := &b.Records[i]
		if rec.Topic != r.pc.Topic() || rec.Partition != r.pc.Partition() {
			r.t.Errorf("record of %s[%d] delivered on %s[%d]", rec.Topic, rec.Partition, r.pc.Topic(), r.pc.Partition())
			return false
		}
		if rec.Offset <= r.last {
			r.t.Errorf("%s[%d]: offset %d after %d: repeated or reordered", rec.Topic, rec.Partition, rec.Offset, r.last)
			return false
		}
		if want := value(rec.Topic, rec.Partition, r.next); string(rec.Value) != want {
			r.t.Errorf("%s[%d]: offset %d: value %q, want %q (lost or repeated records)", rec.Topic, rec.Partition, rec.Offset, rec.Value, want)
			return false
		}
		r.last = rec.Offset
		r.next++
		r.got = append(r.got, *rec)
	}
	if b.NextOffset <= r.last {
		r.t.Errorf("batch NextOffset %d not after its last record %d", b.NextOffset, r.last)
		return false
	}
	return true
}

// readAll reads exactly n more records on every reader at once, each on its own goroutine, and
// stops the test if any failed.
func readAll(t testing.TB, rs []*reader, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.readTo(len(r.got) + n)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func startKfake(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	return kafkatest.Start(t, opts...)
}

func testBrokerConfig() broker.Config {
	return broker.Config{Backoff: supervisor.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}}
}

// nextMillisecond waits for the wall clock to enter a new millisecond and returns its
// start: every record stamped before the call has an earlier timestamp, every record
// stamped after it a later or equal one (timestamps are in milliseconds). It waits less
// than a millisecond.
func nextMillisecond() time.Time {
	start := time.Now().UnixMilli()
	for time.Now().UnixMilli() == start {
		runtime.Gosched()
	}
	return time.UnixMilli(start + 1)
}
