package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/eapache/go-resiliency/breaker"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	bk "github.com/troupe-go/troupe/wire/broker"
)

// Client is a connection to a Kafka cluster: a supervised tree of actors — the broker
// connections (a broker.Pool) and the metadata actor — and the published Snapshot.
// Producers and consumers are built on it and may share one.
//
//	client "cluster" (supervisor, one-for-one)
//	├── brokers (supervisor: one connection actor per node, address and purpose)
//	└── metadata (actor: single-flight refreshes, the snapshot, change notices)
type Client struct {
	cfg  Config
	sup  *supervisor.Supervisor
	proc *actor.Process
	pool *bk.Pool
	meta actor.Ref[metaMsg]

	snap     atomic.Pointer[Snapshot]
	interest map[string]bool // owned by the metadata actor's incarnations
	lastErr  error           // the last metadata request's failure, nil after a success; owned by them too
	breaker  *breaker.Breaker
	coords   coordinators // each group's coordinator, as last found

	subsMu sync.Mutex
	subs   map[*Subscription]struct{}
}

// Open validates cfg and starts the client's actors. It does not contact any broker: the
// first Refresh (or connection use) does.
//
// ctx is the parent context of the client's actors, so it bounds the client's whole
// life: when it ends, the actors stop at once (a cancel, without Close's drain of what
// was written) and the client is unusable. Pass a context that lives as long as the
// client (context.Background(), or a program's signal context), not one meant for the
// call, and stop the client with Close.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pool, err := bk.NewPool(cfg.Broker)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:      cfg,
		pool:     pool,
		interest: make(map[string]bool),
		breaker:  breaker.New(cfg.Breaker.Errors, max(1, cfg.Breaker.Successes), cfg.Breaker.Timeout),
		subs:     make(map[*Subscription]struct{}),
	}
	c.sup = supervisor.New(supervisor.Config{Name: "cluster", OnEvent: supervisorHook(cfg.OnEvent), Logger: cfg.Logger})
	if err := pool.AddTo(c.sup); err != nil {
		return nil, err
	}
	c.meta, err = supervisor.Add(c.sup, supervisor.ChildSpec[metaMsg]{
		Name: "metadata",
		Kind: "metadata",
		New:  func() actor.Actor[metaMsg] { return newMetadata(c) },
		// Unbounded, and bounded all the same: refreshes come through Ask, so each caller
		// has at most one queued, and the actor has at most one request in flight whose
		// outcome it posts to itself.
		Mailbox: actor.MailboxConfig[metaMsg]{Capacity: actor.Unbounded},
		Release: releaseMetadata,
	})
	if err != nil {
		return nil, err
	}
	c.proc = c.sup.Start(ctx)
	return c, nil
}

// Close stops the client's actors: connections finish what they have written, waiting
// refreshes fail with ErrClosed. It returns when they have stopped or ctx ends.
func (c *Client) Close(ctx context.Context) error {
	err := c.proc.Stop(ctx)
	c.closeSubscriptions()
	return err
}

// Cancel stops the client at once, without Close's drain: connections are closed without
// waiting for the answers to what was sent, and calls in flight fail with retriable
// errors that say the request may have been written. It is for an owner with nothing
// left to learn from those answers (a consumer's long polls, which a broker may hold for
// their whole MaxWait). It returns like Close.
func (c *Client) Cancel(ctx context.Context) error {
	err := c.proc.Cancel(ctx)
	c.closeSubscriptions()
	return err
}

func (c *Client) closeSubscriptions() {
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	for s := range c.subs {
		s.close()
	}
}

// Done is closed once the client's actors have all stopped.
func (c *Client) Done() <-chan struct{} { return c.proc.Done() }

// Config returns the client's configuration, with every default filled in: what the
// client runs with (its RefreshInterval, say, for those who watch the metadata at the
// client's pace).
func (c *Client) Config() Config { return c.cfg }

