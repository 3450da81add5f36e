package property_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/faults"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
	"go.uber.org/goleak"
	"pgregory.net/rapid"
)

// settleLog is how long the log must stay the same, after healing, before it is read back
// as final: a record reported maybe written may still land after its outcome (a request
// of a producer closed past its deadline, on its way through a slow network).
const settleLog = time.Second

// env is where checks run: a kfake cluster, and the network faults on the way to it.
type env struct {
	name    string
	cluster *faults.Cluster
	net     faults.Injector
	healNet func() error
	dial    faults.DialFunc // the faults.Network's Dial
	brokers int
	// shared says the cluster serves many checks (each has its own topic), so a check
	// deletes its topic when done and checks goroutines against a snapshot of its own.
	shared bool
	// leaks are goleak options for the per-check goroutine check: goroutines of the
	// shared cluster that outlive a check by design.
	leaks []goleak.Option
	// checks counts the checks run, to name their topics.
	checks int
	// logTo, if set, sends the network's own reports (faults acting) to a check's log.
	logTo func(logf func(format string, args ...any))
	// exactTime says time is the bubble's fake clock (synctest): P9's bound is checked.
	// In real time it is only measured (the slowest heal is reported), since a loaded
	// machine stretches every wait.
	exactTime bool
	// slowestHeal is the longest time from a heal to the last outcome, over the checks.
	slowestHeal *healStats
}

// mode is what kind of check to run.
type mode struct {
	// idempotent is the producer's default; off, P4 (no duplicates) is not required.
	idempotent bool
	// control adds, after the drawn actions, faults that make a producer without
	// idempotence write duplicates, and requires the checker to report them: the negative
	// control that proves P4's check can fail.
	control bool
}

// options are a check's drawn configuration.
type options struct {
	partitions        int32
	keys              int
	linger            time.Duration
	maxBatchRecords   int
	maxInflight       int
	codec             record.Codec
	deliveryTimeout   time.Duration
	sharedClient      bool
	maxWait           time.Duration
	maxPartitionBytes int32
	maxProcessing     time.Duration
	readerDelay       time.Duration
	readCommitted     bool // the producer is not transactional: the same records either way
	// defaultTuning leaves the clients' breakers, reconnect backoff and metadata refresh
	// interval at troupe's defaults (seconds) rather than the suite's quick ones.
	defaultTuning bool
	// maxPollRecords caps what one Poll returns (0: no cap): batches split across polls.
	maxPollRecords int
	// release gives each poll's batches back (Reader.Release) once their records are
	// copied into the history: later batches are decoded into their memory.
	release bool
}

func (o options) String() string {
	return fmt.Sprintf("  partitions=%d keys=%d defaultTuning=%v\n  producer: linger=%v maxBatchRecords=%d maxInflight=%d codec=%v deliveryTimeout=%v sharedClient=%v\n  consumer: maxWait=%v maxPartitionBytes=%d maxProcessingTime=%v readerDelay=%v readCommitted=%v maxPollRecords=%d release=%v",
		o.partitions, o.keys, o.defaultTuning, o.linger, o.maxBatchRecords, o.maxInflight, o.codec, o.deliveryTimeout, o.sharedClient,
		o.maxWait, o.maxPartitionBytes, o.maxProcessing, o.readerDelay, o.readCommitted, o.maxPollRecords, o.release)
}

