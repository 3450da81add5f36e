package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/record"
)

// feedMsg is a message to a feeder: a fetch result from a broker consumer, an error for
// the user from the dispatcher, or, when both are nil, a wake-up (pause, resume, close).
type feedMsg struct {
	fetched *fetched
	notice  *Batch
	rest    *decoded // only in a Reader's buffer: what a Poll took and did not return
}

// feeder delivers a partition's fetch results to its user: it decodes each result into
// one Batch and hands it to Next (through the partition's handoff) or to the partition's
// custom stage, in order, with the dispatcher's error notices in their place. It holds at
// most prefetch results; each batch the user takes makes room, and it wakes the broker
// consumer to fetch more.
//
// If the batch at its head is not taken within MaxProcessingTime (paused time does not
// count), it marks the partition slow: its broker consumer gives the subscription back
// to the dispatcher — it was not waiting for this partition anyway, only the partition's
// place is given up — and the feeder delivers what it holds, however long that takes.
// Once it has delivered everything it clears the mark and the dispatcher subscribes the
// partition again. Nothing is lost, repeated or reordered: nothing more is fetched for
// the partition meanwhile, and what was fetched is delivered first.
//
// Owner: the partition's slot under the Consumer's "partitions" supervisor, which
// restarts it after a failure; its release hook takes back the batch it was offering, if
// the user had not taken it, and puts every result not handed over back in its mailbox,
// so the next incarnation delivers them.
type feeder struct {
	p   *part
	cfg *Config

	in    *actor.Inbox[feedMsg]
	owner *actor.Owner
	dec   record.Decoder

	queue   []*Batch  // to hand over, oldest first: batches, error notices, position marks
	offered bool      // queue[0] sits in the handoff, not taken yet
	since   time.Time // since when queue[0] has been waiting for its user
	full    bool      // the stage's mailbox was full at the last try
	dead    bool      // a terminal error is queued: whatever comes after is dropped

	drained []feedMsg // the messages being handled; those from handled on are not yet
	handled int       // (a failure puts them back in the mailbox)
}

func newFeeder(p *part, cfg *Config) *feeder {
	f := &feeder{p: p, cfg: cfg}
	f.dec.MaxDecompressedSize = cfg.MaxDecompressedSize
	return f
}

// Run is one incarnation of the feeder.
func (f *feeder) Run(ctx context.Context, in *actor.Inbox[feedMsg]) error {
	f.in, f.owner = in, in.Owner()
	var alarm actor.Alarm // MaxProcessingTime of the batch waiting for the user
	defer alarm.Stop()
	for {
		f.deliver()
		alarm.Set(f.settle())
		var room <-chan struct{}
		if f.full {
			room = f.p.stage.Room()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			var closed bool
			f.drained, closed = in.Drain(f.drained[:0])
			for f.handled = 0; f.handled < len(f.drained); {
				m := f.drained[f.handled]
				f.handled++
				f.handle(m)
			}
			clear(f.drained)
			if closed {
				return nil
			}
		case <-f.p.out.taken:
			// The signal may be stale (a take seen by an earlier incarnation): what counts
			// is whether the batch offered is still in the handoff.
			if f.offered && !f.p.out.holds(f.queue[0]) {
				f.offered = false
				f.pop()
			}
		case <-room:
			f.full = false
		case <-alarm.C():
		}
	}
}

func (f *feeder) handle(m feedMsg) {
	switch {
	case m.notice != nil:
		m.notice.own.Take(f.owner)
		if f.dead {
			m.notice.own.Release(f.owner)
			return
		}
		f.enqueue(m.notice)
	case m.fetched != nil:
		r := m.fetched
		r.Take(f.owner)
		if f.dead {
			f.done(r)
			return
		}
		var b *Batch
		var err error
		if len(r.batches) > 0 {
			b, err = decodeFetched(&f.dec, nil, f.p.about.Topic, f.p.about.Partition, r)
		} else {
			b = &Batch{NextOffset: r.next, src: r}
		}
		if err == nil {
			err = r.err
		}
		if len(b.Records) == 0 {
			b.Records = nil // nothing to hand over: only a position mark
		}
		b.own.Acquire(f.owner)
		f.enqueue(b)
		if err != nil {
			f.fail(err)
		}
	}
}

func (f *feeder) enqueue(b *Batch) {
	if len(f.queue) == 0 {
		f.since = time.Now()
	}
	f.queue = append(f.queue, b)
}

// fail queues a terminal error after what is queued, and stops the partition.
func (f *feeder) fail(err error) {
	n := &Batch{Topic: f.p.about.Topic, Partition: f.p.about.Partition, Err: err, terminal: true}
	n.own.Acquire(f.owner)
	f.enqueue(n)
	f.dead = true
	f.p.failed(err)
}

// pop removes the head of the queue, handed over.
func (f *feeder) pop() {
	b := f.queue[0]
	f.queue[0] = nil
	f.queue = f.queue[1:]
	f.since = time.Now()
	f.finish(b)
}

