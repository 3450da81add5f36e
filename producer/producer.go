package producer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
)

// Producer writes records to Kafka. Produce partitions a record and appends it to its
// partition's open batch itself, under that partition's lock; from sealing on, batches
// travel through actors:
//
//	Produce ──────────────────────────────────────────> accumulator ──> partition producer ──> broker producer ──> connection
//	   │          (partitioner, under the topic's lock)  (open batch,    (sequences, linger,    (requests to one
//	   │                                                  per partition)  retries, callbacks)    broker, pipelined)
//	   └──> [custom stages] ──> dispatcher ──> topic producer ──┘
//	        (optional)          (by topic)     (topics not described yet)
//
// Records take the lower, actor path when custom stages are configured, while their topic
// is not described yet, and while earlier records of their topic are still on that path.
//
// A Producer is safe for concurrent use. Every record handed to Produce ends in exactly
// one call of its callback: success, with its partition and offset set, or an error that
// matches troupe.ErrNotWritten or troupe.ErrMaybeWritten.
type Producer struct {
	cfg        Config
	client     *cluster.Client
	ownsClient bool
	compressor *record.Compressor
	limits     *batchLimits // every partition's batcher's
	budget     *budget
	// growBudget: MaxBufferedRecords was left at zero, so the budget's records grow with
	// the partitions written to (registerPartition).
	growBudget bool
	ids        *idSource
	brokers    *brokers

	sup        *supervisor.Supervisor
	topics     *supervisor.Supervisor
	proc       *actor.Process
	first      actor.Ref[Pending] // where the actor path starts: the first stage, or the dispatcher
	direct     bool               // no custom stages: Produce appends records itself when it can
	accs       atomic.Pointer[topicAccs]
	topicsMu   sync.Mutex            // serialises additions to accs
	clock      clock                 // intake times on the direct path
	linger     *lingerQueue          // the open batches' linger deadlines
	drivers    []actor.Ref[driveMsg] // the partition producers' drivers
	nextDriver atomic.Uint32         // the driver of the next partition created, round robin
	hops       hopCounts             // hand-offs after the accumulator, for BenchmarkHandOffs

	flushing  atomic.Int32
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	partsMu sync.Mutex
	parts   []*partAcc            // every partition's accumulator, for Flush and a spent budget
	topicsR []actor.Ref[topicMsg] // every topic producer, for Close's notice
}

// New validates cfg, opens (or adopts) the cluster client and starts the producer's
// actors. It does not contact the cluster: the first records do.
func New(cfg Config) (*Producer, error) {
	grow := cfg.MaxBufferedRecords == 0
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	comp, err := record.NewCompressor(cfg.Compression)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.Compression.Codec == record.None {
		comp = nil
	}
	client, owns, err := cfg.openClient(context.Background())
	if err != nil {
		return nil, err
	}
	p := &Producer{
		cfg:        cfg,
		client:     client,
		ownsClient: owns,
		compressor: comp,
		limits:     newBatchLimits(comp, cfg.MaxBatchBytes, cfg.MaxBatchRecords, cfg.Linger, cfg.DeliveryTimeout),
		budget:     newBudget(cfg.MaxBufferedRecords, int64(cfg.MaxBufferedBytes)),
		growBudget: grow,
		ids:        &idSource{client: client, timeout: cfg.RequestTimeout},
		direct:     len(cfg.Stages) == 0,
		linger:     newLingerQueue(),
	}
	p.accs.Store(&topicAccs{})
	p.clock.init()
	// When the budget runs out, no record can join an open batch until an outcome
	// returns some: lingering would only delay the outcomes that free the budget, so
	// every partition seals what it has and sends it.
	p.budget.onSpent = p.sealFull
	if err := p.build(); err != nil {
		if owns {
			_ = client.Close(context.Background())
		}
		return nil, err
	}
	p.proc = p.sup.Start(context.Background())
	return p, nil
}

