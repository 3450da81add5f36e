package property_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/internal/faults"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
	"pgregory.net/rapid"
)

// groupAssignors are the classic protocol's assignors a check draws from (each member
// offers the one drawn), eager and cooperative (KIP-429).
var groupAssignors = []func() group.Assignor{
	group.Range,
	group.RoundRobin,
	group.Sticky,
	group.CooperativeSticky,
}

// groupServerAssignors are the KIP-848 server-side assignors a check draws from.
var groupServerAssignors = []string{group.ServerAssignorUniform, group.ServerAssignorRange}

// The group's timing: the members' session timeout and heartbeat interval, which the
// brokers' KIP-848 settings match, and the processing time (the classic rebalance
// timeout, and how long a stalled user holds its batches before its member gives up).
const (
	groupSession    = 3 * time.Second
	groupHeartbeat  = 200 * time.Millisecond
	groupProcessing = 2 * time.Second
	// groupSettle bounds, in the final phase, the wait for the group to settle (d) and
	// for every record to be taken (b), from the heal on: a few sessions and rebalance
	// timeouts, the longest a member that crashed or stalled can hold things up.
	groupSettle = 2 * time.Minute
	// sessionSlack is how long after a member's session ran out (by its own clock) a
	// fetch may still be sent (a3): the hand-off takes the lost partitions out of the
	// reader at once, but a broker consumer between two fetches sends its next one before
	// it sees them stopped. Two fetch waits (the members' MaxWait is 50 ms).
	sessionSlack = 100 * time.Millisecond
	// groupJoin bounds the wait for a member's first assignment (Join); under faults it
	// may not come, and the check goes on without that member.
	groupJoin = 20 * time.Second
	// groupClose bounds a member's Close.
	groupClose = 30 * time.Second
	// crashClose bounds the Close of a crashed member's leftovers (its network is gone:
	// it fails, and must not wait longer).
	crashClose = 5 * time.Second
)

// TestGroupProperty runs consumer-group members (the classic protocol with each eager
// assignor, or KIP-848's consumer protocol) against a 3-broker kfake cluster under
// synctest, while rapid draws records produced, members joining, leaving, crashing and
// stalling, network faults on the paths to the brokers, and coordinator moves; then heals
// everything and checks properties a1, a2, b, c, d and e of issue 21 (docs/testing.md).
func TestGroupProperty(t *testing.T) {
	useRapid(t, 10, 20)
	tally := &groupTally{}
	rapid.Check(t, func(rt *rapid.T) {
		defer watchdog(t.Name(), stallLimit, stalled)()
		rapid.SyncTest(rt, func(rt *rapid.T) { groupSyncCheck(rt, t.Name(), tally) })
	})
	t.Logf("%v", tally)
}

// gopts are a group check's drawn configuration.
type gopts struct {
	partitions     int32
	protocol       group.Protocol
	assignor       int // index in groupAssignors (classic)
	serverAssignor string
	autoCommit     time.Duration // 0: off
	work           time.Duration // how long a user takes over each batch
	maxPollRecords int           // the members' consumers' MaxPollRecords (0: no cap)
}

func (o gopts) String() string {
	how := o.serverAssignor
	if o.protocol == group.Classic {
		how = groupAssignors[o.assignor]().Name()
	}
	return fmt.Sprintf("partitions=%d protocol=%v assignor=%s autoCommit=%v work=%v maxPollRecords=%d", o.partitions, o.protocol, how, o.autoCommit, o.work, o.maxPollRecords)
}

func drawGroupOptions(t *rapid.T) gopts {
	o := gopts{
		partitions: int32(rapid.IntRange(1, 6).Draw(t, "partitions")),
		protocol:   rapid.SampledFrom([]group.Protocol{group.Classic, group.Consumer}).Draw(t, "protocol"),
		autoCommit: rapid.SampledFrom([]time.Duration{0, 100 * time.Millisecond, time.Second}).Draw(t, "autoCommit"),
		work:       rapid.SampledFrom([]time.Duration{0, 10 * time.Millisecond, 200 * time.Millisecond}).Draw(t, "work"),
	}
	if o.protocol == group.Classic {
		o.assignor = rapid.IntRange(0, len(groupAssignors)-1).Draw(t, "assignor")
	} else {
		o.serverAssignor = rapid.SampledFrom(groupServerAssignors).Draw(t, "serverAssignor")
	}
	o.maxPollRecords = rapid.SampledFrom([]int{0, 0, 3, 20}).Draw(t, "maxPollRecords")
	return o
}