// finish ends the life in the feeder of b, handed over or dropped, and of the result it
// was made from.
func (f *feeder) finish(b *Batch) {
	if r := b.src; r != nil {
		b.src = nil
		f.done(r)
	}
	b.own.Release(f.owner)
}

// done ends a fetch result's life: it no longer counts against the partition's prefetch,
// and the broker consumer is woken if that makes room.
func (f *feeder) done(r *fetched) {
	if r.counted && f.p.held.Add(-1) == prefetch-1 {
		f.p.wakeHome()
	}
	r.Release(f.owner)
}

// deliver hands over as much of the queue as the user or stage takes now.
func (f *feeder) deliver() {
	p := f.p
	if p.out.isClosed() {
		f.drop()
		return
	}
	for len(f.queue) > 0 {
		b := f.queue[0]
		if b.Err == nil && len(b.Records) == 0 {
			p.position.Store(b.NextOffset) // a position mark: everything before it is taken
			f.pop()
			continue
		}
		if p.stage.IsZero() {
			if !f.offered {
				f.offered = p.out.offer(b)
				if f.offered && p.c.faults.take(&p.c.faults.feeder) {
					panic("consumer: injected feeder failure")
				}
			}
			return // the rest waits for the take
		}
		if f.full {
			return
		}
		// Once handed over, b is the stage's outright (the library's record of it ends
		// here, as at Next): detach its source result first.
		src := b.src
		b.src = nil
		ran, err := p.out.tryStage(func() error {
			b.own.Release(f.owner)
			if err := p.stage.TrySend(b); err != nil {
				b.own.Acquire(f.owner) // not sent: still the feeder's
				return err
			}
			return nil
		})
		if !ran || err != nil {
			b.src = src
		}
		switch {
		case !ran:
			return // paused
		case errors.Is(err, actor.ErrFull):
			f.full = true
			return
		case err != nil:
			f.drop() // the stage is gone: the partition is stopping
			return
		}
		// The stage owns b now; its source result is done with.
		f.queue[0] = nil
		f.queue = f.queue[1:]
		f.since = time.Now()
		if src != nil {
			f.done(src)
		}
		if b.Err == nil {
			p.position.Store(b.NextOffset)
		} else if b.terminal {
			p.out.fail(b.Err)
		}
	}
}

// settle keeps track of MaxProcessingTime: a batch waiting longer for its user marks
// the partition slow, and an empty queue clears the mark. It returns when to look again
// (zero: nothing is due; a message, a take or room wakes the feeder).
func (f *feeder) settle() time.Time {
	p := f.p
	if len(f.queue) == 0 {
		if p.slow.Load() {
			p.slow.Store(false)
			p.wakeDispatcher() // caught up: subscribe again
		}
		return time.Time{}
	}
	if f.dead || p.slow.Load() {
		return time.Time{}
	}
	if p.paused.Load() {
		f.since = time.Now() // waiting while paused is not being slow
		return time.Time{}
	}
	due := f.since.Add(f.cfg.MaxProcessingTime)
	if now := time.Now(); now.Before(due) {
		return due
	}
	p.slow.Store(true)
	p.c.ev.emit(SlowPartition{About: p.about, Waited: time.Since(f.since)})
	p.wakeHome() // its broker consumer gives the subscription back
	return time.Time{}
}

// drop releases everything the feeder holds: the partition stopped.
func (f *feeder) drop() {
	if f.offered {
		f.p.out.withdraw()
		f.offered = false
	}
	for _, b := range f.queue {
		f.finish(b)
	}
	clear(f.queue)
	f.queue = f.queue[:0]
}

// releaseFeeder is the feeders' release hook. After a failure, the batch the feeder was
// offering is taken back if the user had not taken it, and every result and notice not
// handed over — queued, or drained from the mailbox and not reached yet — goes back, in
// order, to the head of the mailbox, for the next incarnation to deliver: nothing is lost
// or repeated. After a stop, everything is released.
func releaseFeeder(a actor.Actor[feedMsg], _ error) {
	f, ok := a.(*feeder)
	if !ok || f.owner == nil {
		return
	}
	if f.offered && f.p.out.withdraw() == nil {
		f.pop() // taken just before the end
	}
	f.offered = false
	rest := f.drained[f.handled:] // drained, not reached: never taken
	f.drained = nil
	if f.p.stopped.Load() {
		for _, b := range f.queue {
			if b.terminal {
				f.p.out.fail(b.Err) // what it was about to say
			}
		}
		f.drop()
		for _, m := range rest {
			dropFeedMsg(m)
		}
		return
	}
	var keep []feedMsg
	for _, b := range f.queue {
		switch r := b.src; {
		case r != nil:
			b.src = nil
			b.own.Release(f.owner)
			r.Give(f.owner)
			keep = append(keep, feedMsg{fetched: r})
		default:
			b.own.Give(f.owner)
			keep = append(keep, feedMsg{notice: b})
		}
	}
	clear(f.queue)
	f.queue = nil
	f.in.Unread(append(keep, rest...))
}
