// Package actorhook is the library's private door into package actor: what a supervisor
// does to the actors it runs (makes a child's mailbox apart from any incarnation, spawns
// incarnations on it, keeps it across them, suspends it, hears of its exit and health,
// begins a stop without waiting), and where checked mode records ownership violations for
// the test harness. Users of package actor cannot reach any of it; package actor fills in
// the variables below when it is initialised, and nothing else sets them.
//
// The values pass through as any because this package sits below actor and cannot name
// its types: cfg is an actor.MailboxConfig[M], ref an actor.Ref[M], a an actor.Actor[M]
// of the same M, p an *actor.Process.
package actorhook

import (
	"context"
	"log/slog"
	"sync"
)

// Supervision is how a supervisor runs an incarnation it spawns.
type Supervision struct {
	// Kind labels the incarnation's goroutine and log records, as actor.Options.Kind.
	Kind string
	// Logger receives its lifecycle records, as actor.Options.Logger.
	Logger *slog.Logger
	// KeepMailbox leaves the mailbox open when the actor exits, for the next incarnation
	// (or for the supervisor to discard). Without it the mailbox is discarded when Run
	// returns: later sends fail with actor.ErrStopped, leftovers go to OnDrop.
	KeepMailbox bool
	// OnExit, if set, runs on the actor's goroutine after Run has returned (or panicked)
	// and before the actor counts as exited, with Run's error.
	OnExit func(err error)
	// OnHealthy, if set, is called once when the actor calls Inbox.MarkHealthy.
	OnHealthy func()
}

// MailboxControl is the creator's side of a mailbox, which neither its senders nor its
// owner have.
type MailboxControl interface {
	// Suspend makes every send fail at once with err (which wraps actor.ErrUnavailable)
	// and wakes blocked senders with it, until Resume. Queued messages stay queued.
	Suspend(err error)
	// Resume undoes Suspend.
	Resume()
	// DropQueued hands every queued message to OnDrop, leaving the mailbox open and empty.
	DropQueued()
	// Discard closes the mailbox for good and hands every message still queued to OnDrop;
	// Asks waiting on it return actor.ErrStopped. It is idempotent.
	Discard()
	// Stats returns the mailbox's counters, an actor.MailboxStats.
	Stats() any
}

// ProcessControl begins the stops of a Process without waiting for them: whoever calls
// them keeps the deadline (a supervisor's loop, on its timer) and watches Done.
type ProcessControl interface {
	// BeginStop begins a drain stop, as Process.Stop does, and returns at once.
	BeginStop()
	// BeginCancel begins a cancel stop, as Process.Cancel does, and returns at once; it
	// also cuts short a drain stop begun before.
	BeginCancel()
}

// Set by package actor when it is initialised.
var (
	// NewMailbox makes an open, empty mailbox configured by cfg, an
	// actor.MailboxConfig[M], that no actor receives from yet, and returns the
	// actor.Ref[M] that sends to it.
	NewMailbox func(cfg any) (ref any)
	// Spawn starts a (an actor.Actor[M]) under name, receiving from the mailbox behind
	// ref (an actor.Ref[M] from NewMailbox), run as s says, and returns its
	// *actor.Process. Only one incarnation receives from a mailbox at a time.
	Spawn func(ctx context.Context, name string, a, ref any, s Supervision) (p any)
	// Mailbox returns the controls of the mailbox behind ref, an actor.Ref[M].
	Mailbox func(ref any) MailboxControl
	// Process returns the controls of p, an *actor.Process.
	Process func(p any) ProcessControl
)

// Ownership violations found in checked mode (-tags troupecheck) on accounts without a
// reporter of their own: internal/testmain fails a test binary that has any.
var violations struct {
	mu   sync.Mutex
	list []string
}

// RecordViolation adds a violation, as it reads, to the process-wide list.
func RecordViolation(v string) {
	violations.mu.Lock()
	violations.list = append(violations.list, v)
	violations.mu.Unlock()
}

// Violations returns the violations recorded process-wide, oldest first.
func Violations() []string {
	violations.mu.Lock()
	defer violations.mu.Unlock()
	return append([]string(nil), violations.list...)
}

// ResetViolations empties the process-wide list.
func ResetViolations() {
	violations.mu.Lock()
	violations.list = nil
	violations.mu.Unlock()
}
