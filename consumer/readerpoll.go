package consumer

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// Poll waits, bounded by ctx, until some of the reader's partitions have batches ready,
// and returns them: at most one per partition, the partitions visited in rotation. The
// caller owns them. Per partition, batches come in offset order, each record once.
//
// A batch with Err set carries no records: it reports one partition's error in its
// place among that partition's batches — a *TruncationError (ErrLogTruncated), after
// which the partition goes on, or a terminal error (*OutOfRangeError under ResetNone,
// *UnknownTopicError, *CorruptError, an authorization error), after which the reader no
// longer reads the partition. Errors of one partition never stop the others.
//
// Poll's own error ends the poll, not the reader's partitions: the context's cause,
// ErrClosed after Close, or ErrCaughtUp (see UntilCaughtUp).
func (r *Reader) Poll(ctx context.Context) ([]*Batch, error) {
	r.pollMu.Lock()
	defer r.pollMu.Unlock()
	for {
		r.mu.Lock()
		switch {
		case r.closed:
			r.mu.Unlock()
			return nil, ErrClosed
		case r.caughtUp():
			r.mu.Unlock()
			return nil, ErrCaughtUp
		case r.buf.ready():
			got := r.takeLocked()
			r.mu.Unlock()
			if out := r.decode(got); len(out) > 0 {
				return out, nil
			}
			continue // only position marks
		}
		r.mu.Unlock()
		select {
		case <-r.ready:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// takeLocked takes what Poll returns from the buffer, moving positions and prefetch
// counts on. r.mu is held.
func (r *Reader) takeLocked() []taken {
	got := r.buf.take(r.takenBuf[:0], 0)
	r.takenBuf = got
	before := r.bytes.Load()
	r.bytes.Store(r.buf.bytes)
	if budget := int64(r.cfg.MaxBufferedBytes); before >= budget && r.buf.bytes < budget {
		r.wakeHomesLocked() // back within the budget: fetch again
	}
	for _, t := range got {
		f := t.m.fetched
		switch {
		case f == nil:
		case len(f.batches) == 0 && f.err == nil:
			t.p.position.Store(f.next)
			r.done(t.p, f)
		default:
			// Stored before the count drops: a broker consumer that moves the position
			// on once nothing is held (advanced) comes after this.
			t.p.position.Store(f.next)
			if f.counted && t.p.held.Add(-1) == readerPrefetch-1 {
				t.p.wakeHome()
			}
		}
	}
	if r.slow.Load() {
		r.slow.Store(false)
		r.wakeHomesLocked() // its partitions may be fetched again
	}
	r.since = time.Time{}
	if r.buf.ready() {
		r.since = time.Now()
	}
	return got
}

// decode turns taken results into batches, on Poll's goroutine.
func (r *Reader) decode(got []taken) []*Batch {
	out := make([]*Batch, 0, len(got))
	for i, t := range got {
		got[i] = taken{}
		p := t.p
		switch {
		case t.m.notice != nil:
			n := t.m.notice
			n.own.Release(r.owner)
			out = append(out, n)
			if n.terminal {
				r.forget(p)
			}
		case t.m.fetched != nil && (len(t.m.fetched.batches) > 0 || t.m.fetched.err != nil):
			f := t.m.fetched
			b, err := decodeFetched(&r.dec, p.about.Topic, p.about.Partition, f)
			b.src = nil
			if err == nil {
				err = f.err
			}
			f.Release(r.owner)
			if len(b.Records) > 0 {
				out = append(out, b)
			}
			if err != nil {
				p.position.Store(b.NextOffset)
				out = append(out, &Batch{Topic: p.about.Topic, Partition: p.about.Partition, Err: err, terminal: true})
				p.failed(err)
				r.forget(p)
			}
		}
	}
	return out
}

// forget takes p, which failed, out of the reader.
func (r *Reader) forget(p *part) {
	r.c.mu.Lock()
	r.mu.Lock()
	r.forgetLocked(p)
	r.mu.Unlock()
	r.c.mu.Unlock()
}

// Batches iterates over what Poll returns, batch by batch. A partition's error is
// yielded with its batch (b.Err, see Poll) and the iteration goes on; Poll's own error
// ends it, yielded with a nil batch — except ErrCaughtUp, which ends it quietly.
func (r *Reader) Batches(ctx context.Context) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		for {
			bs, err := r.Poll(ctx)
			if errors.Is(err, ErrCaughtUp) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			for _, b := range bs {
				if !yield(b, b.Err) {
					return
				}
			}
		}
	}
}

// Records iterates over the reader's records one by one, on top of Batches. A
// partition's error is yielded with a nil record and the iteration goes on (the error
// names its partition); Poll's own error ends it, and ErrCaughtUp ends it quietly.
// Breaking out of the loop leaves the rest of the current batch undelivered.
func (r *Reader) Records(ctx context.Context) iter.Seq2[*troupe.Record, error] {
	return func(yield func(*troupe.Record, error) bool) {
		for b, err := range r.Batches(ctx) {
			if err != nil {
				if !yield(nil, err) {
					return
				}
				continue
			}
			for i := range b.Records {
				if !yield(&b.Records[i], nil) {
					return
				}
			}
		}
	}
}

// Partitions lists the partitions the reader reads, in no particular order.
func (r *Reader) Partitions() []About {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]About, 0, len(r.parts))
	for a := range r.parts {
		out = append(out, a)
	}
	return out
}