// gcheck is one group check: a topic, a kgo client that produces and reads committed
// offsets past every fault, the members, and what they did.
type gcheck struct {
	t     *rapid.T
	test  string
	opts  gopts
	c     *faults.Cluster
	nw    *faults.Network
	vn    *kfake.VirtualNetwork
	kcl   *kgo.Client
	topic string
	group string

	h       *groupHistory
	tally   *groupTally
	logs    *logBuffer
	start   time.Time
	actions []string

	members  []*gmember // live (joined, not closed or crashed)
	joined   int        // members started so far, to name them
	produced map[int32]int
	faulty   map[int]bool // nodes with network faults
	problems []string
}

// groupSyncCheck runs one check in its bubble: its own cluster on a VirtualNetwork, and
// (everything closed) no goroutine left.
func groupSyncCheck(rt *rapid.T, test string, tally *groupTally) {
	before := goleak.IgnoreCurrent()
	rt.Cleanup(breakerTimersEnd)
	vn := &kfake.VirtualNetwork{}
	dir, err := os.MkdirTemp("", "troupe-group-property-")
	if err != nil {
		rt.Fatal(err)
	}
	rt.Cleanup(func() { os.RemoveAll(dir) })
	ports := make([]int, virtualBrokers)
	for i := range ports {
		ports[i] = virtualBase + i
	}
	ms := func(d time.Duration) string { return fmt.Sprint(d.Milliseconds()) }
	c, err := faults.StartCluster(faults.ClusterConfig{
		Brokers: virtualBrokers, Ports: ports, Listen: vn.Listen, Dial: vn.DialContext, DataDir: dir,
		Opts: []kfake.Opt{kfake.BrokerConfigs(map[string]string{
			"group.min.session.timeout.ms":         "100",
			"group.consumer.session.timeout.ms":    ms(groupSession),
			"group.consumer.heartbeat.interval.ms": ms(groupHeartbeat),
		})},
	})
	if err != nil {
		rt.Fatal(err)
	}
	rt.Cleanup(c.Close)
	g := &gcheck{
		t: rt, test: test, opts: drawGroupOptions(rt), c: c, vn: vn,
		nw:    faults.NewNetwork(vn.DialContext, ports),
		topic: "gt", group: "gp",
		h: newGroupHistory(), logs: &logBuffer{}, start: time.Now(), tally: tally,
		produced: make(map[int32]int), faulty: make(map[int]bool),
	}
	g.nw.Logf = g.logf("network")
	rt.Cleanup(g.teardown)
	g.run()
	g.teardown()
	c.Close()
	breakerTimersEnd()
	if err := goleak.Find(before); err != nil {
		rt.Fatalf("goroutines left in the bubble after everything closed: %v", err)
	}
}

func (g *gcheck) note(format string, args ...any) {
	line := fmt.Sprintf("%10v  %s", time.Since(g.start).Round(time.Microsecond), fmt.Sprintf(format, args...))
	g.actions = append(g.actions, line)
	fmt.Fprintf(g.logs, "==== %s\n", line)
}

func (g *gcheck) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	g.problems = append(g.problems, msg)
	fmt.Fprintf(g.logs, "==== PROBLEM %s\n", msg)
}

func (g *gcheck) logf(who string) func(format string, args ...any) {
	logger := g.logs.logger()
	return func(format string, args ...any) { logger.Debug(fmt.Sprintf(format, args...), "by", who) }
}

func (g *gcheck) run() {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := faults.CreateTopic(ctx, g.c.Addrs(), g.vn.DialContext, g.topic, g.opts.partitions); err != nil {
		g.t.Fatalf("creating the topic: %v", err)
	}
	kcl, err := kgo.NewClient(kgo.SeedBrokers(g.c.Addrs()...), kgo.Dialer(g.vn.DialContext),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	if err != nil {
		g.t.Fatal(err)
	}
	g.kcl = kcl
	g.note("configuration: %v", g.opts)
	g.addMember()
	g.t.Repeat(g.actionMap())
	g.finish()
}

func (g *gcheck) actionMap() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"produce":          g.actProduce,
		"produce 2":        g.actProduce,
		"join":             g.actJoin,
		"leave":            g.actLeave,
		"crash":            g.actCrash,
		"stall":            g.actStall,
		"unstall":          g.actUnstall,
		"wait":             g.actWait,
		"network fault":    g.actNetFault,
		"network heal":     g.actNetHeal,
		"move coordinator": g.actMoveCoordinator,
		"":                 func(*rapid.T) { g.observeCommitted("after " + lastAction(g.actions)) },
	}
}

