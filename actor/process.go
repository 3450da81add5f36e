package actor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/internal/actorhook"
)

// Actor is the contract of a run-loop actor: a value whose Run is its whole life.
//
// Run receives messages from in and returns when it is done:
//   - nil once Drain reports the mailbox closed (a drain stop), or whenever the actor
//     decides on its own that its work is finished;
//   - ctx's error once ctx is cancelled (a cancel stop, or the parent going away); it
//     should return promptly, and Unread whatever it drained but did not handle;
//   - any other error when it fails; a supervisor may then restart it.
//
// Run must not leave goroutines behind: every goroutine it starts is itself an actor or a
// structured goroutine that has exited before Run returns. A panic in Run is recovered by
// the framework and turned into a *PanicError carrying the stack.
//
// The framework accounts for every message still in the mailbox: it is taken by a later
// incarnation or handed to OnDrop once. A message Run has taken (Receive, Drain) is Run's
// to finish, Unread, or hand back from a supervisor's Release hook when Run fails; the
// framework cannot see it. Receive and ReceiveBatch are Run loops that keep that account
// themselves, panics included.
type Actor[M any] interface {
	Run(ctx context.Context, in *Inbox[M]) error
}

// Func adapts a plain function to the Actor interface.
type Func[M any] func(ctx context.Context, in *Inbox[M]) error

// Run calls f(ctx, in).
func (f Func[M]) Run(ctx context.Context, in *Inbox[M]) error { return f(ctx, in) }

// Options configures how Start runs an actor. The zero value is valid: a blocking mailbox
// of DefaultCapacity messages, kind "actor", records discarded.
type Options[M any] struct {
	// Mailbox configures the actor's mailbox.
	Mailbox MailboxConfig[M]
	// Kind labels the actor's goroutine (pprof label "kind") and its log records, e.g.
	// "broker-producer". Empty means "actor".
	Kind string
	// Logger receives the actor's lifecycle records. Nil discards them.
	Logger *slog.Logger
	// OnViolation receives ownership violations found in checked mode (build tag
	// troupecheck). Nil logs them on Logger at error level (and the library's own test
	// harness fails on them).
	OnViolation func(Violation)
}

// runOptions is how one incarnation is run: Start's Options without the mailbox, or what
// a supervisor attached (through internal/actorhook). An actor run on its own has the
// zero Supervision, so its mailbox is discarded when Run returns (later sends fail with
// ErrStopped, anything still queued goes to OnDrop).
type runOptions struct {
	onViolation func(Violation)
	actorhook.Supervision
}

// State is where an actor is in its life.
type State int32

const (
	Starting State = iota // spawned; Run has not begun
	Running               // Run is executing
	Stopping              // a stop was requested; Run has not returned yet
	Stopped               // Run returned nil, or was stopped on request
	Failed                // Run returned an error or panicked
)

func (s State) String() string {
	switch s {
	case Starting:
		return "starting"
	case Running:
		return "running"
	case Stopping:
		return "stopping"
	case Stopped:
		return "stopped"
	case Failed:
		return "failed"
	}
	return "invalid"
}

// errStopRequested is the cancellation cause of a cancel stop.
var errStopRequested = errors.New("actor: stop requested")

// Process is one running incarnation of an actor: the goroutine the framework started for
// it, with its lifecycle. Whoever spawned the actor owns the Process and is responsible
// for stopping it (or its parent context does).
type Process struct {
	name    string
	kind    string
	started time.Time
	log     *slog.Logger

	cancel context.CancelCauseFunc
	done   chan struct{}
	err    error // written before done is closed

	state     atomic.Int32
	requested atomic.Bool // a stop or cancel was requested

	closeMailbox func()
	stats        func() MailboxStats
}

// Start starts a on its own goroutine under name, receiving from a new mailbox configured
// by opts.Mailbox, and returns a Ref to send to it and its Process, which the caller owns
// and stops (or ctx's end cancels it). The goroutine carries the pprof labels actor=name
// and kind=opts.Kind, so goroutine profiles and stack dumps say who it is.
//
// An actor started this way runs once: when Run returns, its mailbox is discarded (what
// is still queued goes to OnDrop). For restarts with a mailbox that survives them, put
// the actor under a supervisor instead (supervisor.Add).
func Start[M any](ctx context.Context, name string, a Actor[M], opts Options[M]) (Ref[M], *Process) {
	mb := newMailbox(opts.Mailbox)
	return mb.Ref(), spawn(ctx, name, a, mb, runOptions{
		onViolation: opts.OnViolation,
		Supervision: actorhook.Supervision{Kind: opts.Kind, Logger: opts.Logger},
	})
}

