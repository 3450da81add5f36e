package actor

import (
	"context"
	"fmt"
	"log/slog"
)

// Ownership hand-off.
//
// Every mutable resource that travels between actors (a record batch, a partition
// subscription, a sequence range) has exactly one owner at a time, and ownership moves
// only by an explicit hand-off:
//
//  1. The creating actor acquires the value: v.Acquire(in.Owner()).
//  2. The owner gives it away just before sending it: v.Give(in.Owner()). From then on
//     the giver must not touch it. If the send fails, the giver takes it back.
//  3. The receiver takes it as the first thing it does with it: v.Take(in.Owner()).
//  4. Whoever owns it may assert so before using it: v.Check(in.Owner()).
//  5. The final owner releases it when the value's life ends (its records are reported,
//     the subscription is closed): v.Release(in.Owner()).
//
// Hand does steps 2 and 3-on-failure around a send.
//
// Built normally these calls compile to nothing: Owned and the state inside Owner are
// empty structs and every method is an inlined no-op, so the protocol costs nothing in
// production. Built with the tag troupecheck (go test -tags troupecheck), every call is
// checked by counting: each Owner keeps the set of values it owns, and a second Take, a
// Give or Check by an actor that is not the owner (a use after give), a Take by an owner
// that has exited, or anything still owned when an actor's Run has returned and its exit
// hook has run is reported as a Violation. No finalizers are involved, so reports are
// immediate and deterministic.

// Owned is embedded in a type whose values move between actors, and records who owns the
// value in checked mode. Embed it as the first field: it is empty in normal builds, and
// an empty field at the end of a struct would add padding.
type Owned struct {
	//lint:ignore U1000 the checked-mode state; an empty struct in normal builds
	ownedState
}

// ownership returns x: with Owned embedded, a type satisfies Ownable.
func (x *Owned) ownership() *Owned { return x }

// Ownable is a value that carries its own ownership record: a type satisfies it by
// embedding Owned, and in no other way.
type Ownable interface {
	ownership() *Owned
}

// Owner is an ownership account, one per actor incarnation (Inbox.Owner). Tests and
// non-actor code that hand values to actors make their own with NewOwner.
type Owner struct {
	name string
	//lint:ignore U1000 the checked-mode state; an empty struct in normal builds
	ownerState
}

// NewOwner returns an account named name. Violations found on it in checked mode go to
// report; nil means the default slog logger, at error level (and the library's own test
// harness fails on them).
func NewOwner(name string, report func(Violation)) *Owner {
	o := &Owner{name: name}
	o.init(report)
	return o
}

// Violation is a breach of the hand-off protocol found in checked mode.
type Violation struct {
	Kind   ViolationKind
	Actor  string // the account that made the offending call, or that closed still owning
	Holder string // who owned the value at the time ("" if nobody, "in transit" if given)
	Origin string // where the value was first acquired (file:line)
}

func (v Violation) String() string {
	return fmt.Sprintf("ownership violation: %s by %q (holder %q, value acquired at %s)", v.Kind, v.Actor, v.Holder, v.Origin)
}

// ViolationKind classifies a Violation.
type ViolationKind uint8

const (
	// DoubleTake: Take of a value that is not in transit (taken already, or never given).
	DoubleTake ViolationKind = iota + 1
	// UseAfterGive: Give or Check by an actor that gave the value away (or never had it).
	UseAfterGive
	// NotOwner: Release, or Acquire of a value someone owns, by an actor that does not own it.
	NotOwner
	// OwnedAtClose: the actor's Run returned while it still owned the value.
	OwnedAtClose
	// TakeAfterClose: Take by an account whose actor has already exited.
	TakeAfterClose
)

func (k ViolationKind) String() string {
	switch k {
	case DoubleTake:
		return "second take"
	case UseAfterGive:
		return "use after give"
	case NotOwner:
		return "not the owner"
	case OwnedAtClose:
		return "still owned at close"
	case TakeAfterClose:
		return "take after close"
	}
	return "invalid"
}

// Hand gives v from from to the actor behind to: it calls Give, sends, and if the send
// fails takes v back on from, so that v has exactly one owner whatever happens.
func Hand[M Ownable](ctx context.Context, from *Owner, to Ref[M], v M) error {
	v.ownership().Give(from)
	if err := to.Send(ctx, v); err != nil {
		v.ownership().Take(from)
		return err
	}
	return nil
}

// violationReporter builds the reporter a Process gives its Owner.
func violationReporter(hook func(Violation), log *slog.Logger) func(Violation) {
	if hook != nil {
		return hook
	}
	return func(v Violation) {
		recordViolation(v)
		log.Error(v.String())
	}
}
