package supervisor

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/eapache/go-resiliency/breaker"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/actorhook"
)

var breakerErrOpen = breaker.ErrBreakerOpen

// Errors returned by Add and Remove.
var (
	// ErrInvalidSpec: a ChildSpec without a Name or a New function, or with DropQueued
	// and no Breaker.
	ErrInvalidSpec = errors.New("supervisor: invalid child spec")
	// ErrDuplicateChild: a child of that name is already supervised.
	ErrDuplicateChild = errors.New("supervisor: duplicate child name")
	// ErrUnknownChild: no child of that name is supervised.
	ErrUnknownChild = errors.New("supervisor: unknown child")
)

// Supervisor keeps a set of child actors running: it starts them in order, restarts them
// by its Strategy when they exit, spaces restarts with backoff, puts children behind
// circuit breakers, gives up to its parent when restarts come faster than its Intensity,
// and stops them in reverse order when it stops.
//
// A Supervisor is itself an actor. Run it with Start, or make it the child of another
// supervisor with parent.AddSupervisor(s). Its children's mailboxes belong to it, not to
// their incarnations: a Ref returned by Add stays valid across restarts and messages
// queued for a child survive them.
type Supervisor struct {
	cfg Config
	mb  actor.Ref[control] // its own mailbox, made through internal/actorhook

	// mu guards names, pending, and the slot fields Children reads. The run loop alone
	// writes slots (always under mu, so that Children can read it); Add appends to
	// pending, which the loop adopts into slots in order.
	mu      sync.Mutex
	slots   []*slot          // adopted children, in start order
	pending []*slot          // added, not yet seen by the loop
	names   map[string]*slot // every child, by name

	// Owned by the supervisor's run loop (one incarnation at a time).
	window   intensity
	takedown []*slot // children the strategy is stopping, in order, one at a time
	onEvent  func(Event)
}

// control is a message to a supervisor's own mailbox: a supervisor is driven through its
// methods, which send these.
type control struct {
	kind   controlKind
	slot   *slot
	inc    int
	name   string
	answer actor.Reply[struct{}]
}

type controlKind uint8

const (
	ctlWake    controlKind = iota + 1 // a child was added: start what is new
	ctlExit                           // an incarnation ended
	ctlHealthy                        // an incarnation called MarkHealthy
	ctlRemove                         // stop and forget a child
)

// New returns a supervisor with no children. Add children before or after starting it.
func New(cfg Config) *Supervisor {
	cfg = cfg.withDefaults()
	s := &Supervisor{
		cfg:   cfg,
		names: make(map[string]*slot),
		// Unbounded, and bounded all the same: children post at most one exit and one
		// health notice per incarnation, and incarnations are started only by the
		// supervisor's loop, which consumes those notices; Add posts one wake-up per
		// child added, and Remove waits for its answer. An unbounded mailbox also means
		// a child's exit can never block on a busy supervisor.
		mb: actorhook.NewMailbox(actor.MailboxConfig[control]{Capacity: actor.Unbounded}).(actor.Ref[control]),
	}
	s.window = intensity{max: cfg.Intensity, period: cfg.Period}
	s.onEvent = cfg.OnEvent
	return s
}

// Start runs the supervisor as a top-level actor, starting its children in order. Stop the
// returned Process to stop the tree: children stop in reverse start order, each within its
// StopTimeout. The Process fails with an error matching ErrIntensity if children fail
// faster than the supervisor's Intensity allows.
//
// A top-level supervisor has no next incarnation: however it ends (a drain stop, a cancel
// stop, giving up), every message still queued for its children, or for theirs if they are
// supervisors, is handed to the OnDrop of the child's mailbox before the Process counts as
// exited.
func (s *Supervisor) Start(ctx context.Context) *actor.Process {
	sv := actorhook.Supervision{Kind: "supervisor", Logger: s.cfg.Logger, OnExit: func(error) { s.discardAll() }}
	return actorhook.Spawn(ctx, s.cfg.Name, actor.Func[control](s.run), s.mb, sv).(*actor.Process)
}

// AddSupervisor puts child under s as a permanent child named by its Config.Name, as Add
// does for an actor; each stop of it is bounded by its Config.StopTimeout. If child fails
// (its intensity is exceeded), s restarts it, and it starts its own children again: their
// mailboxes, and the messages queued in them, are kept. When s will not restart it
// (Remove, or s itself ending for good), its children's mailboxes are discarded with it:
// what is queued goes to their OnDrop. A supervisor has one parent at most, and is not
// also started on its own.
func (s *Supervisor) AddSupervisor(child *Supervisor) error {
	_, err := Add(s, ChildSpec[control]{
		Name:        child.cfg.Name,
		New:         func() actor.Actor[control] { return actor.Func[control](child.run) },
		Kind:        "supervisor",
		StopTimeout: child.cfg.StopTimeout,
		mailbox:     child.mb,
		children:    child.Children,
		discardAll:  child.discardAll,
	})
	return err
}

