package docscheck_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The functions in this file are the snippets of docs/getting-started.md, verbatim
// (TestGettingStartedSnippetsAreCompiled checks it); the Examples run them against an
// embedded kfake cluster.

// produce writes records to the topic "greetings" and waits for every outcome.
func produce(ctx context.Context, seeds []string) error {
	p, err := producer.New(producer.Config{Seeds: seeds})
	if err != nil {
		return err
	}
	defer p.Close(context.Background()) // a safety net on early returns; Close is idempotent

	// One record, waiting for its outcome.
	r := &troupe.Record{Topic: "greetings", Key: []byte("greeting"), Value: []byte("hello")}
	if err := p.ProduceSync(ctx, r); err != nil {
		return err
	}
	fmt.Println("first record: partition", r.Partition, "offset", r.Offset)

	// Many records, each with a callback. It runs exactly once per record, on a producer
	// goroutine, in offset order within a partition; it must not block.
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 1000 {
		wg.Add(1)
		rec := &troupe.Record{Topic: "greetings", Value: fmt.Appendf(nil, "hello %d", i)}
		p.Produce(ctx, rec, func(r *troupe.Record, err error) {
			defer wg.Done()
			if err != nil { // errors.Is(err, troupe.ErrNotWritten) or troupe.ErrMaybeWritten
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Println("failed:", failed.Load())

	// Close sends what is still buffered and waits for its outcomes; if closeCtx ends
	// first, it fails the rest (as not written, or maybe written) before returning.
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return p.Close(closeCtx)
}

// readTopic reads every record written so far to the topic "greetings", all its
// partitions through one reader, and stops at the end, empty partitions included.
func readTopic(ctx context.Context, seeds []string) error {
	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())

	r, err := c.ReadTopics(ctx, consumer.Oldest(), "greetings")
	if err != nil {
		return err
	}
	if err := r.UntilCaughtUp(ctx); err != nil { // the ends as of now (ListOffsets)
		return err
	}
	n := 0
	for b, err := range r.Batches(ctx) { // ends once every partition reached its end
		if err != nil { // one partition's error (b names it), or the context's
			return err
		}
		n += len(b.Records) // b: one partition's next records, in offset order
	}
	fmt.Println("read", n, "records")
	return nil
}

// consume reads the first n records of partition 0 of "greetings", a batch at a time.
func consume(ctx context.Context, seeds []string, n int) error {
	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())

	pc, err := c.ConsumePartition(ctx, "greetings", 0, consumer.Oldest())
	if err != nil {
		return err
	}
	read := 0
	for read < n {
		b, err := pc.Next(ctx) // one fetch result: the partition's next records, in order
		if err != nil {
			return err
		}
		for i := range b.Records {
			r := &b.Records[i]
			if read == 0 {
				fmt.Printf("offset %d: %s\n", r.Offset, r.Value)
			}
			read++
		}
	}
	fmt.Println("read", read, "records; position", pc.Position(), "lag", pc.Lag())
	return nil
}

// lastGreeting reads partition 0 of "greetings" one record at a time, up to offset last.
func lastGreeting(ctx context.Context, c *consumer.Consumer, last int64) (string, error) {
	pc, err := c.ConsumePartition(ctx, "greetings", 0, consumer.At(last))
	if err != nil {
		return "", err
	}
	defer pc.Close(context.Background())
	for r, err := range pc.Records(ctx) {
		if err != nil {
			return "", err
		}
		if r.Offset == last {
			return string(r.Value), nil
		}
	}
	return "", ctx.Err()
}

// shareOneClient runs a producer and a consumer over one cluster client: one metadata
// actor, one set of connections.
func shareOneClient(ctx context.Context, seeds []string) error {
	cl, err := cluster.Open(ctx, cluster.Config{Seeds: seeds})
	if err != nil {
		return err
	}
	defer cl.Close(context.Background()) // after the producer and consumer below

	p, err := producer.New(producer.Config{Client: cl})
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	c, err := consumer.New(consumer.Config{Client: cl})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())

	r := &troupe.Record{Topic: "greetings", Value: []byte("hello again")}
	if err := p.ProduceSync(ctx, r); err != nil {
		return err
	}
	v, err := lastGreeting(ctx, c, r.Offset)
	fmt.Println("read back:", v)
	return err
}

// requireKey is a producer stage: it refuses records without a key and stamps the others
// with a header. It sees every record before partitioning, in the order produced.
type requireKey struct{}

func (requireKey) Name() string { return "require-key" }

func (requireKey) New(next producer.Next) actor.Actor[producer.Pending] {
	return actor.Func[producer.Pending](func(ctx context.Context, in *actor.Inbox[producer.Pending]) error {
		var batch, keep []producer.Pending
		for {
			var closed bool
			var err error
			batch, closed, err = in.Receive(batch[:0]) // everything queued, in one wake-up
			if err != nil {
				return err
			}
			keep = keep[:0]
			for _, p := range batch {
				r := p.Record()
				if len(r.Key) == 0 {
					next.Fail(p, errors.New("a key is required")) // its callback: not written
					continue
				}
				r.Headers = append(r.Headers, troupe.Header{Key: "checked-by", Value: []byte("require-key")})
				keep = append(keep, p)
			}
			if err := next.Send(ctx, keep); err != nil { // on to the dispatcher, in order
				return err
			}
			if closed {
				return nil // a drain stop: everything accepted has been handed on
			}
		}
	})
}

// produceThroughStage produces through the requireKey stage.
func produceThroughStage(ctx context.Context, seeds []string) error {
	p, err := producer.New(producer.Config{Seeds: seeds, Stages: []producer.Stage{requireKey{}}})
	if err != nil {
		return err
	}
	defer p.Close(context.Background())

	err = p.ProduceSync(ctx, &troupe.Record{Topic: "greetings", Key: []byte("k"), Value: []byte("kept")})
	fmt.Println("with a key:", err)
	err = p.ProduceSync(ctx, &troupe.Record{Topic: "greetings", Value: []byte("refused")})
	fmt.Println("without a key, not written:", errors.Is(err, troupe.ErrNotWritten))
	return nil
}

// upperStage is a consumer stage: one incarnation per partition receives the partition's
// batches in offset order, upper-cases the values and sends them on to sink, one message
// per batch.
func upperStage(sink actor.Ref[[]string]) consumer.Stage {
	return consumer.Stage{New: func(topic string, partition int32) actor.Actor[*consumer.Batch] {
		return actor.Func[*consumer.Batch](func(ctx context.Context, in *actor.Inbox[*consumer.Batch]) error {
			var batches []*consumer.Batch
			for {
				var closed bool
				var err error
				batches, closed, err = in.Receive(batches[:0])
				if err != nil {
					return err
				}
				for i, b := range batches { // each batch is the stage's outright
					values := make([]string, 0, len(b.Records))
					for j := range b.Records {
						values = append(values, strings.ToUpper(string(b.Records[j].Value)))
					}
					if err := sink.Send(ctx, values); err != nil {
						in.Unread(batches[i+1:]) // not handled: the next incarnation gets them
						return err
					}
				}
				if closed {
					return nil
				}
			}
		})
	}}
}

// collector is an actor that keeps the values it is sent and closes full once it holds
// want of them.
type collector struct {
	want   int
	values []string
	full   chan struct{}
}

func (c *collector) Run(ctx context.Context, in *actor.Inbox[[]string]) error {
	var msgs [][]string
	for {
		var closed bool
		var err error
		msgs, closed, err = in.Receive(msgs[:0])
		if err != nil {
			return err
		}
		for _, vs := range msgs {
			before := len(c.values)
			c.values = append(c.values, vs...)
			if before < c.want && len(c.values) >= c.want {
				close(c.full)
			}
		}
		if closed {
			return nil
		}
	}
}

// consumeThroughStage consumes n records of partition 0 through upperStage.
func consumeThroughStage(ctx context.Context, seeds []string, n int) error {
	col := &collector{want: n, full: make(chan struct{})}
	sink, sinkProc := actor.Start(context.Background(), "collector", col, actor.Options[[]string]{})
	defer sinkProc.Stop(context.Background())

	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if _, err := c.ConsumePartition(ctx, "greetings", 0, consumer.Oldest(), consumer.WithStage(upperStage(sink))); err != nil {
		return err
	}
	select {
	case <-col.full:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Stop the stage (with the consumer), then the collector, before reading its values.
	if err := c.Close(ctx); err != nil {
		return err
	}
	if err := sinkProc.Stop(ctx); err != nil {
		return err
	}
	fmt.Println("first value:", col.values[0])
	return nil
}

// supervise runs a worker that fails on bad input under a supervisor: the supervisor
// restarts it, and the messages queued for it survive the restart.
func supervise(ctx context.Context) error {
	restarted := make(chan struct{}, 1)
	sup := supervisor.New(supervisor.Config{
		Name: "app",
		OnEvent: func(e supervisor.Event) { // on the supervisor's goroutine: must not block
			if r, ok := e.(supervisor.Restarted); ok {
				fmt.Println(r.Child, "restarted, attempt", r.Attempt)
				select {
				case restarted <- struct{}{}:
				default:
				}
			}
		},
	})
	var handled atomic.Int64
	worker, err := supervisor.Add(sup, supervisor.ChildSpec[int]{
		Name: "worker",
		New: func() actor.Actor[int] { // a fresh incarnation for every (re)start
			return actor.Receive(func(ctx context.Context, n int) error {
				if n < 0 {
					return fmt.Errorf("bad input %d", n) // fails this incarnation
				}
				handled.Add(1)
				return nil
			})
		},
		Breaker: &supervisor.BreakerConfig{Errors: 3, Timeout: time.Second},
	})
	if err != nil {
		return err
	}
	proc := sup.Start(ctx)
	for _, n := range []int{1, 2, -1, 3, 4} {
		if err := worker.Send(ctx, n); err != nil { // worker stays valid across restarts
			return err
		}
	}
	<-restarted
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := proc.Stop(stopCtx); err != nil { // drain stop: handles what is queued, then stops
		return err
	}
	fmt.Println("handled", handled.Load(), "good messages")
	return nil
}

// startBroker starts an in-memory Kafka cluster: one broker on 127.0.0.1 with the topic
// "greetings" (one partition). Close it when done.
func startBroker() (*kfake.Cluster, []string, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "greetings"))
	if err != nil {
		return nil, nil, err
	}
	return cluster, cluster.ListenAddrs(), nil
}

