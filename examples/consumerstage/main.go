// Command consumerstage consumes a topic's partitions through a custom stage: an actor
// of your own attached after each partition's feeder, which receives the partition's
// batches in offset order, under the same ownership and backpressure rules as a caller of
// Next.
//
//	go run ./examples/consumerstage                       # an embedded kfake cluster
//	go run ./examples/consumerstage -brokers host:9092    # a real one
//
// The program writes -records orders as JSON to each of the topic's -partitions
// partitions (through troupe's wire layer: the producer is not part of this example),
// then consumes them:
//
//	partition feeder ──*consumer.Batch──> enrich stage ──*orders──> sink
//	  (one per partition)     (one per partition: decodes      (one: checks that
//	                           the JSON, adds a category)       each partition's
//	                                                            orders arrive once,
//	                                                            in order)
//
// Each batch is the stage's outright once it arrives. The stage builds its own *orders
// value, an owned value (actor.Owned), and Hands it to the sink, which Takes and Releases
// it. Run the example's test with -tags troupecheck and that hand-off is checked.
//
// With -slow, partition 0's stage takes that long per batch: a slow stage is a slow user.
// Its feeder holds at most two batches, then the partition is left out of fetches; after
// MaxProcessingTime it gives up its place at its broker consumer (a SlowPartition event),
// while the other partitions, on the same brokers, keep flowing. When it catches up it
// subscribes again; nothing is lost, repeated or reordered.
//
// Against a real cluster the topic must exist with at least -partitions partitions; the
// program appends to it and consumes what it appended (from the end offsets it finds
// before writing).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/record"
	"github.com/twmb/franz-go/pkg/kfake"
)

// config is what the flags set.
type config struct {
	brokers    string
	topic      string
	partitions int
	records    int
	slow       time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers; empty starts an embedded kfake cluster")
	flag.StringVar(&cfg.topic, "topic", "orders", "topic to write to and consume")
	flag.IntVar(&cfg.partitions, "partitions", 3, "partitions to use")
	flag.IntVar(&cfg.records, "records", 2000, "orders to write to each partition")
	flag.DurationVar(&cfg.slow, "slow", 0, "how long partition 0's stage takes per batch")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "consumerstage:", err)
		os.Exit(1)
	}
}

// order is what the topic holds, as JSON.
type order struct {
	Partition int32   `json:"partition"`
	Seq       int     `json:"seq"` // 0, 1, 2, ... per partition
	Amount    float64 `json:"amount"`
	Category  string  `json:"-"` // added by the stage
	Offset    int64   `json:"-"`
}

// orders is what the stage hands the sink: one batch's orders, decoded and enriched. It
// is an owned value of this program's: it moves between its actors by explicit hand-off
// (the batch it was made from is simply the stage's, as Next's result is its caller's).
type orders struct {
	actor.Owned
	partition int32
	list      []order
	err       error // an error the partition reported instead
}

// enrich is the custom stage, one per partition. It receives the partition's batches in
// offset order, decodes each record's JSON, adds a category, and hands the result on.
type enrich struct {
	sink  actor.Ref[*orders]
	delay time.Duration
}

func (e *enrich) Run(ctx context.Context, in *actor.Inbox[*consumer.Batch]) error {
	me := in.Owner()
	var batch []*consumer.Batch
	for {
		var closed bool
		var err error
		if batch, closed, err = in.Receive(batch[:0]); err != nil {
			return err
		}
		for i, b := range batch {
			out := &orders{partition: b.Partition, err: b.Err, list: make([]order, 0, len(b.Records))}
			for _, r := range b.Records {
				var o order
				if err := json.Unmarshal(r.Value, &o); err != nil {
					out.err = fmt.Errorf("offset %d: %w", r.Offset, err)
					break
				}
				o.Offset = r.Offset
				o.Category = category(o.Amount)
				out.list = append(out.list, o)
			}
			if e.delay > 0 {
				select {
				case <-time.After(e.delay): // a slow stage
				case <-ctx.Done():
					in.Unread(batch[i+1:])
					return ctx.Err()
				}
			}
			out.Acquire(me)
			if err := actor.Hand(ctx, me, e.sink, out); err != nil {
				out.Release(me) // Hand gave it back: the sink is gone
				in.Unread(batch[i+1:])
				return err
			}
		}
		if closed {
			return nil
		}
	}
}

func category(amount float64) string {
	switch {
	case amount >= 500:
		return "large"
	case amount >= 100:
		return "medium"
	}
	return "small"
}

// sink receives every partition's orders and checks that each partition's arrive once,
// in order. It closes done once it has them all.
type sink struct {
	want  int
	next  map[int32]int // the seq expected next, per partition
	count map[string]int
	total int
	err   error
	done  chan struct{}
}

func (s *sink) Run(ctx context.Context, in *actor.Inbox[*orders]) error {
	me := in.Owner()
	var batch []*orders
	for {
		var closed bool
		var err error
		if batch, closed, err = in.Receive(batch[:0]); err != nil {
			return err
		}
		for _, got := range batch {
			got.Take(me)
			s.check(got)
			got.Release(me)
		}
		if closed {
			return nil
		}
	}
}