// spawn starts a on its own goroutine under name, receiving from mb, and returns its
// Process. Its context is derived from ctx. Only one actor may receive from a mailbox at
// a time; spawning a second on a mailbox whose owner is still running is a programming
// error.
func spawn[M any](ctx context.Context, name string, a Actor[M], mb *mailbox[M], opts runOptions) *Process {
	if opts.Kind == "" {
		opts.Kind = "actor"
	}
	log := opts.Logger
	if log == nil {
		log = discardLogger
	}
	mb.setName(name)
	sv := opts.Supervision
	p := &Process{
		name:         name,
		kind:         opts.Kind,
		started:      time.Now(),
		log:          log.With("actor", name, "kind", opts.Kind),
		done:         make(chan struct{}),
		closeMailbox: mb.close,
		stats:        mb.Stats,
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	p.cancel = cancel
	in := &Inbox[M]{mb: mb, ctx: runCtx, owner: NewOwner(name, violationReporter(opts.onViolation, p.log)), healthy: sv.OnHealthy}
	r := &runner[M]{p: p, actor: a, in: in, mb: mb, sv: sv}
	go r.run(runCtx)
	return p
}

// spawnAny is spawn for a supervisor (actorhook.Spawn), which cannot name M: a is an
// Actor[M].
func (r Ref[M]) spawnAny(ctx context.Context, name string, a any, sv actorhook.Supervision) *Process {
	return spawn(ctx, name, a.(Actor[M]), r.mb, runOptions{Supervision: sv})
}

// runner is the goroutine behind a Process. It owns the actor value and the Inbox for the
// life of one incarnation; the Process's owner stops it through Stop or Cancel.
type runner[M any] struct {
	p     *Process
	actor Actor[M]
	in    *Inbox[M]
	mb    *mailbox[M]
	sv    actorhook.Supervision
}

func (r *runner[M]) run(ctx context.Context) {
	p := r.p
	defer close(p.done)
	defer p.cancel(nil) // release the context's resources
	// Cancellation also wakes the owner, so a loop blocked in Inbox.Receive needs no
	// select on ctx.Done.
	defer context.AfterFunc(ctx, r.mb.signal)()
	pprof.Do(ctx, pprof.Labels("actor", p.name, "kind", p.kind), func(ctx context.Context) {
		p.state.CompareAndSwap(int32(Starting), int32(Running))
		p.log.Debug("actor started")
		err := r.call(func() error { return r.actor.Run(ctx, r.in) })
		if onExit := r.sv.OnExit; onExit != nil {
			if herr := r.call(func() error { onExit(err); return nil }); herr != nil {
				err = errors.Join(err, fmt.Errorf("exit hook: %w", herr))
			}
		}
		r.in.owner.Close()
		if !r.sv.KeepMailbox {
			r.mb.discard()
		}
		if err != nil && p.requested.Load() && errors.Is(err, context.Canceled) && !errors.Is(err, ErrPanic) {
			err = nil // the cancellation we asked for is a normal end
		}
		p.err = err
		if err != nil {
			p.state.Store(int32(Failed))
			// A supervised actor's failure is its supervisor's to judge and report (an
			// Exited event, a warning): here it is a debug record, unless it is a panic,
			// a bug, whose stack goes with it at error level.
			level := slog.LevelError
			if r.sv.KeepMailbox {
				level = slog.LevelDebug
			}
			attrs := []any{"err", err, "uptime", time.Since(p.started)}
			if pe := (*PanicError)(nil); errors.As(err, &pe) {
				level = slog.LevelError
				attrs = append(attrs, "stack", string(pe.Stack))
			}
			p.log.Log(context.Background(), level, "actor failed", attrs...)
		} else {
			p.state.Store(int32(Stopped))
			p.log.Debug("actor stopped", "uptime", time.Since(p.started))
		}
	})
}

// call runs f, turning a panic into a *PanicError with the stack.
func (r *runner[M]) call(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Actor: r.p.name, Value: v, Stack: debug.Stack()}
		}
	}()
	return f()
}

