package consumer

import (
	"context"
	"sync"
	"sync/atomic"
)

// handoff is where a partition's feeder hands batches to the partition's user: a cell
// with room for one batch, guarded by a mutex, with wake-up channels each way. It also
// holds the partition's user-visible state — paused, closed, failed — under the same
// mutex, which is what makes Pause exact: once Pause has returned, neither Next nor the
// feeder (when it hands batches to a stage, see tryStage) hands over anything until
// Resume.
//
// Owner: the PartitionConsumer; the feeder puts, the user's goroutines take.
type handoff struct {
	mu     sync.Mutex
	item   *Batch // offered by the feeder, not yet taken
	paused bool
	closed bool
	failed error // terminal: returned by Next once nothing is left before it

	position *atomic.Int64 // the partition's Position, moved on at each take

	offered chan struct{} // capacity 1: an item was offered, or the state changed
	taken   chan struct{} // capacity 1: the item was taken (the feeder waits on it)
	done    chan struct{} // closed once closed or failed
}

func newHandoff(position *atomic.Int64) *handoff {
	return &handoff{position: position, offered: make(chan struct{}, 1), taken: make(chan struct{}, 1), done: make(chan struct{})}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// offer puts b in the cell for the user. It returns false, leaving b with the caller,
// when the partition is closed or the cell is not empty.
func (h *handoff) offer(b *Batch) bool {
	h.mu.Lock()
	if h.closed || h.item != nil {
		h.mu.Unlock()
		return false
	}
	h.item = b
	h.mu.Unlock()
	signal(h.offered)
	return true
}

// withdraw takes back the item the feeder offered, if the user has not taken it. A
// feeder that fails calls it so that its successor can deliver the batch again without
// the user seeing it twice.
func (h *handoff) withdraw() *Batch {
	h.mu.Lock()
	b := h.item
	h.item = nil
	h.mu.Unlock()
	return b
}

// holds reports whether b is still in the cell, not taken.
func (h *handoff) holds(b *Batch) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.item == b
}

// next is Next: it waits, bounded by ctx, for a batch the partition is not paused for,
// and takes it. A batch carrying an error is returned as that error; a terminal one
// also fails the handoff, so every later call returns it.
func (h *handoff) next(ctx context.Context) (*Batch, error) {
	for {
		h.mu.Lock()
		switch {
		case h.closed:
			h.mu.Unlock()
			return nil, ErrClosed
		case h.item != nil && !h.paused:
			b := h.item
			h.item = nil
			if b.terminal {
				h.failLocked(b.Err)
			}
			if b.Err == nil {
				h.position.Store(b.NextOffset)
			}
			h.mu.Unlock()
			signal(h.taken)
			if b.Err != nil {
				return nil, b.Err
			}
			return b, nil
		case h.item == nil && h.failed != nil:
			err := h.failed
			h.mu.Unlock()
			return nil, err
		}
		h.mu.Unlock()
		select {
		case <-h.offered:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// tryStage runs send (a non-blocking hand-over to a stage) unless the partition is
// paused or closed, and reports whether it ran. Holding the mutex around it orders it
// with Pause.
func (h *handoff) tryStage(send func() error) (ran bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.paused || h.closed {
		return false, nil
	}
	return true, send()
}

// setPaused pauses or resumes delivery.
func (h *handoff) setPaused(p bool) {
	h.mu.Lock()
	h.paused = p
	h.mu.Unlock()
	signal(h.offered) // a Next waiting on a held batch looks again
}

func (h *handoff) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *handoff) isPaused() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.paused
}

// close ends delivery: Next returns ErrClosed from now on. It reports whether this call
// closed it.
func (h *handoff) close() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.closed = true
	if h.failed == nil {
		close(h.done)
	}
	signal(h.offered)
	return true
}

// fail ends the partition with a terminal error (unless it is closed or failed already)
// and reports whether this call did.
func (h *handoff) fail(err error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.failed != nil {
		return false
	}
	h.failLocked(err)
	signal(h.offered)
	return true
}

func (h *handoff) failLocked(err error) {
	if h.failed == nil && !h.closed {
		h.failed = err
		close(h.done)
	}
}

// err is the terminal error, ErrClosed, or nil while the partition runs.
func (h *handoff) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed != nil {
		return h.failed
	}
	if h.closed {
		return ErrClosed
	}
	return nil
}
