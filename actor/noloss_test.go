package actor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/actorhook"
	"pgregory.net/rapid"
)

// drops records what a mailbox's OnDrop received.
type drops[M any] struct {
	mu  sync.Mutex
	got []M
}

func (d *drops[M]) add(m M) {
	d.mu.Lock()
	d.got = append(d.got, m)
	d.mu.Unlock()
}

func (d *drops[M]) all() []M {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

// queued returns a mailbox holding 1..n, all accepted before any actor runs, so that the
// first Receive takes them in one batch.
func queued(t *testing.T, n int, d *drops[int]) *actor.Mailbox[int] {
	t.Helper()
	mb := actor.NewMailbox(actor.MailboxConfig[int]{OnDrop: d.add})
	for i := 1; i <= n; i++ {
		if err := mb.Ref().TrySend(i); err != nil {
			t.Fatal(err)
		}
	}
	return mb
}

// TestReceivePanicUnreadsTheRestAndDropsThePoison: when a Receive handler panics, the
// message it panicked on goes to OnDrop once, the rest of the batch is put back in order
// for the next incarnation, and nothing is handled twice.
func TestReceivePanicUnreadsTheRestAndDropsThePoison(t *testing.T) {
	d := &drops[int]{}
	mb := queued(t, 10, d)
	var handled []int
	poisonous := func(ctx context.Context, m int) error {
		if m == 5 {
			panic("poison")
		}
		handled = append(handled, m)
		return nil
	}
	p := actor.Spawn(context.Background(), "poisoned", actor.Receive(poisonous), mb, supervised(actorhook.Supervision{KeepMailbox: true}))
	waitDone(t, p)
	if !errors.Is(p.Err(), actor.ErrPanic) {
		t.Fatalf("actor ended with %v, want a panic", p.Err())
	}
	if got := d.all(); !slices.Equal(got, []int{5}) {
		t.Fatalf("OnDrop got %v, want the poison message [5] once", got)
	}
	if mb.Len() != 5 {
		t.Fatalf("%d messages queued after the panic, want the 5 after the poison", mb.Len())
	}
	// The next incarnation handles the rest; the poison message is not retried.
	p = actor.Spawn(context.Background(), "poisoned", actor.Receive(poisonous), mb, actor.SpawnOptions{})
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3, 4, 6, 7, 8, 9, 10}; !slices.Equal(handled, want) {
		t.Fatalf("handled %v, want %v", handled, want)
	}
	if got := d.all(); !slices.Equal(got, []int{5}) {
		t.Fatalf("OnDrop got %v, want [5]", got)
	}
}

// TestReceiveBatchPanicReportsTheBatchOnce: a ReceiveBatch handler that panics cannot say
// which message it panicked on, so the whole batch it was given goes to OnDrop, once, and
// is not retried; what was queued after it is kept.
func TestReceiveBatchPanicReportsTheBatchOnce(t *testing.T) {
	d := &drops[int]{}
	mb := queued(t, 5, d)
	var calls [][]int
	p := actor.Spawn(context.Background(), "batches", actor.ReceiveBatch(func(ctx context.Context, batch []int) error {
		calls = append(calls, slices.Clone(batch))
		if slices.Contains(batch, 3) {
			panic("poison in the batch")
		}
		return nil
	}), mb, supervised(actorhook.Supervision{KeepMailbox: true}))
	waitDone(t, p)
	if !errors.Is(p.Err(), actor.ErrPanic) {
		t.Fatalf("actor ended with %v, want a panic", p.Err())
	}
	if got := d.all(); !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("OnDrop got %v, want the panicking batch [1 2 3 4 5] once", got)
	}
	if mb.Len() != 0 || len(calls) != 1 {
		t.Fatalf("queued %d, calls %v: the panicking batch must not be retried", mb.Len(), calls)
	}
	mb.Discard()
	if got := d.all(); len(got) != 5 {
		t.Fatalf("OnDrop got %v after Discard, want nothing more", got)
	}
}