// build assembles the supervision tree. Children start in this order and stop in the
// reverse: custom stages first, then the dispatcher, topic producers, partition
// producers, and broker producers last, so that on Close records flow downstream before
// the stages below them stop. No child has a breaker (every ChildSpec leaves Breaker
// nil): a partition's failures are spaced by Config.Backoff and bounded by
// DeliveryTimeout, and the connections below have breakers of their own.
func (p *Producer) build() error {
	many := supervisor.Config{Intensity: supervisor.Unlimited, OnEvent: supervisorHook(p.cfg.OnEvent), Logger: p.cfg.Logger}
	root := many
	root.Name = "producer"
	p.sup = supervisor.New(root)
	nested := func(name string) *supervisor.Supervisor {
		c := many
		c.Name = name
		c.StopTimeout = p.cfg.RequestTimeout + 30*time.Second
		return supervisor.New(c)
	}
	brokerSup := nested("brokers")
	p.topics = nested("topics")
	p.brokers = newBrokers(p, brokerSup)
	if err := p.sup.AddSupervisor(brokerSup); err != nil {
		return err
	}
	// The drivers are a fixed set, children of the producer's supervisor itself, started
	// after the brokers and before the topics: a supervisor of their own would be one more
	// goroutine that owns nothing the producer's cannot hold (issue 18).
	for i := range max(2, runtime.GOMAXPROCS(0)) {
		set := &driven{}
		ref, err := supervisor.Add(p.sup, supervisor.ChildSpec[driveMsg]{
			Name: fmt.Sprintf("driver %d", i+1),
			Kind: "partition-driver",
			// The first driver is also the lingerer (it owns nothing, so it needs no
			// goroutine of its own).
			New: func() actor.Actor[driveMsg] { return &partDriver{p: p, set: set, lingers: i == 0} },
			// Unbounded, and bounded all the same: per partition it drives, at most one
			// poke outstanding, one result per batch in flight, and a few answers.
			Mailbox: actor.MailboxConfig[driveMsg]{Capacity: actor.Unbounded},
			Release: releaseDriver,
		})
		if err != nil {
			return err
		}
		p.drivers = append(p.drivers, ref)
	}
	// Topic producers come and go; a supervisor of their own keeps them, as a group,
	// after the drivers in the start order and so before them in the stop order.
	if err := p.sup.AddSupervisor(p.topics); err != nil {
		return err
	}
	topics := make(map[string]actor.Ref[topicMsg]) // one dispatcher incarnation at a time uses it
	dispatch, err := supervisor.Add(p.sup, supervisor.ChildSpec[Pending]{
		Name: "dispatcher",
		Kind: "dispatcher",
		New:  func() actor.Actor[Pending] { return &dispatcher{p: p, topics: topics} },
		// Never full: Produce takes budget first, and the budget holds no more records
		// than fit here.
		Mailbox: actor.MailboxConfig[Pending]{Capacity: p.maxBudgetRecords() + 1, OnDrop: p.dropPending},
		Release: releaseDispatcher,
	})
	if err != nil {
		return err
	}
	p.first = dispatch
	for i := len(p.cfg.Stages) - 1; i >= 0; i-- {
		st := p.cfg.Stages[i]
		next := Next{p: p, to: p.first}
		ref, err := supervisor.Add(p.sup, supervisor.ChildSpec[Pending]{
			Name:    "stage " + st.Name(),
			Kind:    "producer-stage",
			New:     func() actor.Actor[Pending] { return st.New(next) },
			Mailbox: actor.MailboxConfig[Pending]{Capacity: p.maxBudgetRecords() + 1, OnDrop: p.dropPending},
			Release: func(a actor.Actor[Pending], err error) { p.releaseStage(st, a, err) },
		})
		if err != nil {
			return err
		}
		p.first = ref
	}
	return nil
}

