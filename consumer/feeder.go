package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/record"
)

// feedMsg is a message to a feeder: a fetch result lent with the partition's
// subscription by a broker consumer, an error for the user from the dispatcher, or, when
// all are nil, a wake-up (pause, resume, close).
type feedMsg struct {
	sub     *subscription
	fetched *fetched
	notice  *Batch
}

// feeder delivers a partition's fetch results to its user: it decodes each result into
// one Batch and hands it to Next (through the partition's handoff) or to the partition's
// custom stage, then returns the subscription it was lent, so that the partition is
// fetched again while the user processes the batch.
//
// If the batch is not taken within MaxProcessingTime, or the partition is paused, the
// feeder first gives the partition's place at its broker consumer back (the broker
// consumer is not waiting for it: it fetches for its other partitions meanwhile), then
// waits for the batch to be taken however long that takes, and hands the subscription
// to the dispatcher to subscribe again. Nothing is lost, repeated or reordered, because
// nothing is fetched for the partition while the feeder holds its subscription.
//
// Owner: the partition's slot under the Consumer's "partitions" supervisor, which
// restarts it after a failure; its release hook takes back the batch it was offering
// and rewinds the subscription to it, so the next incarnation delivers it again.
type feeder struct {
	p   *part
	cfg *Config

	in    *actor.Inbox[feedMsg]
	owner *actor.Owner
	dec   record.Decoder

	sub     *subscription // lent by a broker consumer, or left its broker consumer
	left    bool          // sub has given up its place at its broker consumer
	queue   []*Batch      // to hand over, oldest first
	offered bool          // queue[0] sits in the handoff, not taken yet
	since   time.Time     // when the batch being handed over arrived
	full    bool          // the stage's mailbox was full at the last try
	dead    bool          // a terminal error was queued: the subscription is released
}

func newFeeder(p *part, cfg *Config) *feeder {
	f := &feeder{p: p, cfg: cfg}
	f.dec.MaxDecompressedSize = cfg.MaxDecompressedSize
	return f
}

// Run is one incarnation of the feeder.
func (f *feeder) Run(ctx context.Context, in *actor.Inbox[feedMsg]) error {
	f.in, f.owner = in, in.Owner()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var batch []feedMsg
	for {
		f.deliver()
		f.settle(timer)
		var room <-chan struct{}
		if f.full {
			room = f.p.stage.Room()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			f.p.feederWoken.Store(false)
			var closed bool
			batch, closed = in.Drain(batch[:0])
			for _, m := range batch {
				f.handle(m)
			}
			clear(batch)
			if closed {
				return nil
			}
		case <-f.p.out.taken:
			// The signal may be stale (a take seen by an earlier incarnation): what counts
			// is whether the batch offered is still in the handoff.
			if f.offered && !f.p.out.holds(f.queue[0]) {
				f.offered = false
				f.delivered()
			}
		case <-room:
			f.full = false
		case <-timer.C:
		}
	}
}

func (f *feeder) handle(m feedMsg) {
	switch {
	case m.notice != nil:
		m.notice.Take(f.owner)
		f.enqueue(m.notice)
	case m.sub != nil:
		m.sub.Take(f.owner)
		f.sub, f.left, f.since = m.sub, false, time.Now()
		b, err := decodeFetched(&f.dec, f.p.about.Topic, f.p.about.Partition, m.fetched)
		if err == nil {
			err = m.fetched.err
		}
		if len(b.Records) > 0 {
			b.Acquire(f.owner)
			f.enqueue(b)
		} else if len(f.queue) == 0 {
			f.p.position.Store(b.NextOffset) // nothing to hand over, nothing before it
		}
		if err != nil {
			f.fail(err)
		}
	}
}

func (f *feeder) enqueue(b *Batch) { f.queue = append(f.queue, b) }