func drawOptions(t *rapid.T) options {
	return options{
		partitions:        int32(rapid.IntRange(1, 4).Draw(t, "partitions")),
		keys:              rapid.IntRange(1, 8).Draw(t, "keys"),
		linger:            rapid.SampledFrom([]time.Duration{-1, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond}).Draw(t, "linger"),
		maxBatchRecords:   rapid.SampledFrom([]int{1, 3, 10, 100}).Draw(t, "maxBatchRecords"),
		maxInflight:       rapid.IntRange(1, 5).Draw(t, "maxInflight"),
		codec:             rapid.SampledFrom([]record.Codec{record.None, record.Gzip, record.Snappy, record.LZ4, record.Zstd}).Draw(t, "codec"),
		deliveryTimeout:   rapid.SampledFrom([]time.Duration{2 * time.Second, 2 * time.Minute}).Draw(t, "deliveryTimeout"),
		sharedClient:      rapid.Bool().Draw(t, "sharedClient"),
		maxWait:           rapid.SampledFrom([]time.Duration{10 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond}).Draw(t, "maxWait"),
		maxPartitionBytes: rapid.SampledFrom([]int32{200, 4 << 10, 1 << 20}).Draw(t, "maxPartitionBytes"),
		maxProcessing:     rapid.SampledFrom([]time.Duration{5 * time.Millisecond, 100 * time.Millisecond}).Draw(t, "maxProcessingTime"),
		readerDelay:       rapid.SampledFrom([]time.Duration{0, 0, 2 * time.Millisecond, 20 * time.Millisecond}).Draw(t, "readerDelay"),
		readCommitted:     rapid.Bool().Draw(t, "readCommitted"),
		defaultTuning:     rapid.Bool().Draw(t, "defaultTuning"),
		maxPollRecords:    rapid.SampledFrom([]int{0, 0, 1, 5, 50}).Draw(t, "maxPollRecords"),
		release:           rapid.Bool().Draw(t, "release"),
	}
}

// run is one check: a topic, a producer (restarted now and then), a consumer (started and
// stopped), the faults injected, and the history the checker reads. Actions, the final
// phase and teardown all run on the check's goroutine; only the History is shared with
// the clients' goroutines (callbacks, readers).
type run struct {
	t     *rapid.T
	env   *env
	mode  mode
	opts  options
	topic string
	test  string // the Go test's name, for artefacts

	hist    *faults.History
	logs    *logBuffer
	start   time.Time
	actions []string

	client   *cluster.Client // shared by the producer and the consumer, if opts.sharedClient
	prod     *producer.Producer
	inc      int // producer incarnations so far
	incStart int // the index of the first record the current producer was given
	cons     *consumerRun

	openConns atomic.Int64 // connections the check's clients opened and have not closed

	outcomesAfter time.Duration // from the heal until every record had its outcome

	netFaults   map[int]bool // nodes with network faults
	protoFaults int          // protocol faults injected since the last heal
	problems    []string     // violations found along the way (P7, P8), beside the checker's
}