// Produce hands r to the producer. cb runs exactly once: with a nil error once r is
// written (its Partition, Offset and LeaderEpoch set), or with a *RecordError matching
// troupe.ErrNotWritten or troupe.ErrMaybeWritten. cb runs on a producer goroutine, in
// offset order within a partition, and must not block; for a record refused at the door
// (no topic, larger than MaxRecordBytes, producer closed, context done) it runs before
// Produce returns. A nil cb discards the outcome.
//
// The context bounds only the wait to be accepted:
//   - A context already done when Produce is called, or that ends while Produce waits for
//     budget, refuses r: cb gets an error matching troupe.ErrNotWritten and the context's
//     error (context.Canceled or context.DeadlineExceeded), and nothing of r reaches the
//     log.
//   - Once r is accepted, the context has no effect on its outcome: only DeliveryTimeout
//     and Close decide it.
//
// The producer keeps r until cb has run: do not modify it before then.
func (p *Producer) Produce(ctx context.Context, r *troupe.Record, cb func(*troupe.Record, error)) {
	refuse := func(err error) {
		if cb != nil {
			topic := ""
			if r != nil {
				topic = r.Topic
			}
			cb(r, notWritten(topic, -1, err))
		}
	}
	switch {
	case r == nil:
		refuse(fmt.Errorf("%w: nil record", ErrInvalidRecord))
		return
	case r.Topic == "":
		refuse(fmt.Errorf("%w: no topic", ErrInvalidRecord))
		return
	case p.closed.Load():
		refuse(errProducerClosed)
		return
	}
	size := recordSize(r)
	if size > p.cfg.MaxRecordBytes {
		refuse(fmt.Errorf("%w: %d bytes, MaxRecordBytes is %d", ErrRecordTooLarge, size, p.cfg.MaxRecordBytes))
		return
	}
	if ctx.Err() != nil { // the budget lets a record in without looking at ctx when it has room
		refuse(contextErr(ctx, "refused at the door"))
		return
	}
	gen, err := p.budget.acquire(ctx, int64(size))
	if err != nil {
		refuse(err)
		return
	}
	pend := Pending{rec: r, cb: cb, size: int32(size), gen: gen}
	if p.direct {
		ta := p.topicAcc(r.Topic)
		if p.produceDirect(ta, pend) {
			return
		}
		ta.viaActor.Add(1) // the actor path: later records of the topic follow it until it drains
	}
	// On the actor path, the dispatcher stamps the intake time (where the delivery deadline
	// counts from, and the timestamp of a record without one) on a whole bite of records
	// with one reading of the clock.
	if err := p.first.TrySend(pend); err != nil {
		p.leftActorPath(r.Topic, 1)
		p.budget.release([]Pending{pend})
		refuse(fmt.Errorf("%w: %w", errProducerClosed, err))
	}
}

// produceDirect partitions pend's record and appends it to its partition's open batch, in
// the caller's goroutine, and reports true; or reports false, having done nothing, when
// the record must take the actor path: its topic is not described (routable) in the
// current metadata snapshot, or earlier records of the topic are still on the actor path
// (they must not be overtaken). A record the partitioner refuses fails here, not written.
func (p *Producer) produceDirect(ta *topicAcc, pend Pending) bool {
	if ta.viaActor.Load() > 0 {
		return false
	}
	snap, t := ta.describe()
	if !routable(t) {
		return false
	}
	now, exact := p.clock.now()
	pend.taken = now.UnixNano()
	ta.mu.Lock()
	ta.learn(t, snap.Generation)
	part, err := ta.choose(pend, len(t.Partitions))
	var pa *partAcc
	if err == nil {
		if pa = ta.partition(part); pa == nil {
			err = errProducerClosed
		}
	}
	ta.mu.Unlock()
	if err == nil && !pa.add([]Pending{pend}, now, exact) {
		err = errProducerClosed // the partition producer stopped for good: Close is past its deadline
	}
	if err != nil {
		if pend.cb != nil {
			pend.cb(pend.rec, notWritten(ta.name, -1, err))
		}
		p.budget.release([]Pending{pend})
	}
	return true
}

