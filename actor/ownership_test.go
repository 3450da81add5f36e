package actor_test

import (
	"context"
	"testing"
	"unsafe"

	"github.com/troupe-go/troupe/actor"
)

// batch is a value that moves between actors by hand-off.
type batch struct {
	actor.Owned
}

func TestOwnedIsFreeWhenUnchecked(t *testing.T) {
	if actor.Checked() {
		t.Skip("built with troupecheck")
	}
	if s := unsafe.Sizeof(actor.Owned{}); s != 0 {
		t.Fatalf("Owned takes %d bytes in an unchecked build", s)
	}
	if got := testing.AllocsPerRun(100, func() {
		o := actor.NewOwner("x", nil)
		var b batch
		b.Acquire(o)
		b.Give(o)
		b.Take(o)
		b.Check(o)
		b.Release(o)
	}); got > 1 {
		t.Fatalf("unchecked hand-off allocates %v per run", got)
	}
}

// recorder collects violations for one test.
type recorder struct{ got []actor.Violation }

func (r *recorder) report(v actor.Violation) { r.got = append(r.got, v) }

func (r *recorder) want(t *testing.T, kinds ...actor.ViolationKind) {
	t.Helper()
	if !actor.Checked() {
		if len(r.got) != 0 {
			t.Fatalf("violations reported in an unchecked build: %v", r.got)
		}
		return
	}
	if len(r.got) != len(kinds) {
		t.Fatalf("violations %v, want kinds %v", r.got, kinds)
	}
	for i, k := range kinds {
		if r.got[i].Kind != k {
			t.Fatalf("violation %d = %v, want %v", i, r.got[i], k)
		}
	}
	r.got = nil
}

func TestHandOffViolations(t *testing.T) {
	var rec recorder
	a := actor.NewOwner("a", rec.report)
	b := actor.NewOwner("b", rec.report)
	c := actor.NewOwner("c", rec.report)

	var x batch
	x.Acquire(a)
	x.Check(a)
	x.Give(a)
	x.Take(b)
	rec.want(t) // a clean hand-off

	x.Check(a) // a gave it away
	rec.want(t, actor.UseAfterGive)
	x.Give(a)
	rec.want(t, actor.UseAfterGive)
	x.Take(c) // nobody gave it: b still owns it
	rec.want(t, actor.DoubleTake)
	x.Release(c)
	rec.want(t, actor.NotOwner)

	x.Give(b)
	x.Take(c)
	x.Take(a) // second take
	rec.want(t, actor.DoubleTake)

	var y batch
	y.Acquire(c)
	c.Close() // still owns x and y
	rec.want(t, actor.OwnedAtClose, actor.OwnedAtClose)

	var z batch
	z.Acquire(a)
	z.Give(a)
	z.Take(c) // c has closed
	rec.want(t, actor.TakeAfterClose)
	if actor.Checked() && a.Owns() != 0 {
		t.Fatalf("a owns %d", a.Owns())
	}
}

func TestOwnedAtActorExitIsReported(t *testing.T) {
	var rec recorder
	mb := actor.NewMailbox(actor.MailboxConfig[*batch]{})
	p := actor.Spawn(context.Background(), "keeper", actor.Func[*batch](func(ctx context.Context, in *actor.Inbox[*batch]) error {
		<-in.Ready()
		bs, _ := in.Drain(nil)
		for _, b := range bs {
			b.Take(in.Owner())
		}
		return nil // exits still owning them
	}), mb, actor.SpawnOptions{OnViolation: rec.report})
	me := actor.NewOwner("test", rec.report)
	b := &batch{}
	b.Acquire(me)
	if err := actor.Hand(context.Background(), me, mb.Ref(), b); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p)
	rec.want(t, ownedAtCloseIfChecked()...)
	// A hand to a stopped actor fails and leaves the value with the giver.
	c := &batch{}
	c.Acquire(me)
	if err := actor.Hand(context.Background(), me, mb.Ref(), c); err == nil {
		t.Fatal("hand to a stopped actor succeeded")
	}
	c.Check(me)
	c.Release(me)
	rec.want(t)
}

func ownedAtCloseIfChecked() []actor.ViolationKind {
	if actor.Checked() {
		return []actor.ViolationKind{actor.OwnedAtClose}
	}
	return nil
}