// TestUnreadAfterDiscardGoesToOnDrop: an actor that outlived its mailbox (a stop that
// timed out, then a discard) and puts messages back hands them to OnDrop instead of
// leaving them where nothing will ever take them.
func TestUnreadAfterDiscardGoesToOnDrop(t *testing.T) {
	d := &drops[int]{}
	mb := queued(t, 3, d)
	took := make(chan struct{})
	release := make(chan struct{})
	p := actor.Spawn(context.Background(), "late", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		batch, _ := in.Drain(nil)
		close(took)
		<-release // ignores its context: it overruns its stop
		in.Unread(batch)
		return nil
	}), mb, supervised(actorhook.Supervision{KeepMailbox: true}))
	<-took
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Cancel(ctx); !errors.Is(err, actor.ErrStopTimeout) {
		t.Fatalf("cancel returned %v, want a stop timeout", err)
	}
	mb.Discard() // its owner gives up on it
	close(release)
	waitDone(t, p)
	if got := d.all(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("OnDrop got %v, want [1 2 3]", got)
	}
}

// outcome is what a property test's handler does with a message.
type outcome uint8

const (
	ok outcome = iota
	fails
	panics
)

// ledger records, per message, how many handler invocations it was passed to, how many
// of them returned (nil or an error), and how many times OnDrop reported it.
type ledger struct {
	mu                        sync.Mutex
	passed, returned, dropped map[int]int
	drops                     int // OnDrop calls so far
}

func newLedger() *ledger {
	return &ledger{passed: map[int]int{}, returned: map[int]int{}, dropped: map[int]int{}}
}

func (l *ledger) note(of map[int]int, ms ...int) {
	l.mu.Lock()
	for _, m := range ms {
		of[m]++
	}
	l.mu.Unlock()
}

func (l *ledger) drop(m int) {
	l.mu.Lock()
	l.dropped[m]++
	l.drops++
	l.mu.Unlock()
}

func (l *ledger) dropCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.drops
}

// check returns what breaks the guarantee of docs/actor.md: every accepted message is
// passed to at most one handler invocation and ends exactly once, either in an invocation
// that returned (nil or an error) or in one report through OnDrop (never passed to a
// handler, or passed to one that panicked); no message that was refused appears.
func (l *ledger) check(accepted []int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	acc := make(map[int]bool, len(accepted))
	for _, m := range accepted {
		acc[m] = true
		p, r, d := l.passed[m], l.returned[m], l.dropped[m]
		if p > 1 || !(r == 1 && d == 0 || r == 0 && d == 1) {
			return fmt.Sprintf("message %d: passed to %d invocations, %d returned, reported %d times", m, p, r, d)
		}
	}
	for _, of := range []map[int]int{l.passed, l.dropped} {
		for m := range of {
			if !acc[m] {
				return fmt.Sprintf("message %d was refused but appeared", m)
			}
		}
	}
	return ""
}

// handlers returns a Receive or a ReceiveBatch actor that records in l and does with each
// message what outcomes says. A batch handler panics if any message of its batch is to
// panic, else fails if any is to fail.
func handlers(batch bool, l *ledger, outcomes []outcome, progress chan<- struct{}) actor.Actor[int] {
	if !batch {
		return actor.Receive(func(ctx context.Context, m int) error {
			l.note(l.passed, m)
			progress <- struct{}{}
			switch outcomes[m] {
			case panics:
				panic(m)
			case fails:
				l.note(l.returned, m)
				return errors.New("fails")
			}
			l.note(l.returned, m)
			return nil
		})
	}
	return actor.ReceiveBatch(func(ctx context.Context, b []int) error {
		l.note(l.passed, b...)
		progress <- struct{}{}
		worst := ok
		for _, m := range b {
			worst = max(worst, outcomes[m])
		}
		if worst == panics {
			panic(b[0])
		}
		l.note(l.returned, b...)
		if worst == fails {
			return errors.New("fails")
		}
		return nil
	})
}

