// Command tcat is a small kcat-like tool built on troupe: produce lines from stdin,
// consume records to stdout, or list a cluster's metadata. It works against any Kafka.
//
//	tcat -b host:9092 -L [-t topic]                         list brokers, topics, partitions
//	tcat -b host:9092 -P -t topic [-K :] [-p 0] [-H k=v]   produce stdin lines (key:value with -K)
//	tcat -b host:9092 -C -t topic [-p 0] [-o beginning|end|N|@unixms] [-e] [-c N] [-K :] [-J]
//	tcat ... -X security.protocol=sasl_ssl -X sasl.mechanism=SCRAM-SHA-512 \
//	         -X sasl.username=alice -X sasl.password=... -X ssl.ca.location=ca.pem
//
// -X takes kcat's (librdkafka's) property names for TLS and SASL; see security.go for the
// list.
//
// Consuming reads every partition of the topic (or only -p), from -o (default
// beginning); with -e it stops once it has read up to where each partition ended when it
// started; -c stops after N records. -J prints one JSON object per record. Errors —
// unreachable brokers, unknown topics or partitions, bad flags — are printed on stderr
// and make tcat exit with status 1 (2 for bad flags).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// config is what the flags say.
type config struct {
	brokers   string
	mode      string // "P", "C" or "L"
	topic     string
	partition int
	offset    string
	exitAtEnd bool
	count     int
	keyDelim  string
	json      bool
	headers   []string
	timeout   time.Duration
	security  securityProps
}

// errUsage marks a bad command line (exit status 2).
var errUsage = errors.New("usage")

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tcat:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{security: securityProps{}}
	fs := flag.NewFlagSet("tcat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.brokers, "b", "", "comma-separated bootstrap brokers (required)")
	produce := fs.Bool("P", false, "produce lines from stdin")
	consume := fs.Bool("C", false, "consume to stdout")
	list := fs.Bool("L", false, "list metadata")
	fs.StringVar(&c.topic, "t", "", "topic")
	fs.IntVar(&c.partition, "p", -1, "partition (-1: all when consuming, by key or sticky when producing)")
	fs.StringVar(&c.offset, "o", "beginning", "start offset: beginning, end, N, or @unix-milliseconds")
	fs.BoolVar(&c.exitAtEnd, "e", false, "exit when the end of every partition (as of start) is reached")
	fs.IntVar(&c.count, "c", 0, "stop after this many records (0: no limit)")
	fs.StringVar(&c.keyDelim, "K", "", "key delimiter: split input lines into key and value / print keys")
	fs.BoolVar(&c.json, "J", false, "print records as JSON")
	fs.Func("H", "header key=value to add to produced records (repeatable)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("header %q: want key=value", s)
		}
		c.headers = append(c.headers, s)
		return nil
	})
	fs.Func("X", "security property=value, as kcat takes it (repeatable): security.protocol, sasl.*, ssl.*", c.security.set)
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for the cluster to answer")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	modes := 0
	for m, on := range map[string]bool{"P": *produce, "C": *consume, "L": *list} {
		if on {
			c.mode = m
			modes++
		}
	}
	fail := func(format string, a ...any) (config, error) {
		fmt.Fprintf(stderr, "tcat: "+format+"\n", a...)
		fs.Usage()
		return c, errUsage
	}
	switch {
	case modes != 1:
		return fail("choose exactly one of -P, -C and -L")
	case c.brokers == "":
		return fail("-b is required")
	case c.mode != "L" && c.topic == "":
		return fail("-t is required with -%s", c.mode)
	case c.count < 0:
		return fail("-c must not be negative")
	}
	return c, nil
}

func run(ctx context.Context, c config, stdin io.Reader, stdout, stderr io.Writer) error {
	// One retry for a topic that is not there: a command-line user wants a quick answer.
	ccfg := cluster.Config{Seeds: strings.Split(c.brokers, ","), TopicRetries: 1}
	if err := c.security.apply(&ccfg.Broker); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	client, err := cluster.Open(ctx, ccfg)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	defer client.Close(context.Background())
	// Fail fast and clearly when nothing answers.
	mctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var topics []string
	if c.topic != "" {
		topics = []string{c.topic}
	}
	snap, err := client.Refresh(mctx, topics...)
	if err != nil {
		return fmt.Errorf("cannot reach the brokers %s within %v: %w", c.brokers, c.timeout, err)
	}
	if c.topic != "" {
		t := snap.Topic(c.topic)
		if t == nil || t.Err != nil {
			return fmt.Errorf("topic %q: %v", c.topic, topicErr(t))
		}
		if c.partition >= len(t.Partitions) {
			return fmt.Errorf("topic %q has %d partitions, no partition %d", c.topic, len(t.Partitions), c.partition)
		}
	}
	switch c.mode {
	case "L":
		return list(stdout, snap, c.topic)
	case "P":
		return produceLines(ctx, client, c, stdin, stderr)
	default:
		return consumeRecords(ctx, client, snap, c, stdout)
	}
}

