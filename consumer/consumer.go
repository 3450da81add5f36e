package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// Consumer consumes partitions of a Kafka cluster: each one through its own
// PartitionConsumer, all of them sharing one broker consumer per broker. It is safe for
// concurrent use. Close it when done.
//
// Its actors form one supervised tree (Actors lists it):
//
//	consumer (supervisor)
//	├── brokers (supervisor)
//	│     └── broker-consumer node-N <addr> #k   one per broker in use, shared, counted
//	└── partitions (supervisor)
//	      ├── dispatcher <topic>/<p> #k          one per partition consumed
//	      ├── feeder <topic>/<p> #k              one per partition consumed
//	      └── stage <topic>/<p> #k               with WithStage
type Consumer struct {
	cfg    Config
	client *cluster.Client
	own    bool // the client is the consumer's: Close closes it
	ev     events

	root    *supervisor.Supervisor
	proc    *actor.Process
	brokers *brokerSet
	parts   *supervisor.Supervisor

	faults faults // test seams: empty outside troupecheck builds (faults_unchecked.go)
	// frames keeps fetch-response buffers readers' users gave back (Reader.Release), for
	// the broker consumers' next fetches.
	frames frameBuffers

	mu      sync.Mutex
	active  map[About]*part
	readers map[*Reader]struct{}
	seq     int
	closed  bool
}

// New validates cfg and starts the consumer's actors (and its own cluster client when
// cfg.Client is nil). It contacts no broker: ConsumePartition does.
func New(cfg Config) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Consumer{cfg: cfg, ev: events{log: cfg.Logger, hook: cfg.OnEvent}, active: make(map[About]*part), readers: make(map[*Reader]struct{})}
	c.frames.limit = cfg.MaxBufferedBytes // at most a reader's whole budget kept
	c.client = cfg.Client
	if c.client == nil {
		if c.client, err = cluster.Open(context.Background(), cfg.Cluster); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		c.own = true
	}
	c.brokers = newBrokerSet(c)
	c.parts = supervisor.New(supervisor.Config{
		Name: "partitions",
		// A partition's actors fail only on a bug, or a custom stage's failure; each is
		// restarted on its own, with backoff, without ever giving up on the others.
		Intensity: supervisor.Unlimited,
		OnEvent:   c.actorEvent,
		Logger:    cfg.Logger,
	})
	c.root = supervisor.New(supervisor.Config{Name: "consumer", OnEvent: c.actorEvent, Logger: cfg.Logger})
	for _, s := range []*supervisor.Supervisor{c.brokers.sup, c.parts} {
		if err := c.root.AddSupervisor(s); err != nil {
			return nil, err
		}
	}
	c.proc = c.root.Start(context.Background())
	return c, nil
}

// actorEvent passes an event of the consumer's supervisors on to Config.OnEvent as it
// is; the supervisors log it themselves, to the same Logger.
func (c *Consumer) actorEvent(e supervisor.Event) {
	if c.ev.hook != nil {
		c.ev.hook(e)
	}
}

// Actors lists the consumer's actor tree, for observability: the broker consumers, the
// partitions' actors and, when the consumer opened its own client, that client's tree
// as the subtree "cluster" (a client given as Config.Client is listed by its own
// Actors, once, wherever it is shared).
func (c *Consumer) Actors() []actor.Info {
	out := c.root.Children()
	if c.own {
		out = append(out, c.client.Tree())
	}
	return out
}

// Client is the cluster client the consumer uses.
func (c *Consumer) Client() *cluster.Client { return c.client }

// Config is the consumer's configuration with its defaults filled in: what a group
// member built on the consumer reads its reset policy and timeouts from.
func (c *Consumer) Config() Config { return c.cfg }