func lastAction(actions []string) string {
	if len(actions) == 0 {
		return "the start"
	}
	return strings.TrimSpace(actions[len(actions)-1])
}

func (g *gcheck) actProduce(t *rapid.T) {
	p := int32(rapid.IntRange(0, int(g.opts.partitions)-1).Draw(t, "partition"))
	n := rapid.IntRange(1, 20).Draw(t, "records")
	g.note("produce %d records to partition %d", n, p)
	g.produce(p, n)
}

// produce writes n records to partition p, past every fault (the records are the test's
// input, not what it tests).
func (g *gcheck) produce(p int32, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: g.topic, Partition: p, Value: fmt.Appendf(nil, "%d/%d", p, g.produced[p]+i)}
	}
	if err := g.kcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		g.t.Fatalf("producing: %v", err)
	}
	g.produced[p] += n
}

func (g *gcheck) actJoin(t *rapid.T) {
	if len(g.members) >= 4 {
		t.Skip("four members already")
	}
	g.addMember()
}

// addMember starts a member and waits for its first assignment (Join's return); under
// faults that may fail, and the check goes on without it.
func (g *gcheck) addMember() {
	g.joined++
	name := fmt.Sprintf("m%d", g.joined)
	g.note("%s joins", name)
	ks := newKillSwitch(g.nw.Dial)
	logger := g.logs.logger().With("client", name)
	cons, err := memberConsumer(g.c.Addrs(), g.opts.maxPollRecords, ks, logger, g.logf(name), func(ex faults.Exchange) { g.h.wire(name, ex) })
	if err != nil {
		g.t.Fatalf("consumer.New: %v", err)
	}
	gm := &gmember{name: name, ks: ks, cons: cons}
	cfg := group.Config{
		Protocol: g.opts.protocol, Group: g.group, Topics: []string{g.topic},
		SessionTimeout: groupSession, HeartbeatInterval: groupHeartbeat, ProcessingTime: groupProcessing,
		AutoCommitInterval: g.opts.autoCommit, DisableAutoCommit: g.opts.autoCommit == 0,
		Backoff: cons.Config().Backoff,
		Logger:  logger,
	}
	if g.opts.protocol == group.Classic {
		cfg.Assignors = []group.Assignor{groupAssignors[g.opts.assignor]()}
	} else {
		cfg.ServerAssignor = g.opts.serverAssignor
	}
	// The callbacks read the generation from the member, which Join returns after the
	// first OnAssigned has run: until then they record generation -1, which Join's
	// return fills in (a1 leaves out holdings whose generation is unknown).
	var (
		mu   sync.Mutex
		mref *group.Member
	)
	logCallback := g.logf(name)
	callback := func(how string) func(context.Context, []consumer.About) {
		return func(_ context.Context, ps []consumer.About) {
			mu.Lock()
			defer mu.Unlock()
			gen := int32(-1)
			if mref != nil {
				gen = mref.Generation()
			}
			logCallback("callback: %s %v in generation %d", how, ps, gen)
			if how == "assigned" {
				g.h.assigned(name, gen, ps)
			} else {
				g.h.released(name, how, gen, ps)
			}
		}
	}
	cfg.OnAssigned, cfg.OnRevoked, cfg.OnLost = callback("assigned"), callback("revoked"), callback("lost")
	ctx, cancel := context.WithTimeout(context.Background(), groupJoin)
	defer cancel()
	m, err := group.Join(ctx, cons, cfg)
	if err != nil {
		g.note("%s could not join: %v", name, err)
		cctx, ccancel := context.WithTimeout(context.Background(), groupClose)
		defer ccancel()
		if cerr := cons.Close(cctx); cerr != nil {
			g.problem("%s: consumer Close after a failed Join: %v", name, cerr)
		}
		return
	}
	gm.m = m
	mu.Lock()
	mref = m
	first := g.h.joined(name, m.Generation())
	mu.Unlock()
	gm.p = startPoller(name, m, g.h, g.opts.work, g.logf(name))
	g.members = append(g.members, gm)
	g.note("%s joined in generation %d with %v", name, m.Generation(), first)
}
