package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/api"
)

// Node identifies a broker: its node ID and the address it is reachable at. A seed address
// (given by the user, before metadata names the brokers) has a negative ID. A node that
// comes back on another address is a different Node: its connections are new ones.
type Node struct {
	ID   int32
	Addr string
}

func (n Node) String() string {
	if n.ID < 0 {
		return "seed " + n.Addr
	}
	return fmt.Sprintf("node %d (%s)", n.ID, n.Addr)
}

// Purpose separates the connections to one broker by use, because a broker answers the
// requests on a connection in order: a fetch that long-polls for half a second must not
// hold back produce acknowledgements or metadata.
type Purpose uint8

const (
	Admin   Purpose = iota // metadata and other short requests
	Produce                // produce requests
	Fetch                  // fetch requests
	// Group carries a consumer group member's JoinGroup, SyncGroup, Heartbeat and
	// LeaveGroup: a JoinGroup is answered only when the whole group has rejoined (up to
	// the rebalance timeout, minutes), and nothing else should wait behind it.
	Group
)

func (p Purpose) String() string {
	switch p {
	case Admin:
		return "admin"
	case Produce:
		return "produce"
	case Fetch:
		return "fetch"
	case Group:
		return "group"
	}
	return "invalid"
}

// errUnavailable is actor.ErrUnavailable: what sends to a connection whose breaker is open
// match.
var errUnavailable = actor.ErrUnavailable

// ErrUnavailable is matched by Send's error while the connection's circuit breaker is open
// (the broker failed repeatedly); route around it. It is actor.ErrUnavailable. The error
// also wraps the kind and cause of the connection's last failure (ErrNetwork and the
// dial error, say).
var ErrUnavailable = actor.ErrUnavailable

// Pool keeps the connections of a client: one supervised connection actor per broker node,
// address and purpose, created on first use and stopped when Retain no longer lists its
// node. Connections reconnect after failures with backoff, behind a circuit breaker.
//
// It is not a supervisor.Shared, whose children stop with their last user: nobody releases
// a connection (a Handle stays valid, failing with ErrConnStopped once retired), and what
// retires one is the metadata, through Retain.
type Pool struct {
	cfg Config
	sup *supervisor.Supervisor

	mu    sync.Mutex
	conns map[connKey]*Handle
	seq   int // numbers connection names, so a retired one and its successor differ
}

type connKey struct {
	node    Node
	purpose Purpose
}

// NewPool returns a pool with no connections. Run it with Start, or nest it in another
// supervisor with AddTo.
func NewPool(cfg Config) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, conns: make(map[connKey]*Handle)}
	p.sup = supervisor.New(supervisor.Config{
		Name: "brokers",
		// Connection failures are handled by each connection's breaker; the pool itself
		// should never give up on them.
		Intensity: supervisor.Unlimited,
		Backoff:   cfg.Backoff,
		OnEvent:   supervisorHook(cfg.OnEvent),
		Logger:    cfg.Logger,
	})
	return p, nil
}

// Start runs the pool's supervisor as a top-level actor.
func (p *Pool) Start(ctx context.Context) *actor.Process { return p.sup.Start(ctx) }

// AddTo puts the pool's supervisor under parent (supervisor.AddSupervisor): the pool runs
// while parent does, and stops with it.
func (p *Pool) AddTo(parent *supervisor.Supervisor) error { return parent.AddSupervisor(p.sup) }

