// Command groups runs a consumer group of three members in one process, kills one (a
// crash: its connections cut, no LeaveGroup, no last commit), restarts it, and prints who
// owns which partition after each rebalance and every record each member processes.
//
//	go run ./examples/groups                          # an embedded 3-broker cluster
//	go run ./examples/groups -protocol consumer       # KIP-848's consumer protocol
//	go run ./examples/groups -brokers host:9092 -topic groups
//
// With no -brokers it starts an embedded kfake cluster (3 brokers on 127.0.0.1, the topic
// with 6 partitions). In three rounds it produces -records records per partition and
// waits until the members have processed them: with three members; after m2 is killed
// (the coordinator notices when m2's session times out, and gives its partitions to the
// others, which read them again from the last commit: records m2 processed but had not
// committed are processed twice, as at-least-once allows); and after m2 is restarted.
// Then it closes every member (each commits what it finished) and checks that every
// record was processed at least once and that the committed offsets are the ends of the
// partitions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

type options struct {
	brokers    string
	topic      string
	group      string
	partitions int
	records    int
	protocol   string
	session    time.Duration
	timeout    time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.brokers, "brokers", "", "comma-separated seed brokers; empty starts an embedded cluster")
	flag.StringVar(&o.topic, "topic", "groups", "topic to use (it must exist on a real cluster)")
	flag.StringVar(&o.group, "group", "groups-example", "the consumer group's ID")
	flag.IntVar(&o.partitions, "partitions", 6, "partitions of the embedded cluster's topic")
	flag.IntVar(&o.records, "records", 3, "records produced to each partition in each round")
	flag.StringVar(&o.protocol, "protocol", "classic", "group protocol: classic or consumer (KIP-848)")
	flag.DurationVar(&o.session, "session", 2*time.Second, "the members' session timeout: how long until the group notices a killed member")
	flag.DurationVar(&o.timeout, "timeout", time.Minute, "how long each round may take")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "groups:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, o options) error {
	if o.partitions <= 0 || o.records <= 0 || o.session <= 0 || o.timeout <= 0 {
		return errors.New("-partitions, -records, -session and -timeout must be positive")
	}
	proto := group.Classic
	switch o.protocol {
	case "classic":
	case "consumer":
		proto = group.Consumer
	default:
		return fmt.Errorf("-protocol %q: want classic or consumer", o.protocol)
	}
	seeds := strings.Split(o.brokers, ",")
	if o.brokers == "" {
		// The broker's shortest session timeout is 6s by default; the example's members
		// ask for less, so that a killed member is noticed sooner.
		kc, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(int32(o.partitions), o.topic),
			kfake.BrokerConfigs(map[string]string{
				"group.min.session.timeout.ms":         "100",
				"group.consumer.session.timeout.ms":    fmt.Sprint(o.session.Milliseconds()),
				"group.consumer.heartbeat.interval.ms": "200",
			}))
		if err != nil {
			return err
		}
		defer kc.Close()
		seeds = kc.ListenAddrs()
		fmt.Fprintf(out, "embedded kfake cluster: 3 brokers at %s, topic %q with %d partitions\n", strings.Join(seeds, ","), o.topic, o.partitions)
	}
	p, err := producer.New(producer.Config{Seeds: seeds, Partitioner: producer.ManualPartitioner()})
	if err != nil {
		return err
	}
	defer p.Close(context.Background())

	g := &demo{out: out, o: o, proto: proto, seeds: seeds, p: p, processed: make(map[consumer.About]map[int64]int), ends: make(map[int32]int64), change: make(chan struct{})}
	defer g.closeAll()

	fmt.Fprintf(out, "\n== round 1: three members\n")
	for _, name := range []string{"m1", "m2", "m3"} {
		if err := g.start(ctx, name); err != nil {
			return err
		}
	}
	if err := g.round(ctx, 3); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== round 2: m2 is killed (no LeaveGroup, no commit)\n")
	g.kill("m2")
	if err := g.round(ctx, 2); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== round 3: m2 is restarted\n")
	if err := g.start(ctx, "m2"); err != nil {
		return err
	}
	if err := g.round(ctx, 3); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== closing every member (each commits what it finished)\n")
	if err := g.closeAll(); err != nil {
		return err
	}
	return g.verify(ctx)
}

// demo is the example's state: the members running, what they processed, and what was
// produced.
type demo struct {
	out   io.Writer
	o     options
	proto group.Protocol
	seeds []string
	p     *producer.Producer

	members []*member

	mu        sync.Mutex
	processed map[consumer.About]map[int64]int // times each record was processed
	ends      map[int32]int64                  // the offset after each partition's last record
	change    chan struct{}                    // closed at the next callback or record processed
}