// embedded starts the examples' broker.
func embedded() (seeds []string, stop func()) {
	c, seeds, err := startBroker()
	if err != nil {
		panic(err)
	}
	return seeds, c.Close
}

func exampleCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), testTimeout)
}

// withEmbedded runs the page's steps in order against a fresh embedded cluster, printing
// any step's error.
func withEmbedded(steps ...func(ctx context.Context, seeds []string) error) {
	seeds, stop := embedded()
	defer stop()
	ctx, cancel := exampleCtx()
	defer cancel()
	for _, step := range steps {
		if err := step(ctx, seeds); err != nil {
			fmt.Println(err)
		}
	}
}

// consumeAll reads back the 1001 records produce writes.
func consumeAll(ctx context.Context, seeds []string) error { return consume(ctx, seeds, 1001) }

func Example_produce() {
	withEmbedded(produce)
	// Output:
	// first record: partition 0 offset 0
	// failed: 0
}

func Example_consume() {
	withEmbedded(produce, consumeAll)
	// Output:
	// first record: partition 0 offset 0
	// failed: 0
	// offset 0: hello
	// read 1001 records; position 1001 lag 0
}

func Example_readTopic() {
	withEmbedded(readTopic, produce, readTopic)
	// Output:
	// read 0 records
	// first record: partition 0 offset 0
	// failed: 0
	// read 1001 records
}

func Example_shareOneClient() {
	withEmbedded(shareOneClient)
	// Output:
	// read back: hello again
}

func Example_producerStage() {
	withEmbedded(produceThroughStage)
	// Output:
	// with a key: <nil>
	// without a key, not written: true
}

func Example_consumerStage() {
	withEmbedded(produce, func(ctx context.Context, seeds []string) error { return consumeThroughStage(ctx, seeds, 1001) })
	// Output:
	// first record: partition 0 offset 0
	// failed: 0
	// first value: HELLO
}

func Example_supervise() {
	ctx, cancel := exampleCtx()
	defer cancel()
	if err := supervise(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// worker restarted, attempt 1
	// handled 4 good messages
}