func (s *sink) check(got *orders) {
	if got.err != nil && s.err == nil {
		s.err = fmt.Errorf("partition %d: %w", got.partition, got.err)
	}
	for _, o := range got.list {
		if o.Partition != got.partition || o.Seq != s.next[got.partition] {
			if s.err == nil {
				s.err = fmt.Errorf("partition %d: order %d/%d at offset %d, want seq %d", got.partition, o.Partition, o.Seq, o.Offset, s.next[got.partition])
			}
			continue
		}
		s.next[got.partition]++
		s.count[o.Category]++
		s.total++
	}
	if s.total == s.want || s.err != nil {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}

func run(ctx context.Context, w io.Writer, cfg config) error {
	if cfg.partitions <= 0 || cfg.records <= 0 {
		return errors.New("-partitions and -records must be positive")
	}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(w, "[%6.3fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	seeds := strings.Split(cfg.brokers, ",")
	if cfg.brokers == "" {
		kc, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(int32(cfg.partitions), cfg.topic))
		if err != nil {
			return err
		}
		defer kc.Close()
		seeds = kc.ListenAddrs()
		say("embedded kfake cluster on %s", strings.Join(seeds, ", "))
	}

	client, err := cluster.Open(ctx, cluster.Config{Seeds: seeds})
	if err != nil {
		return err
	}
	defer func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Close(stop)
	}()
	starts, err := write(ctx, client, cfg)
	if err != nil {
		return err
	}
	say("wrote %d orders to each of %d partitions of %q", cfg.records, cfg.partitions, cfg.topic)

	var slowEvents atomic.Int32
	c, err := consumer.New(consumer.Config{
		Client:            client,
		MaxProcessingTime: 50 * time.Millisecond,
		MaxPartitionBytes: 1 << 10, // tiny fetches: many small batches, to show them flowing
		OnEvent: func(e troupe.Event) {
			if s, ok := e.(consumer.SlowPartition); ok {
				slowEvents.Add(1)
				say("%v", s)
			}
		},
	})
	if err != nil {
		return err
	}
	sk := &sink{want: cfg.records * cfg.partitions, next: make(map[int32]int), count: make(map[string]int), done: make(chan struct{})}
	sinkRef, sinkProc := actor.Start(ctx, "sink", sk, actor.Options[*orders]{})
	defer sinkProc.Stop(context.Background())

	for p := range int32(cfg.partitions) {
		delay := time.Duration(0)
		if p == 0 {
			delay = cfg.slow
		}
		_, err := c.ConsumePartition(ctx, cfg.topic, p, consumer.At(starts[p]), consumer.WithStage(consumer.Stage{
			New: func(string, int32) actor.Actor[*consumer.Batch] { return &enrich{sink: sinkRef, delay: delay} },
		}))
		if err != nil {
			return err
		}
	}
	select {
	case <-sk.done:
	case <-time.After(5 * time.Minute):
		return errors.New("the orders did not all arrive within 5 minutes")
	}
	stop, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Close(stop); err != nil {
		return err
	}
	if err := sinkProc.Stop(stop); err != nil {
		return err
	}
	if sk.err != nil {
		return sk.err
	}
	say("done: %d orders arrived once each, in order per partition (small %d, medium %d, large %d); %d slow-partition events",
		sk.total, sk.count["small"], sk.count["medium"], sk.count["large"], slowEvents.Load())
	return nil
}

// write appends cfg.records orders to each partition through the wire layer — a
// Produce request per batch of 50 to the partition's leader — and returns each
// partition's end offset from before, where consuming starts.
func write(ctx context.Context, client *cluster.Client, cfg config) ([]int64, error) {
	snap, err := client.Refresh(ctx, cfg.topic)
	if err != nil {
		return nil, err
	}
	comp, err := record.NewCompressor(record.Compression{Codec: record.Snappy})
	if err != nil {
		return nil, err
	}
	b := record.NewBuilder(comp)
	starts := make([]int64, cfg.partitions)
	for p := range int32(cfg.partitions) {
		leader, _, err := snap.Leader(cfg.topic, p)
		if err != nil {
			return nil, err
		}
		h, err := client.Conn(leader.Node(), broker.Produce)
		if err != nil {
			return nil, err
		}
		starts[p] = -1
		for seq := 0; seq < cfg.records; {
			b.Reset(nil)
			for ; seq < cfg.records && b.Len() < 50; seq++ {
				v, _ := json.Marshal(order{Partition: p, Seq: seq, Amount: float64((seq*37)%1000) + 0.5})
				b.Append(&troupe.Record{Value: v})
			}
			batch, err := b.Seal(record.NoProducer())
			if err != nil {
				return nil, err
			}
			req := &api.ProduceRequest{}
			req.Default()
			req.Acks, req.TimeoutMs = -1, 10000
			req.TopicData = []api.ProduceRequestTopicProduceData{{Name: cfg.topic, PartitionData: []api.ProduceRequestPartitionProduceData{{Index: p, Records: batch}}}}
			call := &broker.Call{Request: req, VersionCap: 12} // v13+ names topics by ID
			if err := h.DoCall(ctx, call); err != nil {
				return nil, err
			}
			pr := call.Response.(*api.ProduceResponse).Responses[0].PartitionResponses[0]
			if err := errcode.ForCode(pr.ErrorCode); err != nil {
				return nil, fmt.Errorf("produce to %s[%d]: %w", cfg.topic, p, err)
			}
			if starts[p] < 0 {
				starts[p] = pr.BaseOffset // where this run's orders start
			}
		}
	}
	return starts, nil
}
