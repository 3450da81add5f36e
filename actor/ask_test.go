package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
)

type square struct {
	n     int
	reply actor.Reply[int]
}

func squarer(t *testing.T) (actor.Ref[square], *actor.Process) {
	t.Helper()
	ref, p := actor.Start(context.Background(), "squarer", actor.Receive(func(ctx context.Context, m square) error {
		if m.n < 0 {
			m.reply.Send(0, errors.New("negative"))
			return nil
		}
		m.reply.Send(m.n*m.n, nil)
		return nil
	}), actor.Options[square]{})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	return ref, p
}

func TestAskRoundTrip(t *testing.T) {
	ref, _ := squarer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) square { return square{n: 7, reply: r} })
	if err != nil || got != 49 {
		t.Fatalf("Ask = %d, %v", got, err)
	}
	if _, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) square { return square{n: -1, reply: r} }); err == nil {
		t.Fatal("replier's error not returned")
	}
}

func TestAskDeadlineAndLateReplyDoesNotBlock(t *testing.T) {
	held := make(chan actor.Reply[int], 1)
	ref, p := actor.Start(context.Background(), "slow", actor.Receive(func(ctx context.Context, m square) error {
		held <- m.reply // answer later
		return nil
	}), actor.Options[square]{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) square { return square{reply: r} })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ask past deadline: %v", err)
	}
	r := <-held
	if !r.Send(1, nil) { // nobody listens any more; must not block
		t.Fatal("first reply refused")
	}
	if r.Send(2, nil) {
		t.Fatal("second reply accepted")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := p.Stop(sctx); err != nil {
		t.Fatal(err)
	}
}

func TestAskTargetGoneReturnsErrStopped(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[square]{})
	started := make(chan struct{})
	p := actor.Spawn(context.Background(), "dies", actor.Func[square](func(ctx context.Context, in *actor.Inbox[square]) error {
		close(started)
		<-in.Ready() // takes nothing; exits leaving the request queued
		return errors.New("crashed")
	}), mb, actor.SpawnOptions{})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := actor.Ask(ctx, mb.Ref(), func(r actor.Reply[int]) square { return square{reply: r} })
	if !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Ask to an actor that died: %v", err)
	}
	waitDone(t, p)
	if _, err := actor.Ask(ctx, mb.Ref(), func(r actor.Reply[int]) square { return square{reply: r} }); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Ask to a stopped actor: %v", err)
	}
}