// fail queues a terminal error after what is queued; the subscription is released.
func (f *feeder) fail(err error) {
	n := &Batch{Topic: f.p.about.Topic, Partition: f.p.about.Partition, Err: err, terminal: true}
	n.Acquire(f.owner)
	f.enqueue(n)
	f.dead = true
	f.p.failed(err)
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
		ran, err := p.out.tryStage(func() error {
			b.Give(f.owner)
			if err := p.stage.TrySend(b); err != nil {
				b.Take(f.owner)
				return err
			}
			return nil
		})
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
		f.queue = f.queue[1:]
		p.position.Store(max(p.position.Load(), b.NextOffset))
		if b.terminal {
			p.out.fail(b.Err)
		}
	}
}

// delivered is called when the user took queue[0] from the handoff.
func (f *feeder) delivered() {
	b := f.queue[0]
	f.queue = f.queue[1:]
	b.Release(f.owner) // the position moved on at the take (handoff.next)
}

// settle decides what becomes of the subscription: kept while a batch waits for its
// user; given up at its broker consumer when that takes longer than MaxProcessingTime
// or the partition is paused; returned once everything was handed over.
func (f *feeder) settle(timer *time.Timer) {
	s := f.sub
	if s == nil {
		return
	}
	p := f.p
	switch {
	case f.dead || p.stopped.Load():
		f.sub = nil
		f.leave(s)
		s.Release(f.owner)
	case len(f.queue) == 0:
		f.sub = nil
		timer.Stop()
		if !f.left && s.home != nil {
			home := s.home
			s.Give(f.owner)
			if home.ref.TrySend(brokerMsg{sub: s}) == nil {
				return
			}
			s.Take(f.owner)
		}
		giveToDispatcher(f.owner, s) // counts it out of its broker consumer, if it is still in
	case !f.left:
		waited := time.Since(f.since)
		if paused := p.paused.Load(); paused || waited >= f.cfg.MaxProcessingTime {
			f.leave(s)
			if !paused {
				p.c.ev.emit(SlowPartition{About: p.about, Waited: waited})
			}
			return
		}
		timer.Reset(f.cfg.MaxProcessingTime - waited)
	}
}

// leave gives up s's place at its broker consumer.
func (f *feeder) leave(s *subscription) {
	f.left = true
	if e := s.home; e != nil {
		s.home = nil
		f.p.c.brokers.release(e)
	}
}

// drop releases everything the feeder holds: the partition stopped.
func (f *feeder) drop() {
	if f.offered {
		f.p.out.withdraw()
		f.offered = false
	}
	for _, b := range f.queue {
		b.Release(f.owner)
	}
	clear(f.queue)
	f.queue = f.queue[:0]
}

// releaseFeeder is the feeders' release hook. After a failure, the batch the feeder was
// offering is taken back if the user had not taken it, and the subscription is rewound to
// the first batch not handed over and given to the dispatcher, so that the next
// incarnation delivers from there: nothing is lost or repeated. Error notices not yet
// handed over go back to the head of the mailbox. After a stop, everything is released.
func releaseFeeder(a actor.Actor[feedMsg], _ error) {
	f, ok := a.(*feeder)
	if !ok || f.owner == nil {
		return
	}
	if f.offered && f.p.out.withdraw() == nil {
		f.delivered() // taken just before the end
	}
	f.offered = false
	var keep []feedMsg
	rewound := false
	for _, b := range f.queue {
		switch {
		case b.Err != nil && !f.p.stopped.Load():
			b.Give(f.owner)
			keep = append(keep, feedMsg{notice: b})
		case b.Err == nil && !rewound && f.sub != nil:
			f.sub.cur.seek(b.from, b.fromEpoch)
			rewound = true
			b.Release(f.owner)
		default:
			b.Release(f.owner)
		}
	}
	f.queue = nil
	if s := f.sub; s != nil {
		f.sub = nil
		if f.dead || f.p.stopped.Load() {
			f.leave(s)
			s.Release(f.owner)
		} else {
			giveToDispatcher(f.owner, s)
		}
	}
	if len(keep) > 0 {
		f.in.Unread(keep)
	}
}