// ProduceSync produces r and waits for its outcome, which it returns: nil once r is
// written, else an error matching troupe.ErrNotWritten or troupe.ErrMaybeWritten. ctx
// bounds the wait to be accepted, as for Produce (a context done before r is accepted
// refuses it: troupe.ErrNotWritten and the context's error), and the wait for the
// outcome: if ctx ends after r was accepted and before its outcome is known, ProduceSync
// returns an error matching troupe.ErrMaybeWritten and the context's error, and r's
// outcome is still decided (and discarded) by the producer, as if ctx had not ended.
func (p *Producer) ProduceSync(ctx context.Context, r *troupe.Record) error {
	done := make(chan error, 1)
	p.Produce(ctx, r, func(_ *troupe.Record, err error) { done <- err })
	select {
	case err := <-done: // refused at the door: the callback ran before Produce returned
		return err
	default:
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done: // the outcome came as the context ended: it is known
			return err
		default:
		}
		return &RecordError{Topic: r.Topic, Partition: -1, MaybeWritten: true, Err: contextErr(ctx, "stopped waiting for the outcome")}
	}
}

// contextErr is the error for a context that ended: it matches ctx.Err() and, when the
// context was cancelled with a cause of its own, that cause too.
func contextErr(ctx context.Context, what string) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause != nil && cause != err {
		return fmt.Errorf("%s: %w (%w)", what, err, cause)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Flush seals every open batch at once and waits until every record accepted before the
// call has its outcome (its callback has returned and its budget is back), or ctx ends.
func (p *Producer) Flush(ctx context.Context) error {
	gen := p.budget.mark()
	p.flushing.Add(1)
	defer p.flushing.Add(-1)
	p.sealAll()
	return p.budget.waitFor(ctx, gen)
}

// sealFull seals the open batches that hold at least half of an even share of the budget
// (in records or bytes). Sealing every open batch instead would shrink batches to
// whatever arrived since the last outcome: more requests and more CPU per record for
// little more throughput. It runs in the goroutine of the Produce that found the budget
// spent, holding no lock.
func (p *Producer) sealFull() {
	n := int64(2 * max(1, len(p.accList())))
	half := &share{records: int(max(1, p.budget.recordLimit()/n)), bytes: max(1, int64(p.cfg.MaxBufferedBytes)/n)}
	for _, pa := range p.accList() {
		pa.sealNow(half)
	}
}

// sealAll seals every open batch now.
func (p *Producer) sealAll() {
	for _, pa := range p.accList() {
		pa.sealNow(nil)
	}
}

// accList returns every partition's accumulator; the slice only grows, so the snapshot
// taken under the lock may be read without it.
func (p *Producer) accList() []*partAcc {
	p.partsMu.Lock()
	defer p.partsMu.Unlock()
	return p.parts
}

// Close stops accepting records (Produce and waiting Produces fail with troupe.ErrClosed),
// sends everything accepted, and waits for its outcomes. Records waiting for a topic that
// metadata cannot describe do not wait out UnknownTopicWait: they fail (not written,
// matching troupe.ErrClosed and the cause) at once if the last metadata request failed,
// else as soon as a metadata answer still does not describe the topic. If ctx ends
// first, every record still without an outcome fails — not written, or may have been
// written if it was in flight — before Close returns. Then the actors stop, and the cluster client if the
// producer opened it. Close is idempotent; later calls return the first's result.
func (p *Producer) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		p.budget.close()
		p.tellTopicsClosing()
		flushErr := p.Flush(ctx)
		// A drain stop of the tree, upstream first: whatever is still anywhere reaches a
		// partition producer or is failed on the way, and partition producers fail what
		// they hold. Callbacks have all run when it returns.
		stopCtx, cancel := context.WithTimeout(context.Background(), p.cfg.RequestTimeout+time.Minute)
		defer cancel()
		stopErr := p.proc.Stop(stopCtx)
		p.clock.stop()
		if p.ownsClient {
			clientCtx := stopCtx
			if flushErr != nil {
				// Past the deadline, requests still in flight are not waited for: the
				// client's connections are cancelled at once (their records have been
				// reported), and Close waits only for them to exit.
				var cancelClient context.CancelFunc
				clientCtx, cancelClient = context.WithCancel(context.Background())
				cancelClient()
			}
			if err := p.client.Close(clientCtx); err != nil && flushErr == nil && stopErr == nil {
				stopErr = err
			}
			select {
			case <-p.client.Done():
			case <-stopCtx.Done():
			}
		}
		if held, _ := p.budget.held(); held > 0 && stopErr == nil {
			// Only a custom stage that failed without saying what it held (Holder) can
			// leave records with no one to report them.
			stopErr = fmt.Errorf("%d records were lost by a failed custom stage and got no outcome", held)
		}
		switch {
		case flushErr != nil:
			p.closeErr = fmt.Errorf("producer: close: records failed after %w", flushErr)
		case stopErr != nil:
			p.closeErr = fmt.Errorf("producer: close: %w", stopErr)
		}
	})
	return p.closeErr
}

