package actor_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
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

// looker is an owner whose state lives outside its mailbox: it wakes on Ready, drains
// (nudges queue nothing) and records the shared counter it sees, as the consumer's
// dispatcher files lookups answered under a lock.
type looker struct {
	counter *atomic.Int64
	seen    atomic.Int64
	wakes   atomic.Int64
	gate    chan struct{} // closed to let Run start its loop
}

func (o *looker) Run(ctx context.Context, in *actor.Inbox[int]) error {
	if o.gate != nil {
		<-o.gate
	}
	var batch []int
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			o.wakes.Add(1)
			var closed bool
			batch, closed = in.Drain(batch[:0])
			o.seen.Store(o.counter.Load())
			if closed {
				return nil
			}
		}
	}
}

// TestNudgeIsNeverLost: goroutines write shared state and Nudge the owner, racing its
// wake-ups; once they are done and the owner is parked, it must have seen the last write.
// The coalescing flag the consumer used before Nudge (set by a waker, cleared by the
// owner on Ready before it drained) failed this in about a quarter of rounds under -race:
// a second waker set the flag after the clear and queued its message before the drain,
// which took both, leaving the flag set with nothing queued, so every later wake-up was
// skipped.
func TestNudgeIsNeverLost(t *testing.T) {
	for round := range 300 {
		synctest.Test(t, func(t *testing.T) {
			var counter atomic.Int64
			o := &looker{counter: &counter}
			ref, p := actor.Start(context.Background(), "looker", o, actor.Options[int]{})
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for k := range 200 {
						counter.Add(1)
						if k%3 == g%3 {
							runtime.Gosched() // vary where the nudges fall in the owner's loop
						}
						if err := ref.Nudge(); err != nil {
							t.Errorf("Nudge: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			synctest.Wait() // the owner is parked on Ready
			if seen, want := o.seen.Load(), counter.Load(); seen != want {
				t.Fatalf("round %d: the owner parked having seen %d of %d writes: a wake-up was lost", round, seen, want)
			}
			_ = p.Cancel(context.Background())
		})
	}
}

// TestNudgesCoalesce: nudges queue nothing and need no room; any number of them before
// the owner looks cost it one wake-up; a closed, suspended or zero mailbox refuses them
// as TrySend does.
func TestNudgesCoalesce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var counter atomic.Int64
		o := &looker{counter: &counter, gate: make(chan struct{})}
		ref, p := actor.Start(context.Background(), "looker", o, actor.Options[int]{Mailbox: actor.MailboxConfig[int]{Capacity: 1, Overflow: actor.Fail}})
		if err := ref.TrySend(1); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			counter.Add(1)
			if err := ref.Nudge(); err != nil {
				t.Fatalf("Nudge into a full mailbox: %v", err)
			}
		}
		close(o.gate)
		synctest.Wait()
		if w, s := o.wakes.Load(), o.seen.Load(); w != 1 || s != 100 {
			t.Fatalf("100 nudges and a message before the owner looked: %d wake-ups, saw %d writes; want 1 and 100", w, s)
		}
		if err := ref.Nudge(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if w := o.wakes.Load(); w != 2 {
			t.Fatalf("a nudge to a parked owner: %d wake-ups in all, want 2", w)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := ref.Nudge(); !errors.Is(err, actor.ErrStopped) {
			t.Fatalf("Nudge after Stop: %v, want ErrStopped", err)
		}
	})
	if err := (actor.Ref[int]{}).Nudge(); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Nudge of the zero Ref: %v, want ErrStopped", err)
	}
	mb := actor.NewMailbox(actor.MailboxConfig[int]{})
	mb.Suspend(errors.Join(actor.ErrUnavailable, errors.New("breaker open")))
	if err := mb.Ref().Nudge(); !errors.Is(err, actor.ErrUnavailable) {
		t.Fatalf("Nudge while suspended: %v, want ErrUnavailable", err)
	}
	mb.Resume()
	if err := mb.Ref().Nudge(); err != nil || mb.Len() != 0 {
		t.Fatalf("Nudge after Resume: %v, %d queued; want nil and none", err, mb.Len())
	}
}