// Conn returns the connection to node for purpose, creating it if needed. Creating it does
// not dial: the connection dials when the first call reaches it.
func (p *Pool) Conn(node Node, purpose Purpose) (*Handle, error) {
	key := connKey{node, purpose}
	p.mu.Lock()
	defer p.mu.Unlock()
	if h := p.conns[key]; h != nil {
		return h, nil
	}
	breakerCfg := p.cfg.Breaker
	p.seq++
	h := &Handle{node: node, purpose: purpose, name: fmt.Sprintf("%s %s %s #%d", nodeName(node), purpose, node.Addr, p.seq)}
	c := &conn{cfg: &p.cfg, name: h.name, addr: node.Addr, versions: &h.versions, lastFail: &h.lastFail}
	ref, err := supervisor.Add(p.sup, supervisor.ChildSpec[*Call]{
		Name: h.name,
		Kind: "broker-conn",
		New: func() actor.Actor[*Call] {
			fresh := *c
			return &fresh
		},
		Mailbox: actor.MailboxConfig[*Call]{
			Capacity: p.cfg.QueueSize,
			// A call left in the mailbox when the connection is stopped for good, or
			// when its breaker opens, still gets its one outcome.
			OnDrop: func(call *Call) {
				cause := ErrConnStopped
				if !h.retired.Load() {
					cause = h.withLastFailure(fmt.Errorf("%w: breaker open", ErrUnavailable))
				}
				call.finish(&Error{Broker: h.name, Key: call.Request.APIKey(), Err: cause})
			},
		},
		Breaker:    &breakerCfg,
		DropQueued: true, // pending calls fail fast rather than wait out the breaker
		// Each dropped call's caller gets its error (OnDrop above): a Close that drops
		// calls queued on a connection that was down has nothing more to report.
		DropsAnswered: true,
		StopTimeout:   p.cfg.RequestTimeout,
	})
	if err != nil {
		return nil, err
	}
	h.ref = ref
	p.conns[key] = h
	return h, nil
}

func nodeName(n Node) string {
	if n.ID < 0 {
		return "seed"
	}
	return fmt.Sprintf("node-%d", n.ID)
}

// Retain stops the connections of every node not in keep (seed connections, with negative
// IDs, are kept unless dropSeeds). Stopped connections finish the calls they have written
// and fail the rest with ErrConnStopped; Handles to them fail with ErrConnStopped from then
// on. Retain does not wait for them to stop.
func (p *Pool) Retain(keep []Node, dropSeeds bool) {
	want := make(map[Node]bool, len(keep))
	for _, n := range keep {
		want[n] = true
	}
	p.mu.Lock()
	var gone []*Handle
	for k, h := range p.conns {
		if want[k.node] || (k.node.ID < 0 && !dropSeeds) {
			continue
		}
		delete(p.conns, k)
		gone = append(gone, h)
	}
	p.mu.Unlock()
	for _, h := range gone {
		h.retired.Store(true)
		_ = p.sup.RemoveAsync(h.name)
	}
}

// Children lists the connections for observability.
func (p *Pool) Children() []actor.Info { return p.sup.Children() }

// Handle is a client's handle on one broker connection. It stays valid across reconnects;
// once the connection is retired (Pool.Retain), sends fail with ErrConnStopped.
type Handle struct {
	node     Node
	purpose  Purpose
	name     string
	ref      actor.Ref[*Call]
	versions atomic.Pointer[Versions]
	retired  atomic.Bool
	lastFail atomic.Pointer[Error] // how the connection last failed; written by its incarnations
}

// withLastFailure adds to err, the error of a send refused while the breaker is open, the
// failure that opened it: what went wrong (a refused connection, a timeout), not only
// that the broker is being avoided. The failure's kind and cause are wrapped (ErrNetwork,
// a syscall error, ErrPermanent), not its *Error, whose ErrMaybeSent would not hold for
// the refused send.
func (h *Handle) withLastFailure(err error) error {
	if last := h.lastFail.Load(); last != nil {
		return &lastFailure{err: err, last: last.Err}
	}
	return err
}

// lastFailure is a refused send's error with the failure that opened the breaker. It
// reads "ERR; the last failure: LAST" and matches both.
type lastFailure struct{ err, last error }

func (e *lastFailure) Error() string {
	return e.err.Error() + "; the last failure: " + withoutPrefix(e.last)
}

func (e *lastFailure) Unwrap() []error { return []error{e.err, e.last} }

// Node is the broker this connection goes to.
func (h *Handle) Node() Node { return h.node }

// Name names the connection ("node-1 produce 127.0.0.1:9092").
func (h *Handle) Name() string { return h.name }

