package consumer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
)

// errTopicRecreated is the cause of a reset when a partition's topic was deleted and
// created again: the old positions mean nothing in the new topic.
var errTopicRecreated = errors.New("topic recreated under a new topic ID")

// dispatcher subscribes partitions to the broker consumers of their leaders, whenever a
// partition's subscription comes to it: at the start, and each time a broker consumer or
// the partition's feeder hands it back. A PartitionConsumer has a dispatcher of its own;
// a Reader has one for all its partitions, so partitions cost no goroutine of their own.
// Before subscribing it does what the subscription asks for: refresh metadata (the
// leader may have moved), resolve the starting offset or reset an out-of-range one
// (ListOffsets), and after a leader change check the log was not truncated under the
// partition (OffsetForLeaderEpoch, KIP-320). Failures are retried with exponential
// backoff and jitter, per partition; terminal ones (the topic is gone, ResetNone) end
// the partition with an error for its user.
//
// While a partition is paused it keeps the subscription until Resume; while it is slow
// (its user held a batch past MaxProcessingTime), until what was fetched is delivered.
//
// A Reader's dispatcher also keeps the reader's MaxProcessingTime (see reader.watch).
//
// Owner: a slot under the Consumer's "partitions" supervisor (the partition's, or the
// reader's), which restarts it after a failure; its release hook puts the subscriptions
// it held back in its mailbox for the next incarnation.
type dispatcher struct {
	c   *Consumer
	cfg *Config
	w   *waker  // its wake-up flag, shared with the partitions it serves
	r   *Reader // the reader it serves, or nil for one PartitionConsumer

	in    *actor.Inbox[*subscription]
	owner *actor.Owner
	subs  []heldSub // held, not yet subscribed

	drained []*subscription // the messages being handled; those from handled on are
	handled int             // not yet (a failure puts them back in the mailbox)
}

// heldSub is a subscription a dispatcher holds and when to try it next.
type heldSub struct {
	s   *subscription
	due time.Time // no attempt before this
}

// waker is a dispatcher's ref and a flag that coalesces wake-ups to it, and the
// partition it is making an attempt for, so that stopping that partition interrupts the
// attempt's lookups (a partition has no context of its own: at thousands of partitions,
// one each costs more than the partition's other state).
type waker struct {
	ref   actor.Ref[*subscription] // nil message: look again (resume, close)
	woken atomic.Bool              // a wake-up is queued: do not queue another

	mu     sync.Mutex
	cur    *part              // the partition of the attempt in progress, if any
	cancel context.CancelFunc // ends that attempt's lookups
}

// attempting records that the dispatcher is making an attempt for p, which cancel
// interrupts (nil, nil: the attempt is over). It reports false if p has stopped already.
func (w *waker) attempting(p *part, cancel context.CancelFunc) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cur, w.cancel = p, cancel
	return p == nil || !p.stopped.Load()
}

// interrupt ends the lookups of an attempt in progress for p, if there is one.
func (w *waker) interrupt(p *part) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur == p && w.cancel != nil {
		w.cancel()
	}
}

func (w *waker) wake() {
	if w == nil {
		return
	}
	if w.woken.CompareAndSwap(false, true) {
		if w.ref.TrySend(nil) != nil {
			w.woken.Store(false)
		}
	}
}

// Run is one incarnation of the dispatcher.
func (d *dispatcher) Run(ctx context.Context, in *actor.Inbox[*subscription]) error {
	d.in, d.owner = in, in.Owner()
	var alarm actor.Alarm // the next held subscription due, or the reader's MaxProcessingTime
	defer alarm.Stop()
	for {
		alarm.Set(d.step(ctx))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			d.w.woken.Store(false)
			var closed bool
			d.drained, closed = in.Drain(d.drained[:0])
			for d.handled = 0; d.handled < len(d.drained); {
				s := d.drained[d.handled]
				d.handled++
				if s != nil {
					d.take(s)
				}
			}
			clear(d.drained)
			if closed {
				return nil
			}
		case <-alarm.C():
		}
	}
}

// take accepts a subscription handed to the dispatcher.
func (d *dispatcher) take(s *subscription) {
	s.Take(d.owner)
	due := time.Now()
	if s.failures > 1 {
		// Handed back again soon after the last time: the broker it was subscribed to
		// keeps failing. The first retry is immediate; later ones back off.
		due = due.Add(d.cfg.Backoff.Delay(s.failures-1, rand.Float64()))
	}
	d.subs = append(d.subs, heldSub{s: s, due: due})
}

// step makes one attempt to subscribe each held subscription that is due, and returns
// when the next one is due (zero: none; a message wakes the dispatcher).
func (d *dispatcher) step(ctx context.Context) time.Time {
	var next time.Time
	if d.r != nil {
		next = d.r.watch(time.Now())
	}
	keep := d.subs[:0]
	for _, h := range d.subs {
		if !d.stepOne(ctx, &h) {
			continue
		}
		keep = append(keep, h)
		if !h.s.p.parked() && (next.IsZero() || h.due.Before(next)) {
			next = h.due
		}
	}
	clear(d.subs[len(keep):])
	d.subs = keep
	if len(keep) == 0 && cap(keep) > 64 {
		d.subs = nil // a reader's thousands were subscribed: do not keep their room
	}
	return next
}