// TestPropertyEveryAcceptedMessageEndsOnce runs a Receive or ReceiveBatch actor whose
// handler succeeds, fails or panics per message, on a mailbox that outlives its
// incarnations, with an owner that plays a minimal supervisor: it restarts a failed
// incarnation until a restart budget runs out (then gives up and discards the mailbox),
// and at a random point drain-stops or cancel-stops it (then discards the mailbox, as a
// Process does; an incarnation failing during the drain is not restarted). A concurrent
// sender mixes Send, TrySend and SendBatch. Every accepted message must end exactly once
// (ledger.check), and a drain stop that returns nil must have reported nothing (unless
// DropOldest made room for a concurrent send meanwhile).
func TestPropertyEveryAcceptedMessageEndsOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		batch := rapid.Bool().Draw(rt, "batchHandler")
		capacity := rapid.IntRange(1, 32).Draw(rt, "capacity")
		overflow := actor.Block
		if rapid.IntRange(0, 4).Draw(rt, "dropOldest") == 0 {
			overflow = actor.DropOldest
		}
		n := rapid.IntRange(0, 200).Draw(rt, "messages")
		outcomes := make([]outcome, n)
		for i, o := range rapid.SliceOfN(rapid.IntRange(0, 19), n, n).Draw(rt, "outcomes") {
			switch o {
			case 0:
				outcomes[i] = fails
			case 1:
				outcomes[i] = panics
			}
		}
		modes := rapid.SliceOfN(rapid.IntRange(0, 2), n, n).Draw(rt, "sendModes")
		restarts := rapid.IntRange(0, 8).Draw(rt, "restartBudget")
		stopAfter := rapid.IntRange(0, n+1).Draw(rt, "stopAfterInvocations")
		drain := rapid.Bool().Draw(rt, "drainStop")

		l := newLedger()
		mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: capacity, Overflow: overflow, OnDrop: l.drop})
		ref := mb.Ref()

		var accepted []int
		sent := make(chan struct{})
		go func() { // the sender: stops at the first refusal (the mailbox is closed for good)
			defer close(sent)
			ctx := context.Background()
			for i := 0; i < n; i++ {
				switch modes[i] {
				case 0:
					if ref.Send(ctx, i) != nil {
						return
					}
				case 1:
					for {
						err := ref.TrySend(i)
						if err == nil {
							break
						}
						if !errors.Is(err, actor.ErrFull) {
							return
						}
						select {
						case <-ref.Room():
						case <-ref.Done():
						}
					}
				case 2:
					end := min(n, i+4)
					ms := make([]int, 0, end-i)
					for j := i; j < end; j++ {
						ms = append(ms, j)
					}
					k, err := ref.SendBatch(ctx, ms)
					accepted = append(accepted, ms[:k]...)
					if err != nil {
						return
					}
					i = end - 1
					continue
				}
				accepted = append(accepted, i)
			}
		}()

		progress := make(chan struct{}, n+1)
		spawn := func() *actor.Process {
			return actor.Spawn(context.Background(), "prop", handlers(batch, l, outcomes, progress), mb, supervised(actorhook.Supervision{KeepMailbox: true}))
		}
		p := spawn()
		invocations := 0
		senderDone := sent
		deadline := time.After(20 * time.Second)
	owner:
		for {
			if invocations >= stopAfter || senderDone == nil {
				// The stop point: after stopAfter invocations, or once everything is sent.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var err error
				if drain {
					before := l.dropCount()
					err = p.Stop(ctx)
					if err == nil && overflow == actor.Block && l.dropCount() != before {
						cancel()
						rt.Fatalf("a drain stop returned nil but reported %d messages", l.dropCount()-before)
					}
				} else {
					err = p.Cancel(ctx)
				}
				cancel()
				if errors.Is(err, actor.ErrStopTimeout) {
					rt.Fatalf("stop timed out: %v", err)
				}
				mb.Discard() // the owner is done with it: anything left goes to OnDrop
				break owner
			}
			select {
			case <-progress:
				invocations++
			case <-senderDone:
				senderDone = nil
			case <-p.Done():
				if p.Err() == nil {
					rt.Fatalf("incarnation ended normally without a stop")
				}
				if restarts == 0 {
					mb.Discard() // the owner gives up, as a supervisor past its intensity
					break owner
				}
				restarts--
				p = spawn()
			case <-deadline:
				rt.Fatalf("no progress: %d invocations", invocations)
			}
		}
		<-p.Done()
		select {
		case <-sent:
		case <-time.After(10 * time.Second):
			rt.Fatalf("the sender is stuck after the mailbox was discarded")
		}
		if bad := l.check(accepted); bad != "" {
			rt.Fatalf("%s", bad)
		}
	})
}
