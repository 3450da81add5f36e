package consumer

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConsumeFromOldest(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"))
	before := time.Now().Add(-time.Second)
	produce(t, seeds, "t", 0, 0, 100)
	produce(t, seeds, "t", 1, 0, 50)
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	r0 := newReader(t, consume(t, c, "t", 0, Oldest()), 0)
	r1 := newReader(t, consume(t, c, "t", 1, Oldest()), 0)
	r0.mustRead(100)
	r1.mustRead(50)
	produce(t, seeds, "t", 0, 100, 10)
	r0.mustRead(10)

	for i, r := range r0.got {
		if r.Offset != int64(i) || string(r.Key) != strconv.Itoa(i) || len(r.Headers) != 1 ||
			r.Headers[0].Key != "n" || string(r.Headers[0].Value) != strconv.Itoa(i) {
			t.Fatalf("record %d: %+v", i, r)
		}
		if r.Timestamp.Before(before) || r.Timestamp.After(time.Now().Add(time.Second)) {
			t.Fatalf("record %d: timestamp %v", i, r.Timestamp)
		}
		if r.LeaderEpoch < 0 {
			t.Fatalf("record %d: leader epoch %d", i, r.LeaderEpoch)
		}
	}
	if rec.count(isA[Subscribed]) < 2 {
		t.Fatalf("no Subscribed events:\n%s", rec.dump())
	}
}

func TestStartOffsets(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	// One gzip batch per ProduceSync: At(37) starts inside a compressed batch, whose
	// records below 37 must be skipped.
	gz := kgo.ProducerBatchCompression(kgo.GzipCompression())
	produce(t, seeds, "t", 0, 0, 50, gz)
	mid := nextMillisecond()
	produce(t, seeds, "t", 0, 50, 50, gz)
	c := newConsumer(t, testConfig(seeds, newRecorder()))

	for _, tc := range []struct {
		name  string
		from  Offset
		first int
	}{
		{"oldest", Oldest(), 0},
		{"At(0)", At(0), 0},
		{"At(37), inside a compressed batch", At(37), 37},
		{"AtTime(between the two batches)", AtTime(mid), 50},
		{"AtTime(zero)", AtTime(time.UnixMilli(0)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := consume(t, c, "t", 0, tc.from)
			defer pc.Close(ctxT(t))
			r := newReader(t, pc, tc.first)
			r.mustRead(100 - tc.first)
			if r.got[0].Offset != int64(tc.first) {
				t.Fatalf("first offset %d, want %d", r.got[0].Offset, tc.first)
			}
		})
	}

	// Newest, and a time after every record, start at the end: only new records come.
	for _, from := range []Offset{Newest(), AtTime(time.Now().Add(time.Hour))} {
		pc := consume(t, c, "t", 0, from)
		if got := waitPosition(t, pc); got != 100 {
			t.Fatalf("%v: position %d, want 100", from, got)
		}
		pc.Close(ctxT(t))
	}
	pc := consume(t, c, "t", 0, Newest())
	waitPosition(t, pc)
	produce(t, seeds, "t", 0, 100, 5)
	r := newReader(t, pc, 100)
	r.mustRead(5)
	if r.got[0].Offset != 100 {
		t.Fatalf("newest: first offset %d", r.got[0].Offset)
	}
	if hwm := pc.HighWaterMark(); hwm != 105 {
		t.Fatalf("high-water mark %d, want 105", hwm)
	}
	if lag := pc.Lag(); lag != 0 || pc.Position() != 105 {
		t.Fatalf("lag %d position %d, want 0 and 105", lag, pc.Position())
	}
}

// waitPosition waits until the partition's starting offset is resolved.
func waitPosition(t *testing.T, pc *PartitionConsumer) int64 {
	t.Helper()
	waitFor(t, func() bool { return pc.Position() >= 0 })
	return pc.Position()
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("condition not met within %v", testTimeout)
		case <-tick.C:
		}
	}
}

