package actor

import (
	"context"

	"github.com/troupe-go/troupe/internal/actorhook"
)

// Ref is a typed handle through which any goroutine sends messages to one actor's mailbox.
// Refs are small values; copy them freely. A Ref stays valid across restarts of a
// supervised actor, because the mailbox belongs to the supervisor's slot, not to one
// incarnation of the actor.
//
// A message that a send accepted belongs to the receiving actor; a message whose send
// returned an error still belongs to the sender.
//
// The zero Ref refers to no actor: its sends fail with ErrStopped (IsZero tells it). Refs
// are comparable: two are equal when they send to the same mailbox.
type Ref[M any] struct {
	mb *mailbox[M]
}

// Send queues m, waiting while the mailbox is full if its overflow policy is Block
// (backpressure). It returns nil once m is queued; ErrFull (policy Fail); ErrStopped if
// the mailbox is closed; an error wrapping ErrUnavailable while the mailbox is suspended;
// or the context's cause if ctx ends first. Messages sent by one goroutine are received
// in the order sent.
func (r Ref[M]) Send(ctx context.Context, m M) error {
	if r.mb == nil {
		return ErrStopped
	}
	return r.mb.send(ctx, m, true)
}

// TrySend queues m only if that needs no waiting. It returns ErrFull when the mailbox is
// full (policy Block or Fail) and ErrStopped when it is closed, so the two can be told
// apart; under DropOldest it always makes room.
func (r Ref[M]) TrySend(m M) error {
	if r.mb == nil {
		return ErrStopped
	}
	return r.mb.send(context.Background(), m, false)
}

// Nudge wakes the actor without sending it a message: once Nudge returns, Inbox.Ready
// has a value (or the owner has just taken one and has yet to drain), so an owner that
// selects on Ready drains (finding nothing new, perhaps) and looks at its state again.
// It is for state shared with the owner outside its mailbox (an answer filed under a
// lock, a flag), where a message would only say "look": write the state, then Nudge; the
// owner sees the write after its next Drain.
//
// Nudges coalesce: any number before the owner wakes cost it one wake-up, and nothing is
// queued, so they need no room and no coalescing flag of the caller's. (Such flags are
// easy to get wrong: one cleared before the owner drains, rather than after, can be left
// set with nothing queued, and every later wake-up is then skipped.) Nudge returns
// ErrStopped when the mailbox is closed and an error wrapping ErrUnavailable while it is
// suspended, as TrySend does; an actor that loops on Receive ignores nudges.
func (r Ref[M]) Nudge() error {
	if r.mb == nil {
		return ErrStopped
	}
	return r.mb.nudge()
}

// SendBatch queues ms in order, as many at a time as there is room for, waiting (policy
// Block) for room for the rest. It returns how many were queued: ms[:n] belong to the
// receiver, ms[n:] still belong to the caller. Under one lock per wake-up it is much
// cheaper than len(ms) calls to Send.
func (r Ref[M]) SendBatch(ctx context.Context, ms []M) (int, error) {
	if r.mb == nil {
		return 0, ErrStopped
	}
	return r.mb.sendBatch(ctx, ms)
}

// Room returns a channel that is closed once a send may find room: at once if the mailbox
// has room now, is unbounded, closed or suspended (by a supervisor), and otherwise as soon
// as its owner drains it (or it is closed, suspended or its queue dropped). It lets a sender that got
// ErrFull from TrySend wait for room in a select, together with its own mailbox and
// timers, instead of blocking in Send:
//
//	for {
//		if err := out.TrySend(m); !errors.Is(err, actor.ErrFull) {
//			break // sent, or refused for good
//		}
//		select {
//		case <-out.Room(): // try again
//		case <-in.Ready(): // handle our own messages meanwhile
//		}
//	}
//
// Room promises a chance, not a place: another sender may take the room first, so the
// send after it can still fail with ErrFull.
func (r Ref[M]) Room() <-chan struct{} {
	if r.mb == nil {
		return closedChan
	}
	return r.mb.room()
}

// Name is the name of the actor behind the Ref ("" for the zero Ref, or before an actor
// was spawned on the mailbox).
func (r Ref[M]) Name() string {
	if r.mb == nil {
		return ""
	}
	return r.mb.ownerName()
}

// IsZero reports whether r is the zero Ref: an optional actor that is absent.
func (r Ref[M]) IsZero() bool { return r.mb == nil }

// Done returns a channel closed once nothing queued for the actor will ever be processed
// (its mailbox was discarded after its owner exited for good).
func (r Ref[M]) Done() <-chan struct{} {
	if r.mb == nil {
		return closedChan
	}
	return r.mb.gone
}

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// control gives a supervisor (actorhook.Mailbox) the creator's controls of r's mailbox.
func (r Ref[M]) control() actorhook.MailboxControl { return mailboxControl[M](r) }