// Versions returns what the last handshake agreed, or nil before the first one.
func (h *Handle) Versions() *Versions { return h.versions.Load() }

// Warm makes a connection that has not shaken hands yet dial now, before its first real
// call: it sends an ApiVersions request (v2 at most, which carries no client name) and
// drops the answer. A caller that knows it will soon use the connection, and wants that
// first call not to wait for the dial and the handshake, calls it ahead (a group member
// that has found its coordinator, before its first offset fetch). It never blocks, and
// does nothing once the connection has shaken hands or if its queue refuses the call.
func (h *Handle) Warm() {
	if h.Versions() != nil || h.retired.Load() {
		return
	}
	req := &api.APIVersionsRequest{}
	req.Default()
	_ = h.TrySend(&Call{Request: req, VersionCap: 2, Done: func(*Call) {}})
}

// Send hands call to the connection, waiting (honouring ctx) while its queue is full. If
// Send returns nil, call.Done will be called exactly once; if it returns an error (a *Error
// that matches ErrNotSent: the connection is stopped, or ErrUnavailable while its breaker
// is open), Done is never called and the call is still the caller's.
func (h *Handle) Send(ctx context.Context, call *Call) error {
	if call.Request == nil {
		return fmt.Errorf("broker %s: a Call needs a Request", h.name)
	}
	if h.retired.Load() {
		return &Error{Broker: h.name, Key: call.Request.APIKey(), Err: ErrConnStopped}
	}
	err := h.ref.Send(ctx, call)
	if err == nil {
		return nil
	}
	kind := err
	switch {
	case errors.Is(err, actor.ErrStopped):
		kind = ErrConnStopped
	case errors.Is(err, actor.ErrUnavailable):
		kind = h.withLastFailure(err) // keeps ErrUnavailable and the breaker's error
	}
	return &Error{Broker: h.name, Key: call.Request.APIKey(), Err: kind}
}

// TrySend is Send for callers that must not wait (actors, callbacks): it fails with a
// *Error matching ErrNotSent and wrapping actor.ErrFull when the connection's queue is
// full, instead of waiting for room.
func (h *Handle) TrySend(call *Call) error {
	if call.Request == nil {
		return fmt.Errorf("broker %s: a Call needs a Request", h.name)
	}
	if h.retired.Load() {
		return &Error{Broker: h.name, Key: call.Request.APIKey(), Err: ErrConnStopped}
	}
	if err := h.ref.TrySend(call); err != nil {
		switch {
		case errors.Is(err, actor.ErrStopped):
			err = ErrConnStopped
		case errors.Is(err, actor.ErrUnavailable):
			err = h.withLastFailure(err)
		}
		return &Error{Broker: h.name, Key: call.Request.APIKey(), Err: err}
	}
	return nil
}

// Do sends req and waits for its response, bounded by ctx: a convenience for requests
// nobody pipelines (metadata, admin). The response is the broker's answer; Kafka error
// codes inside it are for the caller to check.
func (h *Handle) Do(ctx context.Context, req api.Request) (api.Response, error) {
	call := &Call{Request: req}
	if err := h.DoCall(ctx, call); err != nil {
		return nil, err
	}
	return call.Response, nil
}

// DoCall sends call (with its version cap, deadline and so on) and waits for it to finish,
// bounded by ctx; it returns call.Err. A Done set on call is replaced. If ctx ends first,
// DoCall returns an error (may have been sent) and the call finishes unobserved.
func (h *Handle) DoCall(ctx context.Context, call *Call) error {
	done := make(chan *Call, 1)
	call.Done = func(c *Call) { done <- c }
	if d, ok := ctx.Deadline(); ok && (call.Deadline.IsZero() || d.Before(call.Deadline)) {
		call.Deadline = d
	}
	if err := h.Send(ctx, call); err != nil {
		return err
	}
	select {
	case c := <-done:
		return c.Err
	case <-ctx.Done():
		return &Error{Broker: h.name, Key: call.Request.APIKey(), Sent: true, Err: fmt.Errorf("%w: %w", ErrRequestTimeout, context.Cause(ctx))}
	}
}