func topicErr(t *cluster.Topic) error {
	if t == nil {
		return errors.New("unknown topic")
	}
	return t.Err
}

func list(w io.Writer, s *cluster.Snapshot, only string) error {
	fmt.Fprintf(w, "%d brokers:\n", len(s.Brokers))
	for _, n := range s.Nodes() {
		ctl := ""
		if n.ID == s.Controller {
			ctl = " (controller)"
		}
		fmt.Fprintf(w, "  broker %d at %s%s\n", n.ID, n.Addr, ctl)
	}
	names := make([]string, 0, len(s.Topics))
	for name := range s.Topics {
		if only == "" || name == only {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	fmt.Fprintf(w, "%d topics:\n", len(names))
	for _, name := range names {
		t := s.Topics[name]
		fmt.Fprintf(w, "  topic %q with %d partitions:\n", name, len(t.Partitions))
		for _, p := range t.Partitions {
			fmt.Fprintf(w, "    partition %d, leader %d, replicas %v, isrs %v\n", p.ID, p.Leader, p.Replicas, p.ISR)
		}
	}
	return nil
}

func produceLines(ctx context.Context, client *cluster.Client, c config, stdin io.Reader, stderr io.Writer) error {
	cfg := producer.Config{Client: client}
	if c.partition >= 0 {
		cfg.Partitioner = producer.ManualPartitioner()
	}
	p, err := producer.New(cfg)
	if err != nil {
		return err
	}
	var headers []troupe.Header
	for _, h := range c.headers {
		k, v, _ := strings.Cut(h, "=")
		headers = append(headers, troupe.Header{Key: k, Value: []byte(v)})
	}
	var (
		mu     sync.Mutex
		failed int
		first  error
		wg     sync.WaitGroup
		sent   int
	)
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() && (c.count == 0 || sent < c.count) {
		line := sc.Text()
		r := &troupe.Record{Topic: c.topic, Partition: int32(max(c.partition, 0)), Value: []byte(line), Headers: headers}
		if c.keyDelim != "" {
			if k, v, ok := strings.Cut(line, c.keyDelim); ok {
				r.Key, r.Value = []byte(k), []byte(v)
			}
		}
		wg.Add(1)
		sent++
		p.Produce(ctx, r, func(_ *troupe.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(closeCtx); err != nil {
		return err
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	fmt.Fprintf(stderr, "%d records produced to %s, %d failed\n", sent-failed, c.topic, failed)
	if first != nil {
		return fmt.Errorf("%d records failed, the first with: %w", failed, first)
	}
	return nil
}

// jsonRecord is tcat's -J output.
type jsonRecord struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp int64             `json:"ts"`
	Key       *string           `json:"key"`
	Value     *string           `json:"payload"`
	Headers   map[string]string `json:"headers,omitempty"`
}

func consumeRecords(ctx context.Context, client *cluster.Client, snap *cluster.Snapshot, c config, stdout io.Writer) error {
	from, err := parseOffset(c.offset)
	if err != nil {
		return err
	}
	cons, err := consumer.New(consumer.Config{Client: client})
	if err != nil {
		return err
	}
	defer cons.Close(context.Background())
	parts := []int32{int32(c.partition)}
	if c.partition < 0 {
		parts = parts[:0]
		for _, p := range snap.Topic(c.topic).Partitions {
			parts = append(parts, p.ID)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	var (
		mu      sync.Mutex
		printed int
	)
	emit := func(r *troupe.Record) bool { // reports whether to go on
		mu.Lock()
		defer mu.Unlock()
		if c.count > 0 && printed >= c.count {
			return false
		}
		printRecord(out, r, c)
		printed++
		if c.count > 0 && printed >= c.count {
			cancel()
			return false
		}
		return true
	}
	var ends, starts map[int32]int64
	if c.exitAtEnd {
		if ends, err = listOffsets(ctx, client, snap, c.topic, parts, cluster.Newest, c.timeout); err != nil {
			return err
		}
		if starts, err = listOffsets(ctx, client, snap, c.topic, parts, cluster.Oldest, c.timeout); err != nil {
			return err
		}
	}
	var procs []*actor.Process
	for _, part := range parts {
		end := ends[part]
		if c.exitAtEnd && nothingToRead(c.offset, starts[part], end) {
			continue
		}
		pc, err := cons.ConsumePartition(ctx, c.topic, part, from)
		if err != nil {
			cancel() // the printers already started stop
			waitAll(procs)
			return err
		}
		pr := &partitionPrinter{pc: pc, end: end, exitAtEnd: c.exitAtEnd, emit: emit, failed: cancel}
		_, proc := actor.Start(ctx, fmt.Sprintf("print-%d", part), pr, actor.Options[struct{}]{})
		procs = append(procs, proc)
	}
	return waitAll(procs)
}

// waitAll waits for every process to end and returns the first error among them.
func waitAll(procs []*actor.Process) error {
	var first error
	for _, proc := range procs {
		<-proc.Done()
		if err := proc.Err(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// partitionPrinter is an actor that prints one partition's records (readPartition); it
// takes no messages. consume starts one per partition, owns them all and waits for each
// to end. The first to fail cancels the others' context through failed, so that tcat
// exits with that error; the others then end without one.
type partitionPrinter struct {
	pc        *consumer.PartitionConsumer
	end       int64
	exitAtEnd bool
	emit      func(*troupe.Record) bool
	failed    context.CancelFunc
}

func (p *partitionPrinter) Run(ctx context.Context, _ *actor.Inbox[struct{}]) error {
	defer p.pc.Close(context.Background())
	err := readPartition(ctx, p.pc, p.end, p.exitAtEnd, p.emit)
	if err == nil || ctx.Err() != nil {
		return nil
	}
	p.failed()
	return fmt.Errorf("partition %d: %w", p.pc.Partition(), err)
}

// readPartition prints one partition's records until ctx ends, or with exitAtEnd until
// end, the partition's end when tcat started.
func readPartition(ctx context.Context, pc *consumer.PartitionConsumer, end int64, exitAtEnd bool, emit func(*troupe.Record) bool) error {
	for {
		if exitAtEnd && pc.Position() >= end {
			return nil
		}
		b, err := pc.Next(ctx)
		if err != nil {
			return err
		}
		for i := range b.Records {
			if exitAtEnd && b.Records[i].Offset >= end {
				return nil
			}
			if !emit(&b.Records[i]) {
				return nil
			}
		}
	}
}

// nothingToRead reports whether, starting at -o offset in a partition whose log spans
// [start, end), there is nothing to read before end.
func nothingToRead(offset string, start, end int64) bool {
	switch {
	case start >= end, offset == "end":
		return true
	case offset == "beginning", strings.HasPrefix(offset, "@"):
		return false
	}
	n, _ := strconv.ParseInt(offset, 10, 64)
	return n >= end
}

// listOffsets asks each partition's leader for an offset: its high-water mark (ts
// cluster.Newest) or its log start (ts cluster.Oldest).
func listOffsets(ctx context.Context, client *cluster.Client, snap *cluster.Snapshot, topic string, parts []int32, ts int64, timeout time.Duration) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ends := make(map[int32]int64, len(parts))
	for _, p := range parts {
		leader, epoch, err := snap.Leader(topic, p)
		if err != nil {
			return nil, err
		}
		conn, err := client.Conn(leader.Node(), broker.Admin)
		if err != nil {
			return nil, err
		}
		var req api.ListOffsetsRequest
		req.Default()
		part := api.ListOffsetsRequestPartition{}
		part.Default()
		part.PartitionIndex, part.Timestamp, part.CurrentLeaderEpoch = p, ts, epoch
		req.Topics = []api.ListOffsetsRequestTopic{{Name: topic, Partitions: []api.ListOffsetsRequestPartition{part}}}
		resp, err := conn.Do(ctx, &req)
		if err != nil {
			return nil, fmt.Errorf("offsets of %s[%d]: %w", topic, p, err)
		}
		lp := resp.(*api.ListOffsetsResponse).Topics[0].Partitions[0]
		if err := errcode.ForCode(lp.ErrorCode); err != nil {
			return nil, fmt.Errorf("offsets of %s[%d]: %w", topic, p, err)
		}
		ends[p] = lp.Offset
	}
	return ends, nil
}

func printRecord(w io.Writer, r *troupe.Record, c config) {
	if c.json {
		j := jsonRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli()}
		if r.Key != nil {
			k := string(r.Key)
			j.Key = &k
		}
		if r.Value != nil {
			v := string(r.Value)
			j.Value = &v
		}
		if len(r.Headers) > 0 {
			j.Headers = map[string]string{}
			for _, h := range r.Headers {
				j.Headers[h.Key] = string(h.Value)
			}
		}
		b, _ := json.Marshal(j)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	if c.keyDelim != "" {
		fmt.Fprintf(w, "%s%s", r.Key, c.keyDelim)
	}
	fmt.Fprintf(w, "%s\n", r.Value)
}

func parseOffset(s string) (consumer.Offset, error) {
	switch {
	case s == "beginning":
		return consumer.Oldest(), nil
	case s == "end":
		return consumer.Newest(), nil
	case strings.HasPrefix(s, "@"):
		ms, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil {
			return consumer.Offset{}, fmt.Errorf("%w: -o %q: want @unix-milliseconds", errUsage, s)
		}
		return consumer.AtTime(time.UnixMilli(ms)), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return consumer.Offset{}, fmt.Errorf("%w: -o %q: want beginning, end, a non-negative offset or @unix-milliseconds", errUsage, s)
	}
	return consumer.At(n), nil
}
