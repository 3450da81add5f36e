package producer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// outcomes collects callback results and checks each record gets exactly one.
type outcomes struct {
	mu    sync.Mutex
	got   map[*troupe.Record]error
	count map[*troupe.Record]int
	done  chan struct{}
	want  int
}

func newOutcomes(want int) *outcomes {
	return &outcomes{got: map[*troupe.Record]error{}, count: map[*troupe.Record]int{}, done: make(chan struct{}), want: want}
}

func (o *outcomes) cb(r *troupe.Record, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.count[r]++
	o.got[r] = err
	if len(o.got) == o.want && o.count[r] == 1 {
		close(o.done)
	}
}

func (o *outcomes) wait(t *testing.T) {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(60 * time.Second):
		o.mu.Lock()
		defer o.mu.Unlock()
		t.Fatalf("%d of %d outcomes", len(o.got), o.want)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for r, n := range o.count {
		if n != 1 {
			t.Fatalf("record %s reported %d times", r.Value, n)
		}
	}
}

func newProducer(t *testing.T, cfg producer.Config) *producer.Producer {
	t.Helper()
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

func TestProduceDeliversInOrderWithOffsets(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(6, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Millisecond})
	const n = 3000
	recs := make([]*troupe.Record, n)
	o := newOutcomes(n)
	ctx := context.Background()
	for i := range recs {
		recs[i] = &troupe.Record{Topic: "t", Key: []byte(fmt.Sprintf("k%d", i%50)), Value: []byte(fmt.Sprintf("v%d", i))}
		p.Produce(ctx, recs[i], o.cb)
	}
	o.wait(t)
	byPart := map[int32][]*troupe.Record{}
	for _, r := range recs {
		if err := o.got[r]; err != nil {
			t.Fatalf("record %s: %v", r.Value, err)
		}
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	// Offsets are the records' positions in the log, and per key increase in send order.
	log := kafkatest.ReadAll(t, seeds, "t")
	total := 0
	for part, rs := range byPart {
		total += len(rs)
		lr := log[part]
		for _, r := range rs {
			if r.Offset < 0 || int(r.Offset) >= len(lr) || string(lr[r.Offset].Value) != string(r.Value) {
				t.Fatalf("record %s reported at %d[%d], the log has something else there", r.Value, part, r.Offset)
			}
		}
		for i := 1; i < len(rs); i++ {
			if rs[i].Offset <= rs[i-1].Offset {
				t.Fatalf("partition %d: %s at %d after %s at %d", part, rs[i].Value, rs[i].Offset, rs[i-1].Value, rs[i-1].Offset)
			}
		}
		if len(lr) != len(rs) {
			t.Fatalf("partition %d holds %d records, %d were acknowledged: duplicates or strays", part, len(lr), len(rs))
		}
	}
	if total != n || len(byPart) != 6 {
		t.Fatalf("%d records over %d partitions", total, len(byPart))
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Flush(flushCtx); err != nil { // budget comes back just after each callback
		t.Fatal(err)
	}
	if rec, by := p.Buffered(); rec != 0 || by != 0 {
		t.Fatalf("budget still holds %d records, %d bytes", rec, by)
	}
}

func TestRefusedAtTheDoor(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, MaxRecordBytes: 100})
	check := func(r *troupe.Record, want error) {
		t.Helper()
		var got error
		called := 0
		p.Produce(context.Background(), r, func(_ *troupe.Record, err error) { got = err; called++ })
		if called != 1 || !errors.Is(got, want) || !errors.Is(got, troupe.ErrNotWritten) {
			t.Fatalf("called %d times with %v, want %v (not written)", called, got, want)
		}
	}
	check(nil, producer.ErrInvalidRecord)
	check(&troupe.Record{Value: []byte("x")}, producer.ErrInvalidRecord)
	check(&troupe.Record{Topic: "t", Value: make([]byte, 200)}, producer.ErrRecordTooLarge)
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	check(&troupe.Record{Topic: "t", Value: []byte("late")}, troupe.ErrClosed)
}

func TestInvalidConfig(t *testing.T) {
	for _, cfg := range []producer.Config{
		{},
		{Seeds: []string{"127.0.0.1:1"}, MaxBatchBytes: 10},
		{Seeds: []string{"127.0.0.1:1"}, MaxRecordBytes: 2 << 20},
		{Seeds: []string{"127.0.0.1:1"}, Linger: time.Millisecond, Backoff: supervisor.Backoff{Min: -1}},
		{Seeds: []string{"127.0.0.1:1"}, UnknownTopicShare: 2},
		{Seeds: []string{"127.0.0.1:1"}, Acks: 9},
		{Seeds: []string{"127.0.0.1:1"}, MaxBufferedBytes: -1},
		{Seeds: []string{"127.0.0.1:1"}, MaxBatchBytes: 1 << 31, MaxRequestBytes: 1 << 32},
		{Seeds: []string{"127.0.0.1:1"}, MaxRequestBytes: 1 << 31},
	} {
		if _, err := producer.New(cfg); !errors.Is(err, producer.ErrInvalidConfig) {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}

// TestSeedsComeFromEitherPlace checks the one rule for seeds: the producer's own, or its
// Cluster's when its own are empty; the same seeds in both places are accepted, different
// ones are an ErrInvalidConfig.
func TestSeedsComeFromEitherPlace(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	for name, cfg := range map[string]producer.Config{
		"Seeds":         {Seeds: seeds},
		"Cluster.Seeds": {Cluster: cluster.Config{Seeds: seeds}},
		"both, equal":   {Seeds: seeds, Cluster: cluster.Config{Seeds: append([]string(nil), seeds...)}},
	} {
		p := newProducer(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte(name)}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		cancel()
	}
	_, err := producer.New(producer.Config{Seeds: seeds, Cluster: cluster.Config{Seeds: []string{"127.0.0.1:1"}}})
	if !errors.Is(err, producer.ErrInvalidConfig) {
		t.Fatalf("Seeds and Cluster.Seeds differ: %v", err)
	}
}

// TestAClientWithSeedsOrClusterIsRefused: a shared client is configured where it is
// opened, so Seeds or Cluster set beside Client would be ignored; they are refused instead.
func TestAClientWithSeedsOrClusterIsRefused(t *testing.T) {
	c, err := cluster.Open(context.Background(), cluster.Config{Seeds: []string{"localhost:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for name, cfg := range map[string]producer.Config{
		"Client and Seeds":   {Client: c, Seeds: []string{"localhost:1"}},
		"Client and Cluster": {Client: c, Cluster: cluster.Config{MinRefreshInterval: time.Second}},
	} {
		if _, err := producer.New(cfg); !errors.Is(err, producer.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
