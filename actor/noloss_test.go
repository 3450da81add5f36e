package actor_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/troupe-go/troupe/actor"
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
	p := actor.Spawn(context.Background(), "poisoned", actor.Receive(poisonous), mb, actor.Options{KeepMailbox: true})
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
	p = actor.Spawn(context.Background(), "poisoned", actor.Receive(poisonous), mb, actor.Options{})
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
	}), mb, actor.Options{KeepMailbox: true})
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
	}), mb, actor.Options{KeepMailbox: true})
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
