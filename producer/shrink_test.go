package producer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// waitFor waits, up to 30 s, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// heldProduce is the broker's first produce request, held until release.
type heldProduce struct {
	held    chan struct{} // closed when the broker has the request
	resumed chan struct{} // closed when it goes on with it
	release func()        // lets it go and waits until it has; idempotent
}

// holdFirstProduce makes c hold the first produce request it gets until release is
// called; later ones go through.
func holdFirstProduce(c *kfake.Cluster) *heldProduce {
	h := &heldProduce{held: make(chan struct{}), resumed: make(chan struct{})}
	let := make(chan struct{})
	var once, released atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if once.CompareAndSwap(false, true) {
			close(h.held)
			c.SleepControl(func() { <-let })
			close(h.resumed)
		}
		return nil, nil, false
	})
	h.release = func() {
		if !released.CompareAndSwap(false, true) {
			return
		}
		close(let)
		if once.Load() {
			<-h.resumed
		}
	}
	return h
}

// startHeld starts a broker with one topic "t" of parts partitions that holds its first
// produce request (holdFirstProduce), and a producer of it with cfg, one request in flight
// at a time and round-robin partitioning; both go at the test's end, the request released
// first.
func startHeld(t *testing.T, parts int, cfg Config) (*Producer, *heldProduce) {
	t.Helper()
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(int32(parts), "t"))
	cfg.Seeds, cfg.MaxInflightRequests, cfg.Partitioner = seeds, 1, RoundRobinPartitioner()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hold := holdFirstProduce(c)
	t.Cleanup(func() {
		hold.release()
		_ = p.Close(context.Background())
	})
	return p, hold
}

// A broker producer that a burst over 1000 partitions made queue a batch for each gives
// back the room it grew (its queue map, its round-robin order, its drain buffer and its
// mailbox's ring) once it has nothing queued and no request out, and so does the linger
// queue once the first driver is idle; before, an idle producer
// of 3000 partitions kept it for good. The burst is made certain: the broker holds the
// first produce request while one batch per partition queues behind it (one request in
// flight at a time).
func TestIdleBrokerProducerGivesBackABurstsRoom(t *testing.T) {
	p, hold := startHeld(t, 1000, Config{Linger: time.Millisecond})
	const n = 1000
	var acked atomic.Int64
	done := make(chan struct{})
	cb := func(_ *troupe.Record, err error) {
		if err != nil {
			t.Error(err)
		}
		if acked.Add(1) == n+1 {
			close(done)
		}
	}
	ctx := context.Background()
	p.Produce(ctx, &troupe.Record{Topic: "t", Value: []byte("first")}, cb)
	select {
	case <-hold.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the first produce request never reached the broker")
	}
	for range n {
		p.Produce(ctx, &troupe.Record{Topic: "t", Value: []byte("burst")}, cb)
	}
	// Every partition but the first one's (whose second batch waits for the first) has
	// its batch queued at the broker producer.
	waitFor(t, "999 batches at the broker producer", func() bool { return p.hops.brokerMsgs.Load() >= n })
	if s := p.hops.brokerShrinks.Load(); s != 0 {
		t.Fatalf("the broker producer shrank %d times while it held queued batches", s)
	}
	hold.release()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d of %d records acknowledged", acked.Load(), n+1)
	}
	waitFor(t, "the idle broker producer to give back its room", func() bool { return p.hops.brokerShrinks.Load() >= 1 })
	// The linger queue held up to a deadline per partition: the first driver, idle, lets
	// its ring go if it grew past what a small producer keeps.
	waitFor(t, "the idle producer's linger queue to give back its ring", func() bool {
		p.linger.mu.Lock()
		defer p.linger.mu.Unlock()
		return len(p.linger.q) <= shrinkAbove
	})
	t.Logf("drivers shrank %d times", p.hops.driverShrinks.Load())
	// It works on: another burst over every partition is delivered.
	acked.Store(0)
	done = make(chan struct{})
	for range n + 1 {
		p.Produce(ctx, &troupe.Record{Topic: "t", Value: []byte("again")}, cb)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("after shrinking: %d of %d records acknowledged", acked.Load(), n+1)
	}
}

// A producer of a few partitions never grows past what an idle one keeps, so it never
// reallocates: its drivers and broker producers do not shrink.
func TestSmallProducerNeverShrinks(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(6, "t"))
	p, err := New(Config{Seeds: seeds, Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	for range 20 {
		for range 200 {
			p.Produce(ctx, &troupe.Record{Topic: "t", Value: []byte("x")}, func(_ *troupe.Record, err error) {
				if err != nil {
					t.Error(err)
				}
			})
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d, b := p.hops.driverShrinks.Load(), p.hops.brokerShrinks.Load(); d != 0 || b != 0 {
		t.Fatalf("a producer of 6 partitions shrank: drivers %d times, broker producers %d", d, b)
	}
}