// Add puts a child under s and returns the Ref to send to it. If s is running, the child
// starts at once (after those added before it); otherwise it starts, in order, when s
// does. The Ref is valid immediately: messages sent before the child starts wait in its
// mailbox.
func Add[M any](s *Supervisor, spec ChildSpec[M]) (actor.Ref[M], error) {
	if spec.Name == "" || spec.New == nil {
		return actor.Ref[M]{}, fmt.Errorf("%w: a child needs a Name and a New function", ErrInvalidSpec)
	}
	if spec.DropQueued && spec.Breaker == nil {
		return actor.Ref[M]{}, fmt.Errorf("%w: %q: DropQueued without a Breaker", ErrInvalidSpec, spec.Name)
	}
	mb := spec.mailbox
	if mb.IsZero() {
		mb = actorhook.NewMailbox(spec.Mailbox).(actor.Ref[M])
	}
	sl := newSlot(spec, mb)
	s.mu.Lock()
	if _, dup := s.names[spec.Name]; dup {
		s.mu.Unlock()
		return actor.Ref[M]{}, fmt.Errorf("%w: %q under %q", ErrDuplicateChild, spec.Name, s.cfg.Name)
	}
	s.names[spec.Name] = sl
	s.pending = append(s.pending, sl)
	s.mu.Unlock()
	if err := s.mb.TrySend(control{kind: ctlWake}); err != nil {
		s.forget(sl)
		return actor.Ref[M]{}, fmt.Errorf("supervisor %q: %w", s.cfg.Name, err)
	}
	return mb, nil
}

// Remove stops the named child for good (a drain stop within its StopTimeout), discards
// its mailbox (queued messages go to its OnDrop) and forgets it. It waits, bounded by ctx,
// for the child to be removed; the supervisor must be running, and goes on serving its
// other children while this one drains. Like a drain stop of the supervisor, it returns
// an error naming the child if the drain left messages queued (the child failed during
// it, or was down) or overran the StopTimeout (matching actor.ErrStopTimeout).
func (s *Supervisor) Remove(ctx context.Context, name string) error {
	_, err := actor.Ask(ctx, s.mb, func(r actor.Reply[struct{}]) control {
		return control{kind: ctlRemove, name: name, answer: r}
	})
	return err
}

// RemoveAsync asks the supervisor to remove the named child as Remove does, without
// waiting: it returns once the request is queued. An unknown name is ignored.
func (s *Supervisor) RemoveAsync(name string) error {
	return s.mb.TrySend(control{kind: ctlRemove, name: name})
}

// Children lists the children in start order with their state, mailbox, and restart
// count; a nested supervisor's Info lists its own children.
func (s *Supervisor) Children() []actor.Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]actor.Info, 0, len(s.slots)+len(s.pending))
	for _, sl := range s.slots {
		out = append(out, sl.info())
	}
	for _, sl := range s.pending {
		out = append(out, sl.info())
	}
	return out
}

// discardAll discards every child's mailbox, and its children's if it is a supervisor:
// the supervisor has ended for good, so what is queued for them goes to their OnDrop. It
// returns how many messages it handed to OnDrop. Discarding is idempotent.
func (s *Supervisor) discardAll() int {
	s.mu.Lock()
	all := append(slices.Clone(s.slots), s.pending...)
	s.mu.Unlock()
	n := 0
	for _, sl := range all {
		n += sl.discard()
	}
	return n
}

// adopt moves the children added since the last call to the end of the start order. Only
// the run loop calls it.
func (s *Supervisor) adopt() {
	s.mu.Lock()
	s.slots = append(s.slots, s.pending...)
	s.pending = nil
	s.mu.Unlock()
}

// forget drops sl from the supervisor; it must not be running.
func (s *Supervisor) forget(sl *slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.removed = true
	delete(s.names, sl.name)
	if i := slices.Index(s.slots, sl); i >= 0 { // only the loop forgets adopted slots
		s.slots = slices.Delete(s.slots, i, i+1)
	}
	if i := slices.Index(s.pending, sl); i >= 0 {
		s.pending = slices.Delete(s.pending, i, i+1)
	}
}