// Done returns a channel closed when the actor has exited: Run has returned and its exit
// hook has run.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the actor ended: nil while it runs, after a normal end, and after a
// stop that was requested (its context.Canceled counts as normal); otherwise Run's error
// or a *PanicError.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stop is a drain stop: it closes the mailbox so that no more messages are accepted, lets
// the actor handle everything already accepted, and waits for it to exit. It returns the
// actor's exit error (Err). If ctx ends first, the actor is cancelled and Stop returns a
// *StopTimeoutError naming it (matching ErrStopTimeout), logged at warning level; the
// actor's goroutine may then still be running.
func (p *Process) Stop(ctx context.Context) error {
	p.beginStop()
	return p.wait(ctx, true)
}

// beginStop begins a drain stop, as Stop does, and returns at once: Done is closed once
// the actor has exited, and Err then says how it ended. It reports no timeout: whoever
// calls it keeps the deadline (a supervisor's loop keeps one per child on its timer, so
// that one slow stop holds up nothing else) and calls beginCancel when it passes. Calling
// it again, or after the actor has exited, does nothing more.
func (p *Process) beginStop() {
	p.requested.Store(true)
	p.state.CompareAndSwap(int32(Running), int32(Stopping))
	p.closeMailbox()
}

// Cancel is a cancel stop: it cancels the actor's context and waits for it to exit. The
// messages still queued are kept for the next incarnation of a supervised actor, and
// handed to OnDrop when the actor ran on its own. It returns like Stop.
func (p *Process) Cancel(ctx context.Context) error {
	p.beginCancel()
	return p.wait(ctx, false)
}

// beginCancel begins a cancel stop, as Cancel does, and returns at once; like beginStop,
// it leaves the waiting, and the deadline, to the caller. It also cuts short a drain stop
// begun before.
func (p *Process) beginCancel() {
	p.requested.Store(true)
	p.state.CompareAndSwap(int32(Running), int32(Stopping))
	p.cancel(errStopRequested)
}

func (p *Process) wait(ctx context.Context, drain bool) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	begin := time.Now()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		p.cancel(errStopRequested)
		err := &StopTimeoutError{Actor: p.name, Waited: time.Since(begin), Drained: drain, Cause: context.Cause(ctx)}
		p.log.Warn("actor did not stop in time", "err", err)
		return err
	}
}

// Info is a snapshot of an actor for observability.
type Info struct {
	Name     string
	Kind     string
	State    State
	Started  time.Time // when this incarnation was spawned
	Mailbox  MailboxStats
	Restarts int    // restarts of this actor by its supervisor (0 outside a supervisor)
	Err      error  // how the last incarnation ended, if it has
	Children []Info // for a supervisor: its children, in start order
}

// Info returns a snapshot of the actor.
func (p *Process) Info() Info {
	return Info{
		Name:    p.name,
		Kind:    p.kind,
		State:   State(p.state.Load()),
		Started: p.started,
		Mailbox: p.stats(),
		Err:     p.Err(),
	}
}

var discardLogger = slog.New(slog.DiscardHandler)

// processControl gives the library's supervisor (through internal/actorhook) the stops
// that do not wait.
type processControl struct{ p *Process }

func (c processControl) BeginStop()   { c.p.beginStop() }
func (c processControl) BeginCancel() { c.p.beginCancel() }

// The library's door into this package (see internal/actorhook).
func init() {
	actorhook.NewMailbox = func(cfg any) any {
		return cfg.(interface{ newRef() any }).newRef()
	}
	actorhook.Spawn = func(ctx context.Context, name string, a, ref any, sv actorhook.Supervision) any {
		return ref.(interface {
			spawnAny(context.Context, string, any, actorhook.Supervision) *Process
		}).spawnAny(ctx, name, a, sv)
	}
	actorhook.Mailbox = func(ref any) actorhook.MailboxControl {
		return ref.(interface {
			control() actorhook.MailboxControl
		}).control()
	}
	actorhook.Process = func(p any) actorhook.ProcessControl { return processControl{p.(*Process)} }
}