func (r *Reader) part(a About) *part {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parts[a]
}

// Position is partition a's position: the offset the next record Poll returns for it
// will have at least (the NextOffset of the last batch returned, or where reading
// starts); -1 while unknown or when the reader does not read a.
func (r *Reader) Position(a About) int64 {
	if p := r.part(a); p != nil {
		return p.position.Load()
	}
	return -1
}

// HighWaterMark is partition a's high-water mark as the last fetch response reported it;
// -1 before the first, or when the reader does not read a.
func (r *Reader) HighWaterMark(a About) int64 {
	if p := r.part(a); p != nil {
		return p.hwm.Load()
	}
	return -1
}

// Lag is how many offsets partition a's user is behind the end of what it may read
// (PartitionConsumer.Lag), or -1 while unknown or when the reader does not read a.
func (r *Reader) Lag(a About) int64 {
	p := r.part(a)
	if p == nil {
		return -1
	}
	end := p.hwm.Load()
	if r.cfg.IsolationLevel == ReadCommitted {
		end = p.lso.Load()
	}
	return lag(end, p.position.Load())
}

// Pause stops the given partitions: once Pause returns, Poll returns nothing of theirs
// until Resume, and they are no longer fetched (a fetch in flight may still bring one
// more result). What was fetched is kept and comes first after Resume: nothing is
// skipped, fetched twice or reordered. Partitions the reader does not read are ignored.
func (r *Reader) Pause(parts ...About) {
	for _, p := range r.setPaused(parts, true) {
		p.wakeHome() // its broker consumer hands it back to the dispatcher
	}
}

// Resume undoes Pause.
func (r *Reader) Resume(parts ...About) {
	r.setPaused(parts, false)
	r.disp.wake()
	signal(r.ready)
}

func (r *Reader) setPaused(parts []About, paused bool) []*part {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*part
	for _, a := range parts {
		if p := r.parts[a]; p != nil && r.buf.setPaused(p, paused) {
			p.paused.Store(paused)
			out = append(out, p)
		}
	}
	return out
}

// Paused reports whether partition a is paused.
func (r *Reader) Paused(a About) bool {
	p := r.part(a)
	return p != nil && p.paused.Load()
}

// Close stops reading every partition (Poll returns ErrClosed) and stops the reader's
// dispatcher. It returns once that has stopped, or with an error when ctx ends first.
// Close is idempotent; the Consumer's Close closes its readers too.
func (r *Reader) Close(ctx context.Context) error {
	if !r.shut() {
		return nil
	}
	err := r.c.parts.Remove(ctx, "dispatcher "+r.name)
	if errors.Is(err, actor.ErrStopped) || errors.Is(err, supervisor.ErrUnknownChild) {
		err = nil
	}
	return err
}

// shut marks the reader closed and stops its partitions; it reports whether this call
// did.
func (r *Reader) shut() bool {
	r.c.mu.Lock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.c.mu.Unlock()
		return false
	}
	var parts []*part
	for _, p := range r.parts {
		parts = append(parts, p)
		r.forgetLocked(p)
	}
	r.closed = true
	delete(r.c.readers, r)
	r.mu.Unlock()
	r.c.mu.Unlock()
	for _, p := range parts {
		p.stop()
	}
	signal(r.ready)
	return true
}
