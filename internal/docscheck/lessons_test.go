package docscheck_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tests in this file cover lessons of docs/guide.md that no package test covered.
// Each fails if the lesson it is named in the guide for is broken.

// TestABurstCostsTheOwnerOneWakeUp holds the lesson "don't be afraid of locks": the
// mailbox is a mutex-guarded ring with a one-slot wake-up channel, so a burst of sends
// costs its owner one wake-up and one drain, not one channel receive per message. That is
// where the mailbox's advantage over a buffered channel comes from.
func TestABurstCostsTheOwnerOneWakeUp(t *testing.T) {
	const burst = 1000
	type wake struct {
		first      []int
		secondWake bool
	}
	got := make(chan wake, 1)
	gate := make(chan struct{})
	ref, p := actor.Start(context.Background(), "burst", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		<-gate
		<-in.Ready() // the one wake-up the burst left
		first, _ := in.Drain(nil)
		w := wake{first: first}
		select {
		case <-in.Ready():
			w.secondWake = true
		default:
		}
		got <- w
		return nil
	}), actor.Options[int]{})
	for i := range burst {
		if err := ref.Send(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	close(gate) // the whole burst is queued before the owner looks
	w := <-got
	<-p.Done()
	if len(w.first) != burst {
		t.Fatalf("the first drain took %d of %d queued messages", len(w.first), burst)
	}
	if !slices.IsSorted(w.first) {
		t.Fatal("the drain is out of order")
	}
	if w.secondWake {
		t.Fatal("a burst left more than one wake-up for the owner")
	}
}

// TestUnknownTopicDoesNotHoldBackAnotherTopic holds the lesson of fan-out: the dispatcher
// gives every topic its own topic producer, so records waiting for a topic the cluster
// does not know (for up to UnknownTopicWait) hold back nothing but themselves.
func TestUnknownTopicDoesNotHoldBackAnotherTopic(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "known"))
	p, err := producer.New(producer.Config{Seeds: seeds, UnknownTopicWait: time.Hour,
		Cluster: cluster.Config{MinRefreshInterval: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	const waiting = 10
	var mu sync.Mutex
	var outcomes []error
	for i := range waiting {
		p.Produce(ctxT(t), &troupe.Record{Topic: "missing", Value: []byte(fmt.Sprint(i))}, func(_ *troupe.Record, err error) {
			mu.Lock()
			outcomes = append(outcomes, err)
			mu.Unlock()
		})
	}
	for i := range 100 {
		if err := p.ProduceSync(ctxT(t), &troupe.Record{Topic: "known", Value: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatalf("record %d to a known topic while another topic is unknown: %v", i, err)
		}
	}
	mu.Lock()
	early := len(outcomes)
	mu.Unlock()
	if early != 0 {
		t.Fatalf("%d records for the unknown topic were reported before Close: %v", early, outcomes)
	}
	// Close past its deadline fails the records still waiting, as not written.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = p.Close(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) != waiting {
		t.Fatalf("%d of %d waiting records reported after Close", len(outcomes), waiting)
	}
	for _, err := range outcomes {
		if !errors.Is(err, troupe.ErrNotWritten) {
			t.Fatalf("a record for the unknown topic failed with %v, want not written", err)
		}
	}
}

// brokerProducers lists the broker producers in a producer's actor tree: the children of
// its "brokers" supervisor.
func brokerProducers(p *producer.Producer) []string {
	var names []string
	if b := child(p.Actors(), "brokers"); b != nil {
		for _, c := range b.Children {
			names = append(names, c.Name)
		}
	}
	return names
}

// TestProducerBrokerProducersAreSharedAndStopWithTheirLastPartition holds the lesson of
// dynamic multiplexing for the producer: partitions led by one broker share one broker
// producer (a reference-counted registry), and the broker producer stops when the last
// of them moves away. The consumer's counterpart is
// consumer.TestBrokerConsumersAreSharedAndStopWithTheirLastPartition.
func TestProducerBrokerProducersAreSharedAndStopWithTheirLastPartition(t *testing.T) {
	const parts = 4
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(parts, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Partitioner: producer.ManualPartitioner(),
		Linger: time.Millisecond, Backoff: supervisor.Backoff{Min: time.Millisecond},
		Cluster: cluster.Config{MinRefreshInterval: 10 * time.Millisecond}})
	moveAll := func(node int32) {
		for i := range int32(parts) {
			if err := c.MoveTopicPartition("t", i, node); err != nil {
				t.Fatal(err)
			}
		}
	}
	produceToEach := func(round int) {
		for i := range int32(parts) {
			r := &troupe.Record{Topic: "t", Partition: i, Value: []byte(fmt.Sprint(round))}
			if err := p.ProduceSync(ctxT(t), r); err != nil {
				t.Fatalf("round %d, partition %d: %v", round, i, err)
			}
		}
	}
	moveAll(0)
	produceToEach(1)
	if bps := brokerProducers(p); len(bps) != 1 || !strings.HasPrefix(bps[0], "node 0 ") {
		t.Fatalf("four partitions led by node 0 have broker producers %q, want one for node 0", bps)
	}
	t.Logf("broker producers: %q", brokerProducers(p))
	moveAll(1)
	produceToEach(2) // each partition learns of its new leader from NOT_LEADER_OR_FOLLOWER
	waitFor(t, "the broker producer of node 0 stops with its last partition", func() bool {
		bps := brokerProducers(p)
		return len(bps) == 1 && strings.HasPrefix(bps[0], "node 1 ")
	})
	t.Logf("broker producers after the move: %q", brokerProducers(p))
}

// batchLog records the record batches a kfake cluster receives in Produce requests, by
// topic: how many records each held and its size in bytes.
type batchLog struct {
	mu      sync.Mutex
	records map[string][]int
	bytes   map[string][]int
}

func watchBatches(t *testing.T, c *kfake.Cluster, topics ...string) *batchLog {
	l := &batchLog{records: map[string][]int{}, bytes: map[string][]int{}}
	// From Produce v13 requests name topics by ID. (kfake cannot be asked from inside a
	// control function, so the IDs are looked up first.)
	names := map[[16]byte]string{}
	for _, topic := range topics {
		names[c.TopicInfo(topic).TopicID] = topic
	}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, topic := range pr.Topics {
			name := topic.Topic
			if name == "" {
				name = names[topic.TopicID]
			}
			for _, part := range topic.Partitions {
				// Record batches v2, back to back: batchLength at offset 8 counts the bytes
				// after it; recordCount is at offset 57.
				for b := part.Records; len(b) >= 61; {
					size := 12 + int(binary.BigEndian.Uint32(b[8:12]))
					if size > len(b) {
						t.Errorf("a batch of %d bytes in %d", size, len(b))
						break
					}
					l.records[name] = append(l.records[name], int(binary.BigEndian.Uint32(b[57:61])))
					l.bytes[name] = append(l.bytes[name], size)
					b = b[size:]
				}
			}
		}
		return nil, nil, false // kfake serves the request as usual
	})
	return l
}

