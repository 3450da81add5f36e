package actor_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// ticker is an actor that batches what it receives and flushes on a timer: the shape of
// an aggregator. Under testing/synctest its timing is exact.
type ticker struct {
	every   time.Duration
	flushed chan []int
}

func (a *ticker) Run(ctx context.Context, in *actor.Inbox[int]) error {
	t := time.NewTicker(a.every)
	defer t.Stop()
	var pending, batch []int
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			pending = append(pending, batch...)
			if closed {
				a.flushed <- pending
				return nil
			}
		case <-t.C:
			if len(pending) > 0 {
				a.flushed <- pending
				pending = nil
			}
		}
	}
}

func TestWorksUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &ticker{every: 10 * time.Millisecond, flushed: make(chan []int, 10)}
		ref, p := actor.Start(context.Background(), "ticker", a, actor.Options[int]{})
		start := time.Now()
		_, _ = ref.SendBatch(context.Background(), []int{1, 2, 3})
		got := <-a.flushed
		if len(got) != 3 || time.Since(start) != 10*time.Millisecond {
			t.Fatalf("flushed %v after %v", got, time.Since(start))
		}
		_ = ref.Send(context.Background(), 4)
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := <-a.flushed; len(got) != 1 || got[0] != 4 {
			t.Fatalf("drain stop flushed %v", got)
		}
		// A stop deadline in fake time: the stubborn actor is reported after exactly 1s.
		release := make(chan struct{})
		_, stubborn := actor.Start(context.Background(), "stubborn", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
			<-release
			return nil
		}), actor.Options[int]{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		begin := time.Now()
		if err := stubborn.Stop(ctx); err == nil || time.Since(begin) != time.Second {
			t.Fatalf("stop of a stubborn actor: %v after %v", err, time.Since(begin))
		}
		close(release)
		<-stubborn.Done()
	})
}

// TestBeginStopReturnsAtOnce: BeginStop closes the mailbox and returns while the actor is
// still draining; Done closes when it has drained. BeginCancel cuts a drain short: the
// actor's context is cancelled and its end counts as normal.
func TestBeginStopReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		handled := 0
		slow := actor.Receive(func(ctx context.Context, m int) error {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			handled++
			return nil
		})
		ref, p := actor.Start(context.Background(), "slow", slow, actor.Options[int]{})
		for i := range 3 {
			if err := ref.TrySend(i); err != nil {
				t.Fatal(err)
			}
		}
		p.BeginStop()
		if err := ref.TrySend(9); !errors.Is(err, actor.ErrStopped) {
			t.Fatalf("send after BeginStop: %v, want ErrStopped", err)
		}
		synctest.Wait()
		select {
		case <-p.Done():
			t.Fatal("the actor exited before draining what it was sent")
		default:
		}
		close(release)
		<-p.Done()
		if p.Err() != nil || handled != 3 {
			t.Fatalf("drained %d of 3, ended with %v", handled, p.Err())
		}

		ref, p = actor.Start(context.Background(), "stuck", actor.Receive(func(ctx context.Context, m int) error {
			<-ctx.Done()
			return ctx.Err()
		}), actor.Options[int]{})
		_ = ref.TrySend(1)
		p.BeginStop()
		synctest.Wait()
		p.BeginCancel()
		<-p.Done()
		if p.Err() != nil || p.State() != actor.Stopped {
			t.Fatalf("a cancelled drain ended %v in state %v, want a normal stop", p.Err(), p.State())
		}
	})
}