// member is one group member with the consumer it reads through. Its connections go
// through cut, so that kill can end them all at once, as a crashing process's sockets end.
type member struct {
	name string
	cons *consumer.Consumer
	m    *group.Member
	cut  *cutter
	done chan struct{} // closed when its worker has returned
}

func (g *demo) changed() {
	close(g.change)
	g.change = make(chan struct{})
}

func (g *demo) printf(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Fprintf(g.out, format, args...)
}

// start joins a member, and starts its worker: the user's loop over the records.
func (g *demo) start(ctx context.Context, name string) error {
	cut := &cutter{conns: make(map[net.Conn]bool)}
	cons, err := consumer.New(consumer.Config{
		Seeds:   g.seeds,
		Cluster: cluster.Config{Broker: broker.Config{Dial: cut.dial}},
	})
	if err != nil {
		return err
	}
	// A killed process runs nothing more: what is left of it in this one stays quiet.
	dead := cut.isCut
	cfg := group.Config{
		Protocol: g.proto, Group: g.o.group, Topics: []string{g.o.topic},
		SessionTimeout: g.o.session, HeartbeatInterval: g.o.session / 10,
		OnAssigned: func(_ context.Context, ps []consumer.About) { g.note(name, "assigned", ps, dead()) },
		OnRevoked:  func(_ context.Context, ps []consumer.About) { g.note(name, "revoked", ps, dead()) },
		OnLost:     func(_ context.Context, ps []consumer.About) { g.note(name, "lost", ps, dead()) },
	}
	jctx, cancel := context.WithTimeout(ctx, g.o.timeout)
	defer cancel()
	m, err := group.Join(jctx, cons, cfg)
	if err != nil {
		_ = cons.Close(context.Background())
		return fmt.Errorf("%s joining: %w", name, err)
	}
	g.printf("%s joined the group\n", name)
	mb := &member{name: name, cons: cons, m: m, cut: cut, done: make(chan struct{})}
	g.members = append(g.members, mb)
	w := &worker{g: g, mb: mb}
	go w.run()
	return nil
}

func (g *demo) note(name, what string, ps []consumer.About, dead bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(ps) > 0 && !dead {
		fmt.Fprintf(g.out, "%s %s %s\n", name, what, list(ps))
	}
	g.changed()
}

// worker is a member's user: it processes records one by one (here: prints them) until
// the member is closed. The Records iterator counts each record as finished once the
// loop body has run for it, so that a commit never covers a record not processed.
//
// Owner: demo.start starts it; the member's Close (or kill) ends it; done is closed then.
type worker struct {
	g  *demo
	mb *member
}

func (w *worker) run() {
	defer close(w.mb.done)
	for r, err := range w.mb.m.Records(context.Background()) {
		if err != nil {
			if !errors.Is(err, group.ErrClosed) && !w.mb.cut.isCut() {
				w.g.printf("%s: %v\n", w.mb.name, err)
			}
			return
		}
		if w.mb.cut.isCut() {
			return // killed: the record in hand is not processed
		}
		w.g.process(w.mb.name, r)
	}
}

func (g *demo) process(name string, r *troupe.Record) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := consumer.About{Topic: r.Topic, Partition: r.Partition}
	if g.processed[a] == nil {
		g.processed[a] = make(map[int64]int)
	}
	g.processed[a][r.Offset]++
	again := ""
	if g.processed[a][r.Offset] > 1 {
		again = " (again)"
	}
	fmt.Fprintf(g.out, "%s processed %s offset %d: %s%s\n", name, a, r.Offset, r.Value, again)
	g.changed()
}

// round produces records to every partition and waits until the group has settled with
// n members (every partition owned by exactly one of them) and every record is processed;
// then it prints who owns what.
func (g *demo) round(ctx context.Context, n int) error {
	for part := range int32(g.o.partitions) {
		for range g.o.records {
			g.mu.Lock()
			i := g.ends[part]
			g.mu.Unlock()
			r := &troupe.Record{Topic: g.o.topic, Partition: part, Value: fmt.Appendf(nil, "record %d of partition %d", i, part)}
			if err := g.p.ProduceSync(ctx, r); err != nil {
				return err
			}
			g.mu.Lock()
			g.ends[part] = r.Offset + 1
			g.mu.Unlock()
		}
	}
	deadline := time.NewTimer(g.o.timeout)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		change := g.change
		g.mu.Unlock()
		owners, ok := g.settled(n)
		if ok && g.allProcessed() {
			g.printf("owners: %s\n", owners)
			return nil
		}
		select {
		case <-change:
		case <-deadline.C:
			return fmt.Errorf("the group did not settle with %d members and process every record within %v (owners: %s)", n, g.o.timeout, owners)
		}
	}
}