func (l *batchLog) of(topic string) (records, bytes []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records[topic]), slices.Clone(l.bytes[topic])
}

// TestLingerAndLimitsShapeBatches holds the lesson "batching and I/O": records travel to
// the broker in batches that the aggregation decides — held for Linger, sealed at
// MaxBatchRecords or before MaxBatchBytes — separately from the I/O that sends them.
// (A Flush would seal whatever has reached the partition when it arrives, so the batches
// checked here are all sealed by linger or a limit.)
func TestLingerAndLimitsShapeBatches(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "linger", "count", "bytes"))
	log := watchBatches(t, c, "linger", "count", "bytes")
	// produce produces n records of size bytes and returns a function that waits, with a
	// deadline, for all their callbacks.
	produce := func(p *producer.Producer, topic string, n, size int) (wait func()) {
		t.Helper()
		var wg sync.WaitGroup
		wg.Add(n)
		value := make([]byte, size)
		for range n {
			p.Produce(ctxT(t), &troupe.Record{Topic: topic, Value: value}, func(_ *troupe.Record, err error) {
				defer wg.Done()
				if err != nil {
					t.Errorf("%s: %v", topic, err)
				}
			})
		}
		return func() {
			t.Helper()
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(testTimeout):
				t.Fatalf("%s: the records' callbacks did not all run within %v", topic, testTimeout)
			}
		}
	}

	// Linger: the open batch waits that long after its first record, so records that
	// arrive meanwhile travel together, and none leaves before the linger is up. (A
	// slower machine only makes the wait look longer.)
	const linger = time.Second
	lingering := newProducer(t, producer.Config{Seeds: seeds, Linger: linger})
	begin := time.Now()
	produce(lingering, "linger", 20, 10)()
	if waited := time.Since(begin); waited < linger {
		t.Errorf("20 records were acknowledged %v after they were produced, before the linger of %v", waited, linger)
	}
	if recs, _ := log.of("linger"); !slices.Equal(recs, []int{20}) {
		t.Errorf("20 records produced within the linger travelled in batches of %v, want one of 20", recs)
	}

	// MaxBatchRecords seals a batch as soon as it holds that many.
	counted := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Hour, MaxBatchRecords: 10})
	wait := produce(counted, "count", 95, 10)
	waitFor(t, "nine batches sealed by count", func() bool {
		recs, _ := log.of("count")
		return len(recs) >= 9
	})
	if recs, _ := log.of("count"); !slices.Equal(recs, []int{10, 10, 10, 10, 10, 10, 10, 10, 10}) {
		t.Errorf("95 records with MaxBatchRecords 10 travelled in batches of %v before the flush", recs)
	}
	if err := counted.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	wait()

	// MaxBatchBytes seals a batch before the record that would take it past the limit;
	// the last, partly filled batch waits for its linger (the Flush below).
	const limit, value = 4096, 100
	sized := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Hour, MaxBatchBytes: limit})
	wait = produce(sized, "bytes", 200, value)
	waitFor(t, "batches sealed by size", func() bool {
		recs, _ := log.of("bytes")
		sum := 0
		for _, n := range recs {
			sum += n
		}
		return sum >= 200-limit/value
	})
	recs, sizes := log.of("bytes")
	t.Logf("sealed by size: %v records, %v bytes", recs, sizes)
	for i, n := range recs {
		if sizes[i] > limit {
			t.Errorf("batch %d (%d records) is %d bytes, above MaxBatchBytes %d", i, n, sizes[i], limit)
		}
		if sizes[i] < limit-2*(value+30) {
			t.Errorf("batch %d (%d records) was sealed at %d bytes, with room for more", i, n, sizes[i])
		}
	}
	if err := sized.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	wait()
}
