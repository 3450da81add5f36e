package actor

import (
	"context"
	"sync/atomic"
)

// Inbox is an actor's own view of itself while its Run executes: the receiving side of
// its mailbox, and its ownership account. It belongs to the goroutine running
// Run; no other goroutine may call its methods.
//
// An actor that only waits for messages loops on Receive. One that also waits for timers
// or output channels selects on Ready together with them and its context, then takes
// everything queued in one Drain:
//
//	for {
//		select {
//		case <-ctx.Done():
//			return ctx.Err()
//		case <-in.Ready():
//			batch, closed = in.Drain(batch[:0])
//			handle(batch)
//			if closed {
//				return nil // drain stop: everything accepted has been handled
//			}
//		case <-ticker.C:
//			flush()
//		}
//	}
type Inbox[M any] struct {
	mb      *mailbox[M]
	ctx     context.Context // the actor's run context
	owner   *Owner
	healthy func()
	marked  atomic.Bool
}

// Receive is the plain receive loop's one call: it returns everything queued, waiting
// only if nothing is. It returns closed=true with the last messages once the mailbox is
// closed and empty (a drain stop: handle the batch, then return nil from Run), and the
// context's error once the actor's context is done. Waiting costs one channel receive, so
// an actor that needs no timers should use Receive rather than a select on Ready.
func (in *Inbox[M]) Receive(dst []M) (batch []M, closed bool, err error) {
	for {
		if err := in.ctx.Err(); err != nil {
			return dst, false, err
		}
		batch, closed = in.mb.drain(dst, 0)
		if len(batch) > len(dst) || closed {
			return batch, closed, nil
		}
		<-in.mb.ready // also signalled when the context is cancelled
	}
}

// Ready returns a channel that has a value whenever messages may be waiting, after the
// mailbox is closed, and after the actor's context is cancelled. A wake-up may find
// nothing to drain; that is harmless.
func (in *Inbox[M]) Ready() <-chan struct{} { return in.mb.ready }

// Drain appends every queued message to dst, oldest first, and returns the extended
// slice. closed reports that the mailbox is closed and now empty: nothing more will
// arrive, and once the actor has handled what Drain returned it should return nil from
// Run. Passing the previous batch as dst[:0] makes draining allocation-free.
func (in *Inbox[M]) Drain(dst []M) (batch []M, closed bool) { return in.mb.drain(dst, 0) }

// DrainMax is Drain limited to at most most messages (most > 0). If messages remain, a
// wake-up stays pending on Ready.
func (in *Inbox[M]) DrainMax(dst []M, most int) (batch []M, closed bool) {
	if most <= 0 {
		most = 1
	}
	return in.mb.drain(dst, most)
}

// Unread puts drained messages back at the head of the mailbox, in order and ignoring the
// capacity (they were accepted once already). An actor that cannot finish a batch (it
// was cancelled, or it is about to fail) unreads the rest so that they are processed by
// its next incarnation, or handed to OnDrop when the mailbox is discarded (at once, if it
// already has been: an actor that overran its stop and was given up on loses nothing).
func (in *Inbox[M]) Unread(ms []M) { in.mb.unread(ms) }

// Compact gives back the memory the mailbox grew for a burst, if nothing is queued now:
// the ring that holds queued messages grows by doubling to the deepest the queue has been
// and is otherwise kept, so a mailbox that once took 3000 messages at once holds room for
// 4096 for good. Compact drops it (the next send starts a small one again); with messages
// queued it does nothing. It costs a lock; an actor calls it when it goes idle (nothing
// queued, nothing outstanding), not on every wake-up of a busy loop, where regrowing the
// ring would be an allocation per burst.
func (in *Inbox[M]) Compact() { in.mb.compact() }

// Closed returns a channel closed once the mailbox stops accepting messages (a drain
// stop has begun). Messages may still be queued; Drain reports when they are gone.
func (in *Inbox[M]) Closed() <-chan struct{} { return in.mb.closedCh }

// Ref returns a handle to this actor's own mailbox, to give to others as a reply-to.
func (in *Inbox[M]) Ref() Ref[M] { return in.mb.Ref() }

// Owner is this incarnation's ownership account: values the actor takes by hand-off are
// taken on it, and anything it still owns when Run returns is reported in checked mode.
func (in *Inbox[M]) Owner() *Owner { return in.owner }

// MarkHealthy tells the actor's supervisor that this incarnation is up and working (for
// example, its connection is established). The supervisor then resets the actor's restart
// backoff and counts a success for its circuit breaker. Only the first call counts.
// Without a call, the supervisor decides by uptime.
func (in *Inbox[M]) MarkHealthy() {
	if in.healthy != nil && in.marked.CompareAndSwap(false, true) {
		in.healthy()
	}
}