// stepOne makes one attempt to subscribe h's subscription if it is due, and reports
// whether the dispatcher still holds it.
func (d *dispatcher) stepOne(ctx context.Context, h *heldSub) bool {
	s := h.s
	p := s.p
	switch {
	case p.stopped.Load():
		s.end(d.owner)
		return false
	case p.parked():
		return true // until Resume, or the user catching up, wakes us
	}
	if cause := s.cause; cause != nil {
		s.cause = nil
		if terminal(cause) { // the broker refuses the partition for good (authorization)
			s.end(d.owner)
			d.fail(p, fmt.Errorf("consumer: %s: %w", p.about, cause))
			return false
		}
	}
	if time.Until(h.due) > 0 {
		return true
	}
	err := d.attempt(ctx, s)
	switch {
	case err == nil:
		return false
	case terminal(err):
		s.end(d.owner)
		d.fail(p, err)
		return false
	case ctx.Err() != nil || p.stopped.Load():
		// Stopping: the next step or the exit releases it.
	default:
		s.failures++
		s.refresh = true
		h.due = time.Now().Add(d.cfg.Backoff.Delay(s.failures, rand.Float64()))
		d.c.cfg.Logger.Debug("subscribing failed; retrying", "partition", p.about.String(), "err", err, "after", time.Until(h.due))
	}
	return true
}

// fail ends p with err, handed to its user after whatever was fetched before.
func (d *dispatcher) fail(p *part, err error) {
	n := &Batch{Topic: p.about.Topic, Partition: p.about.Partition, Err: err, terminal: true}
	n.own.Acquire(d.owner)
	n.own.Give(d.owner)
	if !p.deliver(feedMsg{notice: n}) {
		n.own.Take(d.owner)
		n.own.Release(d.owner)
		p.failDirect(err)
	}
	p.failed(err)
}

// notify hands a non-terminal error to p's user, in order: it comes before any batch
// fetched after it.
func (d *dispatcher) notify(p *part, err error) {
	n := &Batch{Topic: p.about.Topic, Partition: p.about.Partition, Err: err}
	n.own.Acquire(d.owner)
	n.own.Give(d.owner)
	if !p.deliver(feedMsg{notice: n}) {
		n.own.Take(d.owner)
		n.own.Release(d.owner)
	}
}

// mark moves p's Position to offset once its user has taken what was fetched before: a
// reset or a truncation moved the position.
//
// The mark counts against the prefetch until the user has passed it, so that a broker
// consumer that moves the position on afterwards (past transaction markers) queues its
// own mark behind this one rather than setting the position before it.
func (d *dispatcher) mark(p *part, offset int64) {
	r := &fetched{from: offset, next: offset, counted: true}
	r.Acquire(d.owner)
	r.Give(d.owner)
	p.held.Add(1)
	if !p.deliver(feedMsg{fetched: r}) {
		p.held.Add(-1)
		r.Take(d.owner)
		r.Release(d.owner)
	}
}