// slot is a supervised child's place in its supervisor: it outlives the child's
// incarnations and holds its mailbox, breaker and restart bookkeeping. Its generic parts
// (the child's message type) are captured in closures, so the supervisor handles children
// of every type alike.
type slot struct {
	name          string
	kind          string
	restart       Restart
	stopTimeout   time.Duration
	breakerCfg    BreakerConfig
	breaker       *breaker.Breaker // nil without a breaker
	dropQueued    bool             // the breaker's opening drops what is queued
	dropsAnswered bool             // OnDrop answers each message's sender (ChildSpec.DropsAnswered)
	unavailable   error            // what sends get while the breaker is open

	spawn    func(ctx context.Context, sv actorhook.Supervision) (*actor.Process, error)
	ctl      actorhook.MailboxControl // suspend, resume, drop what is queued
	discard  func() int               // closes the mailbox for good; returns how many went to OnDrop
	stats    func() actor.MailboxStats
	children func() []actor.Info // for a nested supervisor

	// Owned by the supervisor's loop. Fields marked * are also read by Children, so the
	// loop writes them under Supervisor.mu.
	state     slotState
	proc      *actor.Process // * the running (or not yet exited) incarnation
	restarts  int            // * restarts so far
	removed   bool           // * forgotten
	lastErr   error          // * how the last incarnation ended
	inc       int            // incarnations started
	started   time.Time
	healthy   bool // the running incarnation was marked healthy
	failures  int  // consecutive failures, for backoff
	delay     time.Duration
	restartAt time.Time
	healthyAt time.Time
	probeAt   time.Time
	stop      *stopping // the stop of proc the loop has begun, until proc exits
	held      bool      // its restart waits for the strategy's takedown to end
	removing  bool      // Remove asked for it: it is stopped for good, then forgotten
	// removeDown is how its last incarnation had ended if it was down when Remove was
	// asked; removers are who wait for the removal (a RemoveAsync's is the zero Reply).
	removeDown error
	removers   []actor.Reply[struct{}]
}

type slotState uint8

const (
	slotNew     slotState = iota // to be started as soon as the loop sees it
	slotRunning                  // proc is running
	slotWaiting                  // a restart is due at restartAt (once proc, if any, has exited)
	slotBroken                   // the breaker is open; probe at probeAt
)

func newSlot[M any](spec ChildSpec[M], mb actor.Ref[M]) *slot {
	ctl := actorhook.Mailbox(mb)
	sl := &slot{
		name:        spec.Name,
		kind:        spec.Kind,
		restart:     spec.Restart,
		stopTimeout: spec.StopTimeout,
		ctl:         ctl,
		stats:       func() actor.MailboxStats { return ctl.Stats().(actor.MailboxStats) },
		children:    spec.children,
	}
	sl.discard = func() int {
		if spec.discardAll != nil { // a nested supervisor: what counts is its children's
			sl.ctl.Discard()
			return spec.discardAll()
		}
		before := sl.stats().Dropped
		sl.ctl.Discard()
		return int(sl.stats().Dropped - before)
	}
	if sl.stopTimeout <= 0 {
		sl.stopTimeout = DefaultStopTimeout
	}
	sl.dropsAnswered = spec.DropsAnswered
	if spec.Breaker != nil {
		sl.breakerCfg, sl.dropQueued = *spec.Breaker, spec.DropQueued
		b := &sl.breakerCfg
		if b.Errors <= 0 {
			b.Errors = DefaultBreakerErrors
		}
		if b.Successes <= 0 {
			b.Successes = 1
		}
		if b.Timeout <= 0 {
			b.Timeout = DefaultBreakerTimeout
		}
		sl.breaker = breaker.New(b.Errors, b.Successes, b.Timeout)
		sl.unavailable = fmt.Errorf("%w: %q: %w", actor.ErrUnavailable, spec.Name, breaker.ErrBreakerOpen)
	}
	sl.spawn = func(ctx context.Context, sv actorhook.Supervision) (p *actor.Process, err error) {
		defer func() {
			if v := recover(); v != nil {
				err = &actor.PanicError{Actor: spec.Name, Value: v, Stack: debug.Stack()}
			}
		}()
		a := spec.New()
		if a == nil {
			return nil, fmt.Errorf("%w: New for %q returned nil", ErrInvalidSpec, spec.Name)
		}
		if spec.Release != nil {
			notify := sv.OnExit
			sv.OnExit = func(err error) {
				defer notify(err) // even if Release panics
				spec.Release(a, err)
			}
		}
		return actorhook.Spawn(ctx, spec.Name, a, mb, sv).(*actor.Process), nil
	}
	return sl
}

func (sl *slot) info() actor.Info {
	var in actor.Info
	if sl.proc != nil {
		in = sl.proc.Info()
	} else {
		in = actor.Info{Name: sl.name, Kind: sl.kind, State: actor.Stopped, Mailbox: sl.stats(), Err: sl.lastErr}
		if in.Kind == "" {
			in.Kind = "actor"
		}
	}
	in.Restarts = sl.restarts
	if sl.children != nil {
		in.Children = sl.children()
	}
	return in
}