// Actors lists the producer's actor tree for observability. When the producer opened its
// own client (from Seeds), the client's tree is listed too, as "cluster"; a shared client
// (Config.Client) is its owner's to list.
func (p *Producer) Actors() []actor.Info {
	out := p.sup.Children()
	if p.ownsClient {
		out = append(out, p.client.Tree())
	}
	return out
}

// Client is the cluster client the producer uses: Config.Client, or the one it opened
// from Seeds (which it closes on Close).
func (p *Producer) Client() *cluster.Client { return p.client }

// Buffered returns the records and bytes that hold budget: accepted, and not yet
// reported. A record gives its budget back just after its callback returns, so a callback
// may still see itself counted; once Flush returns, the records it waited for are not.
func (p *Producer) Buffered() (records, bytes int) {
	r, b := p.budget.held()
	return int(r), int(b)
}

// BufferLimits returns the budget's limits now: the records (MaxBufferedRecords, or what
// it has grown to with the partitions written to if it was left at zero) and the bytes
// (MaxBufferedBytes).
func (p *Producer) BufferLimits() (records, bytes int) {
	return int(p.budget.recordLimit()), p.cfg.MaxBufferedBytes
}

// registerTopic adds a new topic producer to the list Close tells it has begun, and tells
// it at once if Close has begun already.
func (p *Producer) registerTopic(ref actor.Ref[topicMsg]) {
	p.partsMu.Lock()
	p.topicsR = append(p.topicsR, ref)
	p.partsMu.Unlock()
	if p.closed.Load() {
		_ = ref.TrySend(topicMsg{closing: true})
	}
}

// tellTopicsClosing tells every topic producer that Close has begun: records waiting for
// a topic that metadata cannot describe stop waiting.
func (p *Producer) tellTopicsClosing() {
	p.partsMu.Lock()
	defer p.partsMu.Unlock()
	for _, ref := range p.topicsR {
		_ = ref.TrySend(topicMsg{closing: true})
	}
}

// registerPartition adds a partition's accumulator to the list Flush and a spent budget
// seal, and grows the budget's records with the partitions if it may (growBudget).
func (p *Producer) registerPartition(pa *partAcc) {
	p.partsMu.Lock()
	p.parts = append(p.parts, pa)
	n := len(p.parts)
	p.partsMu.Unlock()
	if p.growBudget {
		p.budget.grow(int64(min(MaxGrownBufferedRecords, BufferedRecordsPerPartition*n)))
	}
}

// maxBudgetRecords is the most records the budget can ever let in: what the actor path's
// mailboxes must hold.
func (p *Producer) maxBudgetRecords() int {
	if p.growBudget {
		return max(p.cfg.MaxBufferedRecords, MaxGrownBufferedRecords)
	}
	return p.cfg.MaxBufferedRecords
}

// failPending runs the callback of r, a record on the actor path, with err and returns
// its budget.
func (p *Producer) failPending(r Pending, err error) {
	p.leftActorPath(r.rec.Topic, 1)
	if r.cb != nil {
		r.cb(r.rec, err)
	}
	p.budget.release([]Pending{r})
}

// recordSize is what a record counts against MaxRecordBytes and the byte budget: its key,
// value and headers, plus a small framing allowance.
func recordSize(r *troupe.Record) int {
	n := len(r.Key) + len(r.Value) + 16
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 8
	}
	return n
}