func TestLagAndHighWaterMark(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 30)
	// The first fetch waits until the test has looked at the figures from before it (a
	// fetch can otherwise be answered before ConsumePartition's caller looks).
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the cluster closes: cleanups run last in, first out
	kc.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		<-release
		return nil, nil, false
	})
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	pc := consume(t, c, "t", 0, At(10))
	if pc.HighWaterMark() != -1 || pc.Lag() != -1 {
		t.Fatalf("high-water mark %d, lag %d before any fetch", pc.HighWaterMark(), pc.Lag())
	}
	unblock()
	// The first batch is fetched and waits for Next: the high-water mark is known, the
	// position has not moved.
	waitFor(t, func() bool { return pc.HighWaterMark() == 30 })
	if pc.Position() != 10 || pc.Lag() != 20 {
		t.Fatalf("position %d lag %d, want 10 and 20", pc.Position(), pc.Lag())
	}
	r := newReader(t, pc, 10)
	r.mustRead(20)
	if pc.Lag() != 0 {
		t.Fatalf("lag %d after reading everything", pc.Lag())
	}
}

func TestRecordsIterator(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 40)
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	pc := consume(t, c, "t", 0, Oldest())
	n := 0
	for r, err := range pc.Records(ctxT(t)) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Offset != int64(n) || string(r.Value) != value("t", 0, n) {
			t.Fatalf("record %d: %+v", n, r)
		}
		if n++; n == 40 {
			break
		}
	}
	// The iterator ends with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for r, err := range pc.Records(ctx) {
		if r != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("after cancel: %v, %v", r, err)
		}
	}
}

func TestBadInputIsRefusedClearly(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	ctx := ctxT(t)

	_, err := c.ConsumePartition(ctx, "nope", 0, Oldest())
	var unknown *UnknownTopicError
	if !errors.Is(err, ErrUnknownTopic) || !errors.Is(err, errcode.UnknownTopicOrPartition) || !errors.As(err, &unknown) || unknown.Topic != "nope" {
		t.Fatalf("unknown topic: %v", err)
	}
	if _, err := c.ConsumePartition(ctx, "", 0, Oldest()); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("empty topic: %v", err)
	}
	for _, p := range []int32{-1, 3, 1000} {
		if _, err := c.ConsumePartition(ctx, "t", p, Oldest()); !errors.Is(err, ErrUnknownPartition) {
			t.Fatalf("partition %d: %v", p, err)
		}
	}
	for _, o := range []int64{-1, -2, -3, -100} {
		if _, err := c.ConsumePartition(ctx, "t", 0, At(o)); !errors.Is(err, ErrInvalidOffset) {
			t.Fatalf("offset %d: %v", o, err)
		}
	}
	pc := consume(t, c, "t", 1, Oldest())
	if _, err := c.ConsumePartition(ctx, "t", 1, Oldest()); !errors.Is(err, ErrAlreadyConsuming) {
		t.Fatalf("second consumer of a partition: %v", err)
	}
	if _, err := c.ConsumePartition(ctx, "t", 2, Oldest(), WithStage(Stage{})); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("stage without New: %v", err)
	}
	// Closed, the partition can be consumed again.
	if err := pc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	pc = consume(t, c, "t", 1, Oldest())
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after the consumer closed: %v", err)
	}
	if _, err := c.ConsumePartition(ctx, "t", 0, Oldest()); !errors.Is(err, ErrClosed) {
		t.Fatalf("consume after Close: %v", err)
	}
}

func TestEveryCodec(t *testing.T) {
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()}
	_, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(int32(len(codecs)), "t"))
	for i, codec := range codecs {
		cl := kgoClient(t, seeds, kgo.ProducerBatchCompression(codec))
		for k := range 4 { // several batches per partition
			produceWith(t, cl, "t", int32(i), k*50, 50)
		}
	}
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	var rs []*reader
	for i := range codecs {
		rs = append(rs, newReader(t, consume(t, c, "t", int32(i), Oldest()), 0))
	}
	for _, r := range rs {
		r.mustRead(200)
	}
}

// TestTopicsShareABrokerConsumer reads two topics' partitions from one broker: one broker
// consumer, one Fetch per round naming both topics (by topic ID, at this kfake's version).
func TestTopicsShareABrokerConsumer(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "a", "b"))
	var rs []*reader
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	for _, topic := range []string{"a", "b"} {
		produceAll(t, seeds, topic, 2, 0, 40)
		for p := range int32(2) {
			rs = append(rs, newReader(t, consume(t, c, topic, p, Oldest()), 0))
		}
	}
	readAll(t, rs, 40)
	if bs := brokerConsumers(c); len(bs) != 1 {
		t.Fatalf("broker consumers: %v", bs)
	}
}