// checkOnce runs one check in e: draw a configuration, run a drawn sequence of actions,
// heal, and check the properties.
func checkOnce(t *rapid.T, e *env, m mode, test string) {
	e.checks++
	var before goleak.Option
	if e.shared {
		before = goleak.IgnoreCurrent()
	}
	r := &run{
		t: t, env: e, mode: m, test: test,
		opts:      drawOptions(t),
		topic:     fmt.Sprintf("check-%d", e.checks),
		hist:      faults.NewHistory(),
		logs:      &logBuffer{},
		start:     time.Now(),
		netFaults: make(map[int]bool),
	}
	t.Cleanup(r.teardown)
	if e.logTo != nil {
		e.logTo(r.logf("network"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := faults.CreateTopic(ctx, e.cluster.Addrs(), e.dial, r.topic, r.opts.partitions); err != nil {
		t.Fatalf("creating the check's topic: %v", err)
	}
	if r.opts.sharedClient {
		// Open's context is the client's whole life (its actors stop when it ends).
		c, err := cluster.Open(context.Background(), r.clusterConfig("shared"))
		if err != nil {
			t.Fatalf("opening a cluster client: %v", err)
		}
		r.client = c
	}
	r.openProducer()
	t.Repeat(r.actionMap())
	if m.control {
		r.duplicateOnPurpose()
	}
	r.finish(before)
}

// note records an action (or a phase) with the time since the check started, in the
// action list and in the client log, so the two can be read side by side.
func (r *run) note(format string, args ...any) {
	line := fmt.Sprintf("%10v  %s", time.Since(r.start).Round(time.Microsecond), fmt.Sprintf(format, args...))
	r.actions = append(r.actions, line)
	fmt.Fprintf(r.logs, "==== %s\n", line)
}

func (r *run) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.problems = append(r.problems, msg)
	fmt.Fprintf(r.logs, "==== PROBLEM %s\n", msg)
}

// logf returns a printf-style function that logs into the check's client log as who.
func (r *run) logf(who string) func(format string, args ...any) {
	logger := r.logs.logger()
	return func(format string, args ...any) {
		logger.Debug(fmt.Sprintf(format, args...), "by", who)
	}
}

// clusterConfig configures a cluster client of the check, named who in the logs. Its
// connections pass through a faults.Tap, which logs the protocol exchange.
func (r *run) clusterConfig(who string) cluster.Config {
	cfg := cluster.Config{
		Seeds: r.env.cluster.Addrs(),
		Broker: broker.Config{
			Dial:           broker.DialFunc(faults.Tap(r.env.dial, r.logf(who), &r.openConns)),
			ConnectTimeout: connectTimeout,
			RequestTimeout: brokerRequestTimeout,
		},
		Logger: r.logs.logger().With("client", who),
	}
	if !r.opts.defaultTuning {
		cfg.MinRefreshInterval = 10 * time.Millisecond
		cfg.Breaker = supervisor.BreakerConfig{Errors: 5, Timeout: quickBreakerTimeout}
		cfg.Broker.Backoff = supervisor.Backoff{Min: 5 * time.Millisecond, Max: quickReconnectBackoff}
		cfg.Broker.Breaker = supervisor.BreakerConfig{Errors: 3, Timeout: quickBreakerTimeout}
	}
	return cfg
}

func (r *run) openProducer() {
	r.inc++
	logger := r.logs.logger().With("client", fmt.Sprintf("producer %d", r.inc))
	cfg := producer.Config{
		Client:              r.client,
		DisableIdempotence:  !r.mode.idempotent,
		Linger:              r.opts.linger,
		MaxBatchRecords:     r.opts.maxBatchRecords,
		MaxInflightRequests: r.opts.maxInflight,
		Compression:         record.Compression{Codec: r.opts.codec},
		RequestTimeout:      produceRequestTimeout,
		DeliveryTimeout:     r.opts.deliveryTimeout,
		Backoff:             supervisor.Backoff{Min: retryBackoff, Max: maxRetryBackoff},
		Logger:              logger,
	}
	if r.client == nil {
		cfg.Seeds = r.env.cluster.Addrs()
		cfg.Cluster = r.clusterConfig(fmt.Sprintf("producer %d", r.inc))
	}
	p, err := producer.New(cfg)
	if err != nil {
		r.t.Fatalf("producer.New: %v", err)
	}
	r.prod = p
	r.incStart = r.hist.Len()
}

// closeProducer closes the producer within d and checks that every record it was given
// has its outcome when Close returns, as Close promises even past its deadline.
func (r *run) closeProducer(d time.Duration) error {
	if r.prod == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := r.prod.Close(ctx)
	r.prod = nil
	if n := r.hist.Unreported(r.incStart); n > 0 {
		r.problem("P7: producer %d's Close returned (%v) with %d of its records still without an outcome", r.inc, err, n)
	}
	return err
}

// produce hands the producer one record per key index, in order.
func (r *run) produce(keys []int) {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = fmt.Sprintf("p%d.k%d", r.inc, k)
	}
	r.produceKeys(names)
}

// produceKeys hands the producer one record per key, in order.
func (r *run) produceKeys(keys []string) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for _, k := range keys {
		s := r.hist.Send(k)
		rec := &troupe.Record{Topic: r.topic, Key: []byte(s.Key), Value: []byte(s.Value)}
		r.prod.Produce(ctx, rec, func(rec *troupe.Record, err error) {
			r.hist.Report(s, classify(err), rec.Partition, rec.Offset, err)
		})
	}
}

func classify(err error) faults.Outcome {
	switch {
	case err == nil:
		return faults.Acked
	case errors.Is(err, troupe.ErrNotWritten):
		return faults.NotWritten
	case errors.Is(err, troupe.ErrMaybeWritten):
		return faults.MaybeWritten
	}
	return faults.Unclassified
}

// waitFor waits until cond holds, re-evaluating it whenever the history changes, for at
// most d. It reports whether cond held.
func (r *run) waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		changed := r.hist.Changed()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return cond()
		}
	}
}