// settled reports whether n members own every partition between them, each partition
// once, and describes who owns what.
func (g *demo) settled(n int) (string, bool) {
	owner := make(map[int32][]string)
	for _, mb := range g.members {
		for _, a := range mb.m.Assigned() {
			owner[a.Partition] = append(owner[a.Partition], mb.name)
		}
	}
	var parts []string
	ok, busy := len(g.members) == n, make(map[string]bool)
	for part := range int32(g.o.partitions) {
		parts = append(parts, fmt.Sprintf("%d→%s", part, strings.Join(owner[part], "+")))
		if len(owner[part]) != 1 {
			ok = false
		} else {
			busy[owner[part][0]] = true
		}
	}
	// Wait for a member without partitions only if there are enough to go round.
	if len(busy) < min(n, g.o.partitions) {
		ok = false
	}
	return strings.Join(parts, " "), ok
}

func (g *demo) allProcessed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for part, end := range g.ends {
		done := g.processed[consumer.About{Topic: g.o.topic, Partition: part}]
		for off := range end {
			if done[off] == 0 {
				return false
			}
		}
	}
	return true
}

// kill crashes a member: its connections are cut and no new ones open, so nothing it
// would send on its way out (LeaveGroup, a last commit) reaches the cluster. What is
// left of it in this process is then closed; the group learns of it only when its
// session times out.
func (g *demo) kill(name string) {
	i := slices.IndexFunc(g.members, func(mb *member) bool { return mb.name == name })
	mb := g.members[i]
	g.members = slices.Delete(g.members, i, i+1)
	mb.cut.cut()
	g.printf("%s killed: its connections cut, without leaving the group\n", name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = mb.m.Close(ctx) // fails: nothing gets through
	<-mb.done
	_ = mb.cons.Close(ctx)
}

// closeAll closes every member cleanly: each gives its partitions up, commits what it
// finished and leaves the group.
func (g *demo) closeAll() error {
	var errs []error
	for _, mb := range g.members {
		ctx, cancel := context.WithTimeout(context.Background(), g.o.timeout)
		if err := mb.m.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", mb.name, err))
		}
		<-mb.done
		if err := mb.cons.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s's consumer: %w", mb.name, err))
		}
		cancel()
		g.printf("%s closed\n", mb.name)
	}
	g.members = nil
	return errors.Join(errs...)
}

// verify checks that every record was processed at least once and that the group's
// committed offsets are the ends of the partitions, and prints the tally.
func (g *demo) verify(ctx context.Context) error {
	c, err := consumer.New(consumer.Config{Seeds: g.seeds})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	var tps []cluster.TopicPartition
	for part := range int32(g.o.partitions) {
		tps = append(tps, cluster.TopicPartition{Topic: g.o.topic, Partition: part})
	}
	committed, err := c.Client().FetchOffsets(ctx, cluster.ReadCommitted, g.o.group, nil, tps...) // as an admin
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	total, twice := 0, 0
	for part, end := range g.ends {
		for off := range end {
			switch n := g.processed[consumer.About{Topic: g.o.topic, Partition: part}][off]; {
			case n == 0:
				return fmt.Errorf("partition %d offset %d was never processed", part, off)
			case n > 1:
				twice++
			}
			total++
		}
	}
	for _, co := range committed {
		if co.Err != nil {
			return fmt.Errorf("committed offset of partition %d: %w", co.Partition, co.Err)
		}
		if co.Offset != g.ends[co.Partition] {
			return fmt.Errorf("partition %d: committed offset %d, but its last record is at %d", co.Partition, co.Offset, g.ends[co.Partition]-1)
		}
	}
	fmt.Fprintf(g.out, "committed offsets: %s\n", ends(g.ends))
	fmt.Fprintf(g.out, "verified: all %d records processed at least once (%d of them twice, after the kill); every partition committed up to its end\n", total, twice)
	return nil
}

func ends(m map[int32]int64) string {
	var out []string
	for _, part := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%d:%d", part, m[part]))
	}
	return strings.Join(out, " ")
}

func list(ps []consumer.About) string {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b consumer.About) int { return int(a.Partition - b.Partition) })
	out := make([]string, len(ps))
	for i, a := range ps {
		out[i] = a.String()
	}
	return strings.Join(out, " ")
}

// cutter dials a member's connections and can cut them all: a crash, as far as the
// cluster can tell.
type cutter struct {
	mu     sync.Mutex
	conns  map[net.Conn]bool
	isDead bool
}

var errCut = errors.New("the member was killed")

func (c *cutter) dial(ctx context.Context, network, address string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isDead {
		nc.Close()
		return nil, errCut
	}
	c.conns[nc] = true
	return nc, nil
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.isDead = true
	for nc := range c.conns {
		nc.Close()
	}
	clear(c.conns)
}

func (c *cutter) isCut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isDead
}
