package actor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Reply is the replier's half of a request made with Ask: it has room for exactly one
// answer, so replying never blocks, even when the asker has stopped waiting.
type Reply[T any] struct {
	c   *replyCell[T]
	gen uint64
}

// replyCell carries one answer from a replier to an asker. Cells are recycled per mailbox
// once their answer has been read, so a steady stream of Asks allocates nothing; the
// generation in state makes a Reply from an earlier use powerless. A cell whose asker gave
// up (deadline, target gone) is never recycled: a late answer lands in it and is dropped
// with it.
type replyCell[T any] struct {
	state atomic.Uint64 // generation<<1 | answered
	ch    chan struct{} // capacity 1: receives a token once v and err are set
	v     T
	err   error
}

// Send delivers the answer (v, err). It never blocks. It returns false if an answer was
// already sent (only the first counts), the asker has moved on to another request, or the
// Reply is the zero value.
func (r Reply[T]) Send(v T, err error) bool {
	if r.c == nil || !r.c.state.CompareAndSwap(r.gen<<1, r.gen<<1|1) {
		return false
	}
	r.c.v, r.c.err = v, err
	r.c.ch <- struct{}{} // the one winner of the CompareAndSwap: the buffer is free
	return true
}

// Ask sends to the actor behind to the message that request builds around a fresh Reply,
// and waits for the answer. The wait is bounded by ctx: give it a deadline. Ask returns
// the replier's answer; the send's error (ErrStopped, ErrFull, ErrUnavailable, ...);
// ErrStopped if the target exits for good with the request unanswered; or the context's
// error. An answer that comes after Ask gave up is dropped without blocking the replier.
//
// Ask allocates nothing in the steady state: reply cells are recycled per target mailbox
// for the first reply type asked of it (other reply types allocate one cell per call).
func Ask[M, T any](ctx context.Context, to Ref[M], request func(Reply[T]) M) (T, error) {
	var zero T
	if to.mb == nil {
		return zero, ErrStopped
	}
	pool := replyPoolFor[M, T](to.mb)
	c := pool.get()
	gen := c.state.Load() >> 1
	if err := to.Send(ctx, request(Reply[T]{c: c, gen: gen})); err != nil {
		pool.put(c, gen) // nobody received the Reply
		return zero, err
	}
	select {
	case <-c.ch:
		return pool.take(c, gen)
	case <-ctx.Done():
		return zero, fmt.Errorf("actor %q: ask: %w", to.Name(), context.Cause(ctx))
	case <-to.Done():
		select {
		case <-c.ch: // answered just before the end
			return pool.take(c, gen)
		default:
			return zero, ErrStopped
		}
	}
}

// replyPool recycles reply cells of one answer type.
type replyPool[T any] struct {
	cells sync.Pool
}

func (p *replyPool[T]) get() *replyCell[T] {
	if p != nil {
		if c, ok := p.cells.Get().(*replyCell[T]); ok {
			return c
		}
	}
	return &replyCell[T]{ch: make(chan struct{}, 1)}
}

// take reads the answer out of c and recycles it.
func (p *replyPool[T]) take(c *replyCell[T], gen uint64) (T, error) {
	v, err := c.v, c.err
	p.put(c, gen)
	return v, err
}

// put advances c to the next generation, so Replies of this one can no longer answer,
// and returns it to the pool.
func (p *replyPool[T]) put(c *replyCell[T], gen uint64) {
	var zero T
	c.v, c.err = zero, nil
	c.state.Store((gen + 1) << 1)
	if p != nil {
		p.cells.Put(c)
	}
}

// replyPoolFor returns mb's reply pool for answer type T: the first type asked of a
// mailbox gets the pool; nil for other types.
func replyPoolFor[M, T any](mb *mailbox[M]) *replyPool[T] {
	for {
		if box := mb.replies.Load(); box != nil {
			p, _ := (*box).(*replyPool[T])
			return p
		}
		var box any = &replyPool[T]{}
		mb.replies.CompareAndSwap(nil, &box)
	}
}