// ConsumePartition starts consuming one partition of topic from the offset from, and
// returns its PartitionConsumer. It checks its input against metadata (refreshed, bounded
// by ctx, unless the client's snapshot knows the topic and partition already): an unknown topic fails with an *UnknownTopicError (ErrUnknownTopic), a partition
// the topic does not have with ErrUnknownPartition, a negative offset (At(n), n < 0)
// with ErrInvalidOffset, and a partition this Consumer
// already consumes with ErrAlreadyConsuming. When no broker answers the metadata request
// (seeds that refuse connections, say), it fails with an error matching
// cluster.ErrUnavailable that wraps the last failure: the broker's name and address and
// the cause (broker.ErrNetwork and the dial error); it never reads as an unknown topic
// then. Resolving Oldest(), Newest() or AtTime to an offset happens after it returns, at the
// partition's leader.
//
// With WithStage, batches go to the given stage instead of Next.
func (c *Consumer) ConsumePartition(ctx context.Context, topic string, partition int32, from Offset, opts ...Option) (*PartitionConsumer, error) {
	var o partitionOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.stage != nil && o.stage.New == nil {
		return nil, fmt.Errorf("%w: a Stage needs a New function", ErrInvalidConfig)
	}
	if partition < 0 {
		return nil, fmt.Errorf("%w: %s has no partition %d", ErrUnknownPartition, topic, partition)
	}
	if from.kind == kindExact && from.at < 0 {
		return nil, fmt.Errorf("%w: %d is negative (the ends of the log are Oldest() and Newest())", ErrInvalidOffset, from.at)
	}
	t, err := c.topic(ctx, topic, partition)
	if err != nil {
		return nil, err
	}

	a := About{Topic: topic, Partition: partition}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	case c.active[a] != nil:
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrAlreadyConsuming, a)
	}
	c.seq++
	p := &part{c: c, about: a, seq: int32(c.seq), disp: &waker{}}
	p.out = newHandoff(&p.position)
	c.active[a] = p
	c.mu.Unlock()

	for _, v := range []interface{ Store(int64) }{&p.hwm, &p.lso, &p.logStart, &p.position} {
		v.Store(-1)
	}
	if from.kind == kindExact {
		p.position.Store(from.at)
	}
	if err := c.startActors(p, o); err != nil {
		c.forget(p)
		p.stop()
		c.removeActors(context.Background(), p)
		return nil, err
	}
	sub := newSubscription(p, from, t.ID, &c.cfg)
	setup := actor.NewOwner("consume "+p.name(), nil)
	sub.Acquire(setup)
	if err := actor.Hand(ctx, setup, p.disp.ref, sub); err != nil {
		sub.end(setup)
		_ = c.closePartition(context.Background(), p)
		return nil, err
	}
	return &PartitionConsumer{p: p}, nil
}

// topic returns the metadata of topic, checking that it exists and has partition
// (a negative partition is not checked). The client's snapshot will do if it knows the
// topic and the partition: a refresh waits for a new metadata request, and those are
// spaced by the client's MinRefreshInterval.
func (c *Consumer) topic(ctx context.Context, topic string, partition int32) (*cluster.Topic, error) {
	if topic == "" {
		return nil, &UnknownTopicError{Topic: topic}
	}
	if c.isClosed() {
		return nil, ErrClosed
	}
	snap := c.client.Snapshot()
	if t := snap.Topic(topic); t == nil || t.Err != nil || int(partition) >= len(t.Partitions) {
		var err error
		if snap, err = c.client.Refresh(ctx, topic); err != nil {
			return nil, fmt.Errorf("consumer: metadata for %q: %w", topic, err)
		}
	}
	t := snap.Topic(topic)
	switch {
	case t == nil || errors.Is(t.Err, errcode.UnknownTopicOrPartition):
		var cause error
		if t != nil {
			cause = t.Err
		}
		return nil, &UnknownTopicError{Topic: topic, Cause: cause}
	case t.Err != nil:
		return nil, fmt.Errorf("consumer: topic %q: %w", topic, t.Err)
	case int(partition) >= len(t.Partitions):
		return nil, fmt.Errorf("%w: %s has %d partitions, not %d", ErrUnknownPartition, topic, len(t.Partitions), partition)
	}
	return t, nil
}

