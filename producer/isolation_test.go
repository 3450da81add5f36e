package producer_test

import (
	"context"
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
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker that stops answering holds up only the partitions it leads.
func TestDeadBrokerDoesNotStallOtherPartitions(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
	for p := range int32(3) {
		if err := c.MoveTopicPartition("t", p, p); err != nil { // partition p led by node p
			t.Fatal(err)
		}
	}
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() == 0 {
			return nil, nil, true // node 0 swallows produce requests
		}
		return nil, nil, false
	})
	p, err := producer.New(producer.Config{Seeds: seeds[1:], Partitioner: producer.ManualPartitioner(), Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	healthy := newOutcomes(200)
	stuck := newOutcomes(50)
	for i := range 250 {
		part := int32(1 + i%2)
		o := healthy
		if i >= 200 {
			part, o = 0, stuck
		}
		p.Produce(context.Background(), &troupe.Record{Topic: "t", Partition: part, Value: []byte(fmt.Sprint(i))}, o.cb)
	}
	healthy.wait(t) // completes although node 0 holds partition 0's batches
	for r, err := range healthy.got {
		if err != nil {
			t.Fatalf("%s on a healthy broker: %v", r.Value, err)
		}
	}
	stuck.mu.Lock()
	if len(stuck.got) != 0 {
		t.Fatalf("%d records to the dead broker reported already", len(stuck.got))
	}
	stuck.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = p.Close(ctx)
	stuck.wait(t)
	for _, err := range stuck.got {
		if !errors.Is(err, troupe.ErrMaybeWritten) && !errors.Is(err, troupe.ErrNotWritten) {
			t.Fatalf("record to the dead broker: %v", err)
		}
	}
}

// A topic deleted and created again under a new ID: its partitions start their sequences
// afresh, and records keep flowing.
func TestRecreatedTopicStartsSequencesAfresh(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	var (
		mu        sync.Mutex
		recreated bool
		before    = map[[16]byte]bool{} // topic IDs produce requests used before the recreation
		staleIDs  int                   // requests after it that still used an old ID
	)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		for _, t := range req.(*kmsg.ProduceRequest).Topics {
			switch {
			case !recreated:
				before[t.TopicID] = true
			case before[t.TopicID]:
				staleIDs++
			}
		}
		return nil, nil, false
	})
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Millisecond, Backoff: supervisor.Backoff{Min: time.Millisecond},
		Cluster: clusterFast()})
	for i := range 100 {
		if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte(fmt.Sprint("before", i))}); err != nil {
			t.Fatal(err)
		}
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.SetVersion(4)
	del.TopicNames = []string{"t"}
	kafkatest.Admin(t, seeds[0], del)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.SetVersion(7)
	tt := kmsg.NewCreateTopicsRequestTopic()
	tt.Topic, tt.NumPartitions, tt.ReplicationFactor = "t", 1, 1
	ct.Topics = append(ct.Topics, tt)
	kafkatest.Admin(t, seeds[0], ct)
	mu.Lock()
	recreated = true
	mu.Unlock()
	for i := range 100 {
		if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte(fmt.Sprint("after", i))}); err != nil {
			t.Fatalf("record %d after recreation: %v", i, err)
		}
	}
	if got := len(kafkatest.ReadAll(t, seeds, "t")[0]); got != 100 {
		t.Fatalf("the recreated topic holds %d records, want 100", got)
	}
	// The producer had not seen the recreation when it sent its next batch: that request
	// named the old topic ID (Produce v13) and was refused, not written to the new topic.
	mu.Lock()
	defer mu.Unlock()
	if staleIDs == 0 {
		t.Fatal("no produce request used the old topic ID after the recreation")
	}
}

// upper is a custom stage: it upper-cases values and refuses empty ones.
type upper struct{}

func (upper) Name() string { return "upper" }

func (upper) New(next producer.Next) actor.Actor[producer.Pending] {
	var out []producer.Pending
	return actor.ReceiveBatch(func(ctx context.Context, batch []producer.Pending) error {
		out = out[:0]
		for _, pd := range batch {
			r := pd.Record()
			if len(r.Value) == 0 {
				next.Fail(pd, errors.New("empty value"))
				continue
			}
			for i, b := range r.Value {
				if 'a' <= b && b <= 'z' {
					r.Value[i] = b - 'a' + 'A'
				}
			}
			out = append(out, pd)
		}
		return next.Send(ctx, out)
	})
}