// quiet reports whether every record has its outcome and the running consumer (if any)
// has delivered everything acknowledged.
func (r *run) quiet() bool {
	if r.hist.Unreported(0) > 0 {
		return false
	}
	if r.cons == nil {
		return true
	}
	delivered := r.hist.Delivered()
	for p, end := range r.hist.Acked() {
		if delivered[p] < end {
			return false
		}
	}
	return true
}

// finish heals everything, waits (P7's bound) for every outcome and for the consumer to
// reach the end of the log, reads the log back with kgo, closes the clients, and checks.
func (r *run) finish(before goleak.Option) {
	r.note("heal everything")
	healed := time.Now()
	r.startBrokers()
	if err := r.env.healNet(); err != nil {
		r.t.Fatalf("healing the network: %v", err)
	}
	r.env.cluster.HealProtocol()
	if r.cons == nil {
		r.startConsumer(fromResume, 0, true)
	}
	for p := range r.opts.partitions {
		if r.cons.readers[p] == nil { // it could not be started while the faults were on
			r.startPartition(p, fromResume, 0, true)
		}
	}
	r.cons.resumeAll()
	// Records produced right after the heal, four keys per partition, so that the hash
	// almost surely sends some to every partition, the idle ones too: a partition whose
	// route went stale while the faults were on shows it only when it sends again.
	heal := make([]string, 4*r.opts.partitions)
	for i := range heal {
		heal[i] = fmt.Sprintf("p%d.h%d", r.inc, i)
	}
	r.note("produce %d records after the heal (keys p%d.h*)", len(heal), r.inc)
	r.produceKeys(heal)

	// P9: every record pending at the heal has its outcome within healBound, which the
	// configured timeouts determine and which is far below the delivery timeout.
	hb := healBound(r.opts)
	if !r.waitFor(hb, func() bool { return r.hist.Unreported(0) == 0 }) {
		if r.env.exactTime {
			r.problem("P9: %d records without an outcome %v after healing (the bound the timeouts give)", r.hist.Unreported(0), hb)
		}
		if !r.waitFor(bound-hb, func() bool { return r.hist.Unreported(0) == 0 }) {
			r.problem("P7: %d records without an outcome %v after healing", r.hist.Unreported(0), bound)
		}
	}
	r.outcomesAfter = time.Since(healed)
	if r.env.slowestHeal != nil {
		r.env.slowestHeal.note(r.outcomesAfter, hb)
	}
	r.note("healed: every outcome in after %v", r.outcomesAfter.Round(time.Millisecond))
	// Records reported maybe written can still land after their outcome (a request of a
	// producer closed past its deadline, still on its way): the log is final once the
	// consumer has caught up with it and it has not grown for settleLog.
	caughtUp := func(end map[int32]int64) func() bool {
		return func() bool {
			delivered := r.hist.Delivered()
			for p, e := range end {
				if delivered[p] < e {
					return false
				}
			}
			return true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var end map[int32]int64
	for {
		now, err := faults.EndOffsets(ctx, r.env.cluster.Addrs(), r.env.dial, r.topic)
		if err != nil {
			r.problem("P7: the log's end offsets after healing: %v", err)
			break
		}
		if end != nil && maps.Equal(now, end) {
			break
		}
		end = now
		if !r.waitFor(max(bound-time.Since(healed), 0), caughtUp(end)) {
			r.problem("P7: the consumer did not reach the high-water marks %v within %v of healing (delivered up to %v)", end, bound, r.hist.Delivered())
			break
		}
		// Wait, for at most settleLog, for the consumer to deliver past the end: the sign
		// that the log grew.
		r.waitFor(settleLog, func() bool {
			for p, d := range r.hist.Delivered() {
				if d > end[p] {
					return true
				}
			}
			return false
		})
	}
	log, readEnd, err := faults.ReadLog(ctx, r.env.cluster.Addrs(), r.env.dial, r.topic)
	if err != nil {
		r.problem("reading the log back with kgo: %v", err)
	}
	r.hist.Log, r.hist.End = log, readEnd
	r.note("healed: outcomes and consumer complete after %v", time.Since(healed).Round(time.Millisecond))

	r.stopConsumer(bound)
	if err := r.closeProducer(bound); err != nil {
		r.problem("P8: producer Close after healing: %v", err)
	}
	if r.client != nil {
		cctx, ccancel := context.WithTimeout(context.Background(), bound)
		if err := r.client.Close(cctx); err != nil {
			r.problem("P8: cluster client Close: %v", err)
		}
		ccancel()
		r.client = nil
	}
	if n := r.openConns.Load(); n != 0 {
		r.problem("P8: %d connections the clients opened were still open after they closed", n)
	}
	if before != nil {
		if err := goleak.Find(append([]goleak.Option{before}, r.env.leaks...)...); err != nil {
			r.problem("P8: goroutines left after Close: %v", err)
		}
	}

	vs := faults.Check(r.hist)
	if !r.mode.idempotent {
		kept := vs[:0]
		for _, v := range vs {
			if v.Property != "P4" {
				kept = append(kept, v)
			}
		}
		vs = kept
	}
	if r.mode.control {
		if recs, copies := faults.Duplicates(r.hist); recs == 0 {
			r.problem("negative control: the producer ran without idempotence under timeouts after the append, and the checker found no duplicate")
		} else {
			r.note("negative control: %d records duplicated (%d extra copies), as expected without idempotence", recs, copies)
		}
	}
	if len(vs) > 0 || len(r.problems) > 0 {
		dir, err := writeArtefacts(artefactDir(r.test), r, vs, r.problems)
		where := "artefacts in " + dir + " (summary.txt: configuration, actions, violations; client.log: the clients' slog output; history.txt: records, outcomes, log, deliveries)"
		if err != nil {
			where = fmt.Sprintf("could not write artefacts: %v", err)
		}
		r.t.Fatalf("%d violations, %d other problems\n%s%s\nactions:\n%s\n%s",
			len(vs), len(r.problems), strings.Join(r.problems, "\n")+"\n", faults.Format(vs, 10), strings.Join(r.actions, "\n"), where)
	}
	recs, copies := faults.Duplicates(r.hist)
	r.t.Logf("%s: %d actions, %d records sent, %d in the log (%d duplicated, %d extra copies), %d consumer sessions; healed in %v",
		r.topic, len(r.actions), r.hist.Len(), logLen(r.hist), recs, copies, len(r.hist.Sessions()), time.Since(healed).Round(time.Millisecond))
	if r.env.shared {
		dctx, dcancel := context.WithTimeout(context.Background(), bound)
		defer dcancel()
		if err := faults.DeleteTopic(dctx, r.env.cluster.Addrs(), r.env.dial, r.topic); err != nil {
			r.t.Logf("deleting %s: %v", r.topic, err)
		}
	}
}

// teardown closes whatever a failed check left open, so that the next check starts clean.
func (r *run) teardown() {
	if r.env.cluster.Stopped() {
		_ = r.env.cluster.Start(false)
	}
	for _, n := range r.env.cluster.Away() {
		_ = r.env.cluster.Return(n)
	}
	_ = r.env.healNet()
	r.env.cluster.HealProtocol()
	r.stopConsumer(10 * time.Second)
	_ = r.closeProducer(10 * time.Second)
	if r.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = r.client.Close(ctx)
		cancel()
		r.client = nil
	}
}

// startBrokers starts the brokers if they are stopped, and brings back those that left:
// part of every heal.
func (r *run) startBrokers() {
	if r.env.cluster.Stopped() {
		if err := r.env.cluster.Start(false); err != nil {
			r.t.Fatalf("starting the brokers: %v", err)
		}
	}
	for _, n := range r.env.cluster.Away() {
		r.returnNode(n)
	}
}

// returnNode brings node back into the cluster (it left with actLeave) and heals its path.
func (r *run) returnNode(node int32) {
	if err := r.env.cluster.Return(node); err != nil {
		r.t.Fatalf("bringing node %d back: %v", node, err)
	}
	if err := r.env.net.Heal(int(node)); err != nil {
		r.t.Fatalf("healing node %d's path: %v", node, err)
	}
	delete(r.netFaults, int(node))
}

func logLen(h *faults.History) int {
	n := 0
	for _, recs := range h.Log {
		n += len(recs)
	}
	return n
}
