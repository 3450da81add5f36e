package consumer

import (
	"context"
	"errors"
	"iter"
	"slices"
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
// Poll never returns a batch of a partition removed before it hands its batches over,
// even when Remove runs at the same time: see Remove.
//
// Poll's own error ends the poll, not the reader's partitions: the context's cause,
// ErrClosed after Close, or ErrCaughtUp (see UntilCaughtUp).
func (r *Reader) Poll(ctx context.Context) ([]*Batch, error) {
	for {
		r.pollMu.Lock()
		r.mu.Lock()
		switch {
		case r.closed:
			r.mu.Unlock()
			r.pollMu.Unlock()
			return nil, ErrClosed
		case r.caughtUp():
			r.mu.Unlock()
			r.pollMu.Unlock()
			return nil, ErrCaughtUp
		case r.buf.ready():
			got := r.takeLocked()
			r.mu.Unlock()
			ds := r.decode(got)
			limitRecords(ds, r.cfg.MaxPollRecords)
			out, ended := r.deliver(ds)
			if len(got) > keptPollRoom {
				// A poll of thousands of partitions: their room is not kept for the next
				// (an idle reader of many partitions would hold it for nothing).
				r.takenBuf, r.decodedBuf = nil, nil
			}
			r.pollMu.Unlock()
			r.end(ended) // not under pollMu: it emits events, and Remove waits on pollMu
			if len(out) > 0 {
				return out, nil
			}
			continue // only position marks, or batches of partitions removed meanwhile
		}
		if r.slow.Load() {
			// The caller is back and nothing is ready: what made the reader slow was
			// removed meanwhile (a group's rebalance). Left slow, its partitions would
			// stay out of fetches, nothing would become ready, and this Poll would wait
			// for ever.
			r.slow.Store(false)
			r.wakeHomesLocked()
		}
		r.since = time.Time{}
		r.mu.Unlock()
		r.pollMu.Unlock()
		select {
		case <-r.ready:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// Release gives batches Poll returned back to the reader, once the caller is done with
// their records: the reader decodes later batches into their record slices instead of
// allocating new ones, which saves the allocation, its clearing and the collector's work
// for each batch (about a fifth of the reader's CPU at a few partitions of large batches:
// docs/benchmarks.md, *Records given back*), and once every batch of a fetch response
// has been given back, a later response is read into that response's buffer (a quarter
// of what was left). It is optional; batches not given back are left to the collector as
// usual.
//
// After Release, the batches' Records are nil and the records they held must not be used
// again, nor anything read from them without a copy: not the Records, not pointers to
// them, not their Key, Value or Headers (those alias the fetch response, which a later
// response may be read into). Releasing a batch twice, a nil batch, a batch of
// another reader or a PartitionConsumer's is harmless; a batch split by MaxPollRecords is
// not taken back (its parts share memory). Release may be called from any goroutine.
func (r *Reader) Release(bs ...*Batch) {
	for _, b := range bs {
		if b == nil || !b.pooled {
			continue
		}
		recs, fr := b.Records, b.frame
		b.Records, b.pooled, b.frame = nil, false, nil
		r.slices.put(recs) // cleared: nothing of the reader refers to the response any longer
		if fr != nil {
			fr.done()
		}
	}
}

// keptPollRoom is the most results whose room Poll keeps for the next poll.
const keptPollRoom = 256

// takeLocked takes what Poll returns from the buffer, applying the position marks among
// it. The other results stay counted against their partitions' prefetch, and their
// positions unmoved, until deliver. r.mu is held.
func (r *Reader) takeLocked() []taken {
	got := r.buf.take(r.takenBuf[:0], r.cfg.MaxPollRecords)
	r.takenBuf = got
	before := r.bytes.Load()
	r.bytes.Store(r.buf.bytes)
	res := r.reserved.Load()
	if budget := int64(r.cfg.MaxBufferedBytes); before+res >= budget && r.buf.bytes+res < budget {
		r.wakeHomesLocked() // back within the budget: fetch again
	}
	for _, t := range got {
		if f := t.m.fetched; isMark(t.m) {
			t.p.position.Store(f.next)
			r.done(t.p, f)
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

// decoded is one taken result made ready for the caller, not yet delivered.
type decoded struct {
	p       *part
	b       *Batch // records; nil if there were none
	errb    *Batch // a notice, or the terminal error after b; nil if none
	next    int64  // the position after b
	counted bool   // it counts against p's prefetch
	moves   bool   // b (or errb) moves p's position to next
	fails   bool   // errb is an error found here (corrupt data): p fails with it
	bytes   int64  // the records bytes of the result, as the budget counted them
	// rest is the part of the result this Poll does not return, because the records
	// before it reached Config.MaxPollRecords: it goes back to the head of p's queue,
	// counted in the budget by its share of the result's bytes, and a later Poll returns
	// it (or the part of it that fits) as it is, without decoding again. It owns
	// nothing: the fetch result is released, and its records alias the fetch response
	// as any batch's do.
	rest *decoded
}

// records is how many records d returns.
func (d *decoded) records() int {
	if d.b == nil {
		return 0
	}
	return len(d.b.Records)
}

// limitRecords cuts ds, in order, to at most limit records (0: no limit). The result
// that crosses the limit returns its first records, up to it, as a batch that ends
// after the last of them (its NextOffset, and so the partition's position, is that
// record's offset + 1); the rest of it, with the error notice that followed it if any,
// goes in its rest. A result after the limit is reached, other than a records-less
// notice, keeps nothing to return: the whole of it is its rest. The prefetch count a
// result holds stays held until its last part is returned.
func limitRecords(ds []decoded, limit int) {
	if limit <= 0 {
		return
	}
	left := limit
	for i := range ds {
		d := &ds[i]
		if n := d.records(); n <= left {
			left -= n
			continue
		}
		d.cut(left)
		left = 0
	}
}

// cut keeps d's first k records (k < len(d.b.Records)) to return, and moves the rest of
// d into d.rest.
func (d *decoded) cut(k int) {
	recs := d.b.Records
	tail := &Batch{
		Topic: d.b.Topic, Partition: d.b.Partition, Records: recs[k:], NextOffset: d.b.NextOffset,
		HighWaterMark: d.b.HighWaterMark, LastStableOffset: d.b.LastStableOffset, LogStartOffset: d.b.LogStartOffset,
	}
	rest := d.bytes * int64(len(recs)-k) / int64(len(recs))
	d.rest = &decoded{p: d.p, b: tail, errb: d.errb, next: d.next, counted: d.counted, moves: d.moves, fails: d.fails, bytes: rest}
	d.errb, d.counted, d.fails, d.bytes = nil, false, false, d.bytes-rest
	if k == 0 {
		d.b, d.moves = nil, false
		return
	}
	d.b.Records = recs[:k:k] // the caller may append without writing over the rest
	d.b.pooled = false       // its array is the rest's too: never given back
	d.b.NextOffset = recs[k-1].Offset + 1
	d.next = d.b.NextOffset
}

// decode turns taken results into batches, on Poll's goroutine, without the reader's
// lock: the broker consumers go on pushing meanwhile. pollMu is held (it owns dec).
func (r *Reader) decode(got []taken) []decoded {
	out := r.decodedBuf[:0]
	for i, t := range got {
		got[i] = taken{}
		p := t.p
		switch {
		case t.m.notice != nil:
			n := t.m.notice
			n.own.Release(r.owner)
			out = append(out, decoded{p: p, errb: n})
		case t.m.rest != nil:
			out = append(out, *t.m.rest)
		case t.m.fetched != nil && !isMark(t.m):
			f := t.m.fetched
			b, err := decodeFetched(&r.dec, &r.slices, p.about.Topic, p.about.Partition, f)
			b.src = nil
			if err == nil {
				err = f.err
			}
			d := decoded{p: p, next: b.NextOffset, counted: f.counted, moves: true, bytes: resultBytes(t.m)}
			f.Release(r.owner)
			if len(b.Records) > 0 {
				d.b = b
			} else if b.frame != nil {
				b.frame.done() // nothing decoded from it is handed out
				b.frame = nil
			}
			if err != nil {
				d.errb = &Batch{Topic: p.about.Topic, Partition: p.about.Partition, Err: err, terminal: true}
				d.fails = true
			}
			out = append(out, d)
		}
	}
	r.decodedBuf = out
	return out
}

// deliver hands decoded results over, under the reader's lock: the batches of partitions
// still read are returned, and their positions and prefetch counts move on; those of
// partitions removed since they were taken are dropped, positions unmoved, so that a
// partition's last position is the offset after the last batch a Poll returned (see
// Remove). It returns the batches, and the results that end their partitions (for end).
// pollMu is held.
func (r *Reader) deliver(ds []decoded) ([]*Batch, []decoded) {
	var out []*Batch
	var ended []decoded
	unshifted := false
	r.mu.Lock()
	for i := range ds {
		d := &ds[i]
		p := d.p
		r.buf.delivered(p)
		if !r.buf.has(p) {
			// Removed (or closed) meanwhile: dropped. Its prefetch count stays taken, so
			// that its broker consumer, until it lets go, never moves the position past
			// what was dropped (see brokerConsumer.advanced).
			continue
		}
		if out == nil {
			out = make([]*Batch, 0, len(ds))
		}
		if d.b != nil {
			out = append(out, d.b)
		}
		if d.errb != nil {
			out = append(out, d.errb)
			if d.errb.terminal {
				ended = append(ended, *d)
			}
		}
		if d.moves {
			// Stored before the count drops: a broker consumer that moves the position on
			// once nothing is held (advanced) comes after this.
			p.position.Store(d.next)
			if d.counted && p.held.Add(-1) == readerPrefetch-1 {
				p.wakeHome()
			}
		}
		if d.rest != nil && r.buf.unshift(p, feedMsg{rest: d.rest}) {
			unshifted = true
		}
	}
	if unshifted {
		r.bytes.Store(r.buf.bytes)
		if r.since.IsZero() {
			// The rest waits for Poll from now.
			r.since = time.Now()
			r.disp.wake() // it keeps MaxProcessingTime (watch)
		}
	}
	r.mu.Unlock()
	clear(ds)
	return out, ended
}

// end takes out of the reader the partitions whose terminal errors Poll returns.
func (r *Reader) end(ended []decoded) {
	for _, d := range ended {
		if d.fails {
			d.p.failed(d.errb.Err) // (a notice's partition was failed by whoever sent it)
		}
		r.forget(d.p)
	}
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
	for _, p := range r.parts {
		out = append(out, p.about)
	}
	return out
}

func (r *Reader) part(a About) *part {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.lookupLocked(a)
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
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*part
	for _, a := range parts {
		if p := r.lookupLocked(a); p != nil && r.buf.setPaused(p, paused) {
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
	parts := slices.Clone(r.parts)
	for _, p := range parts {
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