// attempt finds the partition's leader and subscribes s to its broker consumer, doing
// first whatever s asks for. On success s belongs to the broker consumer.
func (d *dispatcher) attempt(ctx context.Context, s *subscription) error {
	p, c := s.p, d.c
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	if !d.w.attempting(p, cancel) { // stopping the partition interrupts a lookup
		return ErrClosed
	}
	defer d.w.attempting(nil, nil)

	snap := c.client.Snapshot()
	_, epoch, err := snap.Leader(p.about.Topic, p.about.Partition)
	if s.refresh || err != nil || epoch < s.epoch {
		if snap, err = c.client.Refresh(ctx, p.about.Topic); err != nil {
			return err
		}
		s.refresh = false
	}
	t := snap.Topic(p.about.Topic)
	if t == nil || errors.Is(t.Err, errcode.UnknownTopicOrPartition) {
		var cause error
		if t != nil {
			cause = t.Err
		}
		return &UnknownTopicError{Topic: p.about.Topic, Cause: cause}
	}
	if t.ID != s.topicID && t.ID != ([16]byte{}) {
		if s.topicID != ([16]byte{}) && s.reset == nil && s.start == nil {
			s.reset = errTopicRecreated
		}
		s.topicID = t.ID
	}
	leader, epoch, err := snap.Leader(p.about.Topic, p.about.Partition)
	if err != nil {
		return err
	}
	node := leader.Node()

	switch {
	case s.start != nil:
		off, le, err := d.resolve(ctx, p, *s.start)
		if err != nil {
			return err
		}
		s.cur.seek(off, le)
		s.start, s.epoch = nil, epoch
		p.moved(off)
	case s.reset != nil:
		from := s.cur.next
		if d.cfg.OffsetReset == ResetNone {
			return &OutOfRangeError{Topic: p.about.Topic, Partition: p.about.Partition, Offset: from}
		}
		spec := Oldest()
		if d.cfg.OffsetReset == ResetLatest {
			spec = Newest()
		}
		off, le, err := d.resolve(ctx, p, spec)
		if err != nil {
			return err
		}
		s.cur.seek(off, le)
		c.ev.emit(OffsetReset{About: p.about, From: from, To: off, Policy: d.cfg.OffsetReset, Cause: s.reset})
		s.reset, s.epoch = nil, epoch
		d.mark(p, off)
	case s.check && s.cur.lastEpoch >= 0:
		// A start with its leader epoch (a committed offset): the log may have been
		// truncated since it was taken.
		if err := d.validate(ctx, s, node, epoch); err != nil {
			return err
		}
		s.check = false
	case s.epoch >= 0 && epoch != s.epoch && s.cur.lastEpoch >= 0:
		if err := d.validate(ctx, s, node, epoch); err != nil {
			return err
		}
	}
	s.epoch = epoch

	e, err := c.brokers.Acquire(brokerKey(node))
	if err != nil {
		return err
	}
	s.home = e
	p.home.Store(e)
	ev := Subscribed{About: p.about, Broker: node.ID, LeaderEpoch: epoch, Offset: s.cur.next}
	s.Give(d.owner)
	if err := e.Ref().TrySend(brokerMsg{sub: s}); err != nil {
		s.Take(d.owner)
		s.home = nil
		c.brokers.Release(e)
		return err
	}
	c.ev.emit(ev)
	return nil
}

// resolve turns an offset spec into an offset at the leader.
func (d *dispatcher) resolve(ctx context.Context, p *part, spec Offset) (int64, int32, error) {
	ts, _ := spec.listTimestamp()
	off, le, err := d.c.listOffset(ctx, p.about, ts)
	if err == nil && off < 0 && spec.kind == kindTime {
		// No record at or after the time: start at the end.
		off, le, err = d.c.listOffset(ctx, p.about, listNewest)
	}
	return off, le, err
}

// validate checks, after a leader change, that the new leader's log still holds what
// was fetched: the epoch of the last fetched batch must end at or after the position
// (KIP-320). If it ends before, the log was truncated under the partition: that is
// reported, and the position moves to where the leader's log diverges.
//
// A broker without a version of OffsetForLeaderEpoch troupe speaks cannot be asked: the
// position is kept. A leader that does not know the epoch at all answers -1: it cannot say where its log
// diverges. The position is kept; if the log is now shorter than it, the next fetch is
// out of range and the reset policy applies (and is reported). kfake answers this way
// for a plain leader move with no writes since, where nothing was lost.
func (d *dispatcher) validate(ctx context.Context, s *subscription, node broker.Node, epoch int32) error {
	p := s.p
	end, endEpoch, err := d.c.epochEnd(ctx, node, p.about, epoch, s.cur.lastEpoch)
	if errors.Is(err, api.ErrNoCommonVersion) {
		d.c.cfg.Logger.Info("the leader cannot check for truncation (no OffsetForLeaderEpoch version in common); keeping the position",
			"partition", p.about.String(), "offset", s.cur.next)
		return nil
	}
	if err != nil {
		return err
	}
	if end < 0 {
		d.c.cfg.Logger.Info("leader does not know the last fetched epoch; keeping the position",
			"partition", p.about.String(), "epoch", s.cur.lastEpoch, "offset", s.cur.next)
		return nil
	}
	if end >= s.cur.next {
		return nil
	}
	te := &TruncationError{Topic: p.about.Topic, Partition: p.about.Partition, Offset: s.cur.next, Epoch: s.cur.lastEpoch, EndOffset: end, EndEpoch: endEpoch}
	d.c.ev.emit(LogTruncation{About: p.about, Err: te})
	d.notify(p, te)
	s.cur.seek(end, endEpoch)
	d.mark(p, end)
	return nil
}

// releaseDispatcher is the dispatchers' release hook: the subscriptions the incarnation
// held, or had drained from its mailbox and not reached, go back to the head of its
// mailbox, for the next incarnation; those of stopped partitions that it held are
// released (one never taken is dropped with the mailbox).
func releaseDispatcher(a actor.Actor[*subscription], _ error) {
	d, ok := a.(*dispatcher)
	if !ok || d.owner == nil {
		return
	}
	var back []*subscription
	for _, h := range d.subs {
		if h.s.p.stopped.Load() {
			h.s.end(d.owner)
		} else {
			h.s.Give(d.owner)
			back = append(back, h.s)
		}
	}
	d.subs = nil
	back = append(back, d.drained[d.handled:]...) // drained, not reached: never taken
	d.drained = nil
	d.in.Unread(back)
}