func TestCustomStageSeesRecordsBeforePartitioning(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Stages: []producer.Stage{upper{}}})
	var mu sync.Mutex
	o := newOutcomes(3)
	p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte("hello")}, o.cb)
	p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte("")}, o.cb)
	p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte("world")}, o.cb)
	o.wait(t)
	mu.Lock()
	defer mu.Unlock()
	var ok, refused int
	for r, err := range o.got {
		switch {
		case err == nil:
			ok++
			if string(r.Value) != "HELLO" && string(r.Value) != "WORLD" {
				t.Fatalf("stage did not run: %s", r.Value)
			}
		case errors.Is(err, troupe.ErrNotWritten):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if ok != 2 || refused != 1 {
		t.Fatalf("%d written, %d refused", ok, refused)
	}
}

// reroute sends records whose value starts with "bad" to the topic "dlq" instead, and
// takes the topic away from those whose value starts with "lost".
type reroute struct{}

func (reroute) Name() string { return "reroute" }

func (reroute) New(next producer.Next) actor.Actor[producer.Pending] {
	return actor.ReceiveBatch(func(ctx context.Context, batch []producer.Pending) error {
		for _, pd := range batch {
			switch r := pd.Record(); {
			case strings.HasPrefix(string(r.Value), "bad"):
				r.Topic = "dlq"
			case strings.HasPrefix(string(r.Value), "lost"):
				r.Topic = ""
			}
		}
		return next.Send(ctx, batch)
	})
}

// A stage may change a record's topic: the dispatcher, after the stages, routes by the
// topic the record has then. A record a stage left without a topic fails, not written.
func TestCustomStageCanChangeTheTopic(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t", "dlq"))
	p := newProducer(t, producer.Config{Seeds: seeds, Stages: []producer.Stage{reroute{}}})
	values := []string{"good 1", "bad 1", "lost 1", "good 2", "bad 2", "good 3"}
	o := newOutcomes(len(values))
	for _, v := range values {
		p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte(v)}, o.cb)
	}
	o.wait(t)
	for r, err := range o.got {
		lost := strings.HasPrefix(string(r.Value), "lost")
		switch {
		case lost && (!errors.Is(err, producer.ErrInvalidRecord) || !errors.Is(err, troupe.ErrNotWritten)):
			t.Errorf("%q, left without a topic: %v, want an invalid record, not written", r.Value, err)
		case !lost && err != nil:
			t.Errorf("%q: %v", r.Value, err)
		}
	}
	for topic, want := range map[string][]string{"t": {"good 1", "good 2", "good 3"}, "dlq": {"bad 1", "bad 2"}} {
		var got []string
		for _, r := range kafkatest.ReadAll(t, seeds, topic)[0] {
			got = append(got, string(r.Value))
		}
		if !slices.Equal(got, want) {
			t.Errorf("topic %s holds %q, want %q", topic, got, want)
		}
	}
}

// A partitioner (user code, run by the goroutine calling Produce or by the topic producer)
// that panics fails the record it was choosing for — reported, not lost, with the panic —
// and the producer goes on partitioning the topic's records.
func TestPanickingPartitionerLosesNothing(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	var calls sync.Mutex
	panicked := false
	part := producer.PartitionerFunc(func(topic string, r *troupe.Record, n int) int {
		calls.Lock()
		defer calls.Unlock()
		if string(r.Value) == "boom" && !panicked {
			panicked = true
			panic("partitioner bug")
		}
		return 0
	})
	p := newProducer(t, producer.Config{Seeds: seeds, Partitioner: part})
	// Warm up: the topic's metadata is known, so the next records are routed at once.
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("first")}); err != nil {
		t.Fatal(err)
	}
	o := newOutcomes(3)
	for _, v := range []string{"a", "boom", "b"} {
		p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte(v)}, o.cb)
	}
	o.wait(t)
	var failed int
	for r, err := range o.got {
		if err != nil {
			if !errors.Is(err, troupe.ErrNotWritten) || !errors.Is(err, actor.ErrPanic) {
				t.Fatalf("%s: %v", r.Value, err)
			}
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no record failed with the panic")
	}
	// A record's budget comes back just after its callback returns; Flush waits for that.
	flushCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	if n, _ := p.Buffered(); n != 0 {
		t.Fatalf("%d records still hold budget", n)
	}
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("after")}); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}