// Snapshot returns the latest metadata snapshot, or nil before the first one. It never
// waits.
func (c *Client) Snapshot() *Snapshot { return c.snap.Load() }

// Refresh waits for a snapshot at least as new as the call: one from a metadata request
// sent after Refresh was called. With topics, those topics are described (and kept fresh
// from then on); a topic that does not exist yet or lacks a leader is asked about again,
// with backoff, up to Config.TopicRetries times, and then returned as described (see
// Topic.Err). Without topics, every topic in the cluster is described. Many concurrent
// Refreshes share one request.
func (c *Client) Refresh(ctx context.Context, topics ...string) (*Snapshot, error) {
	for _, t := range topics {
		if t == "" {
			return nil, fmt.Errorf("%w: empty topic name", ErrInvalidConfig)
		}
	}
	snap, err := actor.Ask(ctx, c.meta, func(r actor.Reply[*Snapshot]) metaMsg {
		return metaMsg{topics: topics, all: len(topics) == 0, reply: r}
	})
	return snap, closedIfStopped(err)
}

// RefreshAsync is Refresh for actors, which must not block: it asks for the refresh and
// returns at once; done is called with the answer, exactly once, on the metadata actor's
// goroutine (so it must not block either: hand the answer to your mailbox). If the refresh
// cannot even be asked for (the client is closed), done is called before RefreshAsync
// returns.
func (c *Client) RefreshAsync(done func(*Snapshot, error), topics ...string) {
	for _, t := range topics {
		if t == "" {
			done(nil, fmt.Errorf("%w: empty topic name", ErrInvalidConfig))
			return
		}
	}
	if err := c.meta.TrySend(metaMsg{topics: topics, all: len(topics) == 0, notify: done}); err != nil {
		done(nil, closedIfStopped(err))
	}
}

// Conn returns the connection to node for purpose (see broker.Pool.Conn).
func (c *Client) Conn(node bk.Node, purpose bk.Purpose) (*bk.Handle, error) {
	return c.pool.Conn(node, purpose)
}

// Brokers lists the connections for observability.
func (c *Client) Brokers() []actor.Info { return c.pool.Children() }

// Actors lists the client's whole actor tree for observability.
func (c *Client) Actors() []actor.Info { return c.sup.Children() }

// Tree is the client as one node of an actor tree: the supervisor "cluster" (running
// until the client is closed) with Actors as its children. A producer or consumer that
// opened its own client lists it this way in its Actors.
func (c *Client) Tree() actor.Info {
	state := actor.Running
	select {
	case <-c.Done():
		state = actor.Stopped
	default:
	}
	return actor.Info{Name: "cluster", Kind: "supervisor", State: state, Children: c.Actors()}
}

// Subscribe returns a subscription to changes of the topics the client describes:
// partitions added, topics recreated or gone. Close it when done.
func (c *Client) Subscribe() *Subscription {
	s := &Subscription{ready: make(chan struct{}, 1), c: c}
	c.subsMu.Lock()
	c.subs[s] = struct{}{}
	c.subsMu.Unlock()
	return s
}

func (c *Client) publish(changes []Change) {
	if len(changes) == 0 {
		return
	}
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	for s := range c.subs {
		s.add(changes)
	}
}

// Subscription collects topic changes for one subscriber. It never blocks the metadata
// actor: changes accumulate (one list per subscriber, at most a few per topic between two
// Takes) and Ready signals that there are some.
type Subscription struct {
	c       *Client
	mu      sync.Mutex
	pending []Change
	ready   chan struct{}
	closed  bool
}

// Ready has a value when Take would return changes (or the client closed).
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns and clears the changes collected since the last Take, oldest first.
func (s *Subscription) Take() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending
	s.pending = nil
	return out
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.c.subsMu.Lock()
	delete(s.c.subs, s)
	s.c.subsMu.Unlock()
	s.close()
}

func (s *Subscription) add(changes []Change) {
	s.mu.Lock()
	if !s.closed {
		s.pending = append(s.pending, changes...)
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *Subscription) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
