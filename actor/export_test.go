package actor

import (
	"context"
	"log/slog"

	"github.com/troupe-go/troupe/internal/actorhook"
)

// What only the library reaches (through internal/actorhook) or only tests need, as names
// for this package's tests: the mailbox apart from Start, spawning on one, the controls a
// supervisor has, and the checked-mode counters.

type Mailbox[M any] = mailbox[M]

func NewMailbox[M any](cfg MailboxConfig[M]) *Mailbox[M] { return newMailbox(cfg) }

// RingLen is the size of mb's ring now.
func RingLen[M any](mb *Mailbox[M]) int { return mb.ringLen() }

// Spawn starts a on mb, as a supervisor does, but without a supervisor: the mailbox is
// discarded when Run returns.
func Spawn[M any](ctx context.Context, name string, a Actor[M], mb *Mailbox[M], opts SpawnOptions) *Process {
	sv := opts.Supervision
	sv.Kind, sv.Logger = opts.Kind, opts.Logger
	return spawn(ctx, name, a, mb, runOptions{onViolation: opts.OnViolation, Supervision: sv})
}

// SpawnOptions is Options without the mailbox, for Spawn, and what a supervisor attaches.
type SpawnOptions struct {
	Kind        string
	Logger      *slog.Logger
	OnViolation func(Violation)
	Supervision actorhook.Supervision
}

func (mb *mailbox[M]) Suspend(err error) { mb.suspend(err) }
func (mb *mailbox[M]) Resume()           { mb.resume() }
func (mb *mailbox[M]) DropQueued()       { mb.dropQueued() }
func (mb *mailbox[M]) Discard()          { mb.discard() }
func (mb *mailbox[M]) Close()            { mb.close() }
func (mb *mailbox[M]) Len() int          { return mb.queued() }
func (mb *mailbox[M]) Cap() int          { return mb.limit }

func (p *Process) BeginStop()   { p.beginStop() }
func (p *Process) BeginCancel() { p.beginCancel() }
func (p *Process) Name() string { return p.name }
func (p *Process) State() State { return State(p.state.Load()) }

func (r Ref[M]) Len() int { return r.mb.queued() }

func (in *Inbox[M]) Name() string { return in.mb.ownerName() }
func (in *Inbox[M]) Cap() int     { return in.mb.limit }
func (in *Inbox[M]) Len() int     { return in.mb.queued() }

func (o *Owner) Owns() int    { return o.owns() }
func (o *Owner) Name() string { return o.name }

// Checked reports whether this test binary was built with the troupecheck tag.
func Checked() bool { return checked }