// startActors puts the partition's actors under the partitions supervisor: the stage
// (if any), the feeder, the dispatcher.
func (c *Consumer) startActors(p *part, o partitionOptions) error {
	if st := o.stage; st != nil {
		name := "stage " + p.name()
		capacity := st.Capacity
		if capacity <= 0 {
			capacity = 1
		}
		ref, err := supervisor.Add(c.parts, supervisor.ChildSpec[*Batch]{
			Name:        name,
			Kind:        "stage",
			Restart:     supervisor.Transient,
			New:         func() actor.Actor[*Batch] { return st.New(p.about.Topic, p.about.Partition) },
			Mailbox:     actor.MailboxConfig[*Batch]{Capacity: capacity}, // a batch sent to a stage is the stage's: nothing to account for if it is dropped
			Release:     st.Release,
			StopTimeout: st.StopTimeout,
		})
		if err != nil {
			return err
		}
		p.stage = ref
	}
	name := "feeder " + p.name()
	fref, err := supervisor.Add(c.parts, supervisor.ChildSpec[feedMsg]{
		Name:    name,
		Kind:    "feeder",
		Restart: supervisor.Transient,
		New:     func() actor.Actor[feedMsg] { return newFeeder(p, &c.cfg) },
		// Unbounded, and bounded all the same: at most prefetch fetch results with
		// records (a broker consumer sends no more until one is taken) and as many
		// position marks, the dispatcher's error notices (at most one per subscription
		// attempt); wake-ups are nudges, which queue nothing.
		Mailbox: actor.MailboxConfig[feedMsg]{Capacity: actor.Unbounded, OnDrop: dropFeedMsg},
		Release: releaseFeeder,
	})
	if err != nil {
		return err
	}
	p.feeder = fref

	name = "dispatcher " + p.name()
	dref, err := supervisor.Add(c.parts, supervisor.ChildSpec[*subscription]{
		Name:    name,
		Kind:    "dispatcher",
		Restart: supervisor.Transient,
		New:     func() actor.Actor[*subscription] { return &dispatcher{c: c, cfg: &c.cfg, w: p.disp} },
		// Unbounded, and bounded all the same: the partition's one subscription;
		// wake-ups are nudges, which queue nothing.
		Mailbox: actor.MailboxConfig[*subscription]{Capacity: actor.Unbounded, OnDrop: dropSubscription},
		Release: releaseDispatcher,
	})
	if err != nil {
		return err
	}
	p.disp.ref = dref
	return nil
}

func (c *Consumer) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Consumer) forget(p *part) {
	c.mu.Lock()
	if c.active[p.about] == p {
		delete(c.active, p.about)
	}
	c.mu.Unlock()
}

// closePartition is PartitionConsumer.Close.
func (c *Consumer) closePartition(ctx context.Context, p *part) error {
	c.forget(p)
	p.out.close()
	p.stop()
	return c.removeActors(ctx, p)
}

// removeActors stops the partition's actors for good, dispatcher first.
func (c *Consumer) removeActors(ctx context.Context, p *part) error {
	var errs []error
	var children []string // the actors' names under the partitions supervisor, in stop order
	if !p.disp.ref.IsZero() {
		children = append(children, "dispatcher "+p.name())
	}
	if !p.feeder.IsZero() {
		children = append(children, "feeder "+p.name())
	}
	if !p.stage.IsZero() {
		children = append(children, "stage "+p.name())
	}
	for _, name := range children {
		err := c.parts.Remove(ctx, name)
		if err != nil && !errors.Is(err, supervisor.ErrUnknownChild) && !errors.Is(err, actor.ErrStopped) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops every partition consumer (their Next returns ErrClosed), every actor, and
// the consumer's own cluster client if it opened one. It returns once they have
// stopped, or when ctx ends first, with an error naming what did not stop in time.
// Close is idempotent.
func (c *Consumer) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	parts := make([]*part, 0, len(c.active))
	for _, p := range c.active {
		parts = append(parts, p)
	}
	readers := make([]*Reader, 0, len(c.readers))
	for r := range c.readers {
		readers = append(readers, r)
	}
	c.mu.Unlock()
	for _, r := range readers {
		r.shut() // Poll returns ErrClosed
	}
	c.mu.Lock()
	clear(c.active)
	c.mu.Unlock()
	for _, p := range parts {
		if p.out != nil {
			p.out.close()
		}
		p.stop()
	}
	err := c.proc.Stop(ctx)
	if c.own {
		// Its fetches are all this consumer's, and their answers are of no use now: do
		// not wait out a long poll (up to MaxWait).
		err = errors.Join(err, c.client.Cancel(ctx))
	}
	return err
}

// The mailboxes' OnDrop hooks. A mailbox is discarded when its actor is stopped for good;
// a subscription or batch still in it (handed over, not yet taken) ends its life here.

func dropSubscription(s *subscription) {
	if s == nil {
		return
	}
	o := actor.NewOwner("dropped", nil)
	s.Take(o)
	if e := s.home; e != nil {
		s.home = nil
		s.p.c.brokers.Release(e)
	}
	s.end(o)
}

func dropFeedMsg(m feedMsg) {
	if r := m.fetched; r != nil {
		o := actor.NewOwner("dropped", nil)
		r.Take(o)
		r.Release(o)
	}
	if m.notice != nil {
		dropBatch(m.notice)
	}
}

func (c *Consumer) dropBrokerMsg(m brokerMsg) { dropSubscription(m.sub) }

func dropBatch(b *Batch) {
	o := actor.NewOwner("dropped", nil)
	b.own.Take(o)
	b.own.Release(o)
}
