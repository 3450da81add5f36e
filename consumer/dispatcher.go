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
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// errTopicRecreated is the cause of a reset when a partition's topic was deleted and
// created again: the old positions mean nothing in the new topic.
var errTopicRecreated = errors.New("topic recreated under a new topic ID")

// errNoProgress is the cause of a retry after an attempt that neither subscribed nor
// asked for a lookup, which attempt never does: backing off beats spinning on it.
var errNoProgress = errors.New("consumer: subscribing made no progress")

// dispatcher subscribes partitions to the broker consumers of their leaders, whenever a
// partition's subscription comes to it: at the start, and each time a broker consumer or
// the partition's feeder hands it back. A PartitionConsumer has a dispatcher of its own;
// a Reader has one for all its partitions, so partitions cost no goroutine of their own.
// Before subscribing it does what the subscription asks for: refresh metadata (the
// leader may have moved), resolve the starting offset or reset an out-of-range one
// (ListOffsets), and after a leader change check the log was not truncated under the
// partition (OffsetForLeaderEpoch, KIP-320). It never waits for these lookups: it sends
// them asynchronously, one request per leader for all the partitions that need one (see
// lookup.go), and goes on with the others; each answer wakes it. Failures are retried
// with exponential backoff and jitter, per partition; terminal ones (the topic is gone,
// ResetNone) end the partition with an error for its user.
//
// While a partition is paused it keeps the subscription until Resume; while it is slow
// (its user held a batch past MaxProcessingTime), until what was fetched is delivered.
//
// A Reader's dispatcher also keeps the reader's MaxProcessingTime (see reader.watch).
//
// Owner: a slot under the Consumer's "partitions" supervisor (the partition's, or the
// reader's), which restarts it after a failure; its release hook puts the subscriptions
// it held back in its mailbox for the next incarnation (which asks again what they were
// waiting for: answers to a former incarnation's lookups are dropped).
type dispatcher struct {
	c   *Consumer
	cfg *Config
	w   *waker  // its wake-up flag, shared with the partitions it serves
	r   *Reader // the reader it serves, or nil for one PartitionConsumer

	in    *actor.Inbox[*subscription]
	owner *actor.Owner
	held  holding // the subscriptions it holds, not yet subscribed, by what each waits for

	waiting  map[uint64]*heldSub      // by heldSub.asked: those waiting for a lookup's answer
	inflight map[lookupKey]*lookup    // the lookup in flight of each kind and leader
	asks     map[lookupKey][]*heldSub // scratch: this step's partitions wanting a lookup

	drained []*subscription // the messages being handled; those from handled on are
	handled int             // not yet (a failure puts them back in the mailbox)

	posts []post // this step's subscriptions, per broker consumer, sent at its end
}

// post is what one step subscribes to one broker consumer. They go in one batch (one
// lock, one wake-up), so that a broker consumer handed a reader's hundreds of partitions
// at once puts them all in its first fetch, instead of starting to fetch for the first
// few while the dispatcher is still at the rest.
type post struct {
	e  *brokerEntry
	hs []*heldSub
}

// heldSub is a subscription a dispatcher holds, when to try it next, and where it is
// with its lookups.
type heldSub struct {
	s   *subscription
	due time.Time // no attempt before this
	at  int       // its index in holding.all; -1 once let go of

	want  query   // what it needs looked up next (kind lookNone: nothing), not yet asked
	asked uint64  // the ID of the lookup answer it waits for; 0: none
	got   *answer // an answer to apply on the next attempt
	fresh bool    // metadata was refreshed for this attempt: do not refresh again
}

// held reports whether its dispatcher still holds h.
func (h *heldSub) held() bool { return h.at >= 0 }

// waker is a dispatcher's ref, through which it is nudged to look again (resume, close,
// an answer), and the lookups answered for it since it last looked. It outlives the
// dispatcher's incarnations.
type waker struct {
	ref   actor.Ref[*subscription]
	stops atomic.Bool   // a partition stopped: the dispatcher looks through all it holds
	seq   atomic.Uint64 // the last lookup member ID given out

	mu       sync.Mutex
	finished []*lookup // answered (or failed) lookups, for the dispatcher to file
}

func (w *waker) wake() {
	if w == nil {
		return
	}
	_ = w.ref.Nudge() // refused only once the dispatcher is gone, with nothing to look at
}

// stopped wakes the dispatcher to let go of a partition that stopped.
func (w *waker) stopped() {
	if w == nil {
		return
	}
	w.stops.Store(true)
	w.wake()
}

// finish hands an answered lookup back to its dispatcher. It never blocks: it runs on a
// connection's or the metadata actor's goroutine.
func (w *waker) finish(l *lookup) {
	w.mu.Lock()
	w.finished = append(w.finished, l)
	w.mu.Unlock()
	w.wake()
}

// Run is one incarnation of the dispatcher.
func (d *dispatcher) Run(ctx context.Context, in *actor.Inbox[*subscription]) error {
	d.in, d.owner = in, in.Owner()
	d.waiting, d.inflight, d.asks = make(map[uint64]*heldSub), make(map[lookupKey]*lookup), make(map[lookupKey][]*heldSub)
	var alarm actor.Alarm // the next held subscription due, or the reader's MaxProcessingTime
	defer alarm.Stop()
	for {
		alarm.Set(d.step())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			var closed bool
			d.drained, closed = in.Drain(d.drained[:0])
			for d.handled = 0; d.handled < len(d.drained); {
				s := d.drained[d.handled]
				d.handled++
				d.take(s)
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
	d.held.add(&heldSub{s: s, due: due}, time.Now())
}

// step files the lookups answered since the last step, makes one attempt to subscribe
// each held subscription that is due (and looks again at those waiting for their user),
// sends the lookups the attempts asked for, and returns when the next one is due (zero:
// none; a message or an answer wakes the dispatcher). It looks only at subscriptions with
// something to do (see holding): those waiting out a backoff or an answer cost nothing.
func (d *dispatcher) step() time.Time {
	now := time.Now()
	d.file()
	if d.w.stops.Swap(false) {
		d.letGoStopped()
	}
	var next time.Time
	if d.r != nil {
		next = d.r.watch(now)
	}
	list := d.held.due(now)
	for _, h := range list {
		if !h.held() {
			continue // let go of while it waited
		}
		switch d.stepOne(h, now) {
		case heldDone:
			d.held.remove(h)
		case heldParked:
			d.held.park(h)
		case heldTimed:
			d.held.wait(h, now)
		case heldAsks:
			k := h.want.key()
			d.asks[k] = append(d.asks[k], h)
		}
	}
	d.held.recycle(list)
	if due := d.sendPosts(); !due.IsZero() && (next.IsZero() || due.Before(next)) {
		next = due
	}
	for k, hs := range d.asks {
		if d.inflight[k] == nil {
			d.send(k, hs)
		} else {
			// They wait for the lookup in flight to be answered, and go together in the
			// next one.
			for _, h := range hs {
				d.held.block(k, h)
			}
		}
		clear(hs)
		delete(d.asks, k)
	}
	if due := d.held.next(); !due.IsZero() && (next.IsZero() || due.Before(next)) {
		next = due
	}
	if len(d.held.ready) > 0 {
		next = now // put back ready (a backoff of zero): the next step is due at once
	}
	return next
}

// letGoStopped ends the subscriptions of stopped partitions, wherever they wait: a
// Reader's Remove and Close wait for them, so they cannot wait out a backoff.
func (d *dispatcher) letGoStopped() {
	for i := 0; i < len(d.held.all); {
		h := d.held.all[i]
		if !h.s.p.stopped.Load() {
			i++
			continue
		}
		if h.asked != 0 {
			delete(d.waiting, h.asked)
		}
		h.s.end(d.owner)
		d.held.remove(h) // the last one takes its place at i
	}
}

// What a step does next with a held subscription (stepOne).
type heldNext uint8

const (
	heldDone   heldNext = iota // no longer held: subscribed, or ended
	heldParked                 // wait for its user (paused, or slow)
	heldTimed                  // wait until its due time
	heldAsks                   // wants the lookup in h.want
)

// stepOne makes one attempt to subscribe h's subscription if it is due at now, and says
// where it waits next.
func (d *dispatcher) stepOne(h *heldSub, now time.Time) heldNext {
	s := h.s
	p := s.p
	h.want = query{}
	switch {
	case p.stopped.Load():
		s.end(d.owner)
		return heldDone
	case p.parked():
		return heldParked // until Resume, or the user catching up, wakes us
	}
	if cause := s.cause; cause != nil {
		s.cause = nil
		if terminal(cause) { // the broker refuses the partition for good (authorization)
			s.end(d.owner)
			d.fail(p, fmt.Errorf("consumer: %s: %w", p.about, cause))
			return heldDone
		}
	}
	if h.due.After(now) {
		return heldTimed // parked while it waited out a backoff
	}
	done, err := d.attempt(h)
	switch {
	case err == nil && done:
		return heldDone
	case err == nil && h.want.kind != lookNone:
		return heldAsks
	case err == nil:
		// Nothing to ask and not done cannot happen (attempt either subscribes or asks);
		// try again after a backoff rather than spin.
		d.retryLater(h, errNoProgress)
		return heldTimed
	case terminal(err):
		s.end(d.owner)
		d.fail(p, err)
		return heldDone
	default:
		d.retryLater(h, err)
		return heldTimed
	}
}

// retryLater sets h to be attempted again, from a metadata refresh, after a backoff that
// grows with its consecutive failures: its attempt failed with err.
func (d *dispatcher) retryLater(h *heldSub, err error) {
	s := h.s
	h.want, h.got, h.fresh = query{}, nil, false
	s.failures++
	s.refresh = true
	h.due = time.Now().Add(d.cfg.Backoff.Delay(s.failures, rand.Float64()))
	d.c.cfg.Logger.Debug("subscribing failed; retrying", "partition", s.p.about.String(), "err", err, "after", time.Until(h.due))
}

// send asks one lookup for hs, which all want one of key k.
func (d *dispatcher) send(k lookupKey, hs []*heldSub) {
	members := make([]lookupMember, len(hs))
	for i, h := range hs {
		h.asked = d.w.seq.Add(1)
		d.waiting[h.asked] = h
		members[i] = lookupMember{id: h.asked, a: h.s.p.about, q: h.want}
		h.want = query{}
	}
	l := newLookup(k, members, d.cfg.IsolationLevel, time.Now().Add(d.cfg.RequestTimeout))
	d.inflight[k] = l
	if k.kind == lookMetadata {
		d.c.client.RefreshAsync(func(_ *cluster.Snapshot, err error) {
			l.err = err
			d.w.finish(l)
		}, l.topics...)
		return
	}
	w := d.w
	l.call.Done = func(*broker.Call) { w.finish(l) }
	h, err := d.c.client.Conn(members[0].q.node, broker.Admin)
	if err == nil {
		err = h.TrySend(&l.call)
	}
	if err != nil { // never sent, and Done will not be called: answered here
		l.call.Err = err
		w.finish(l)
	}
}

// file hands the answers of the lookups finished since the last step to the held
// subscriptions that wait for them.
func (d *dispatcher) file() {
	d.w.mu.Lock()
	done := d.w.finished
	d.w.finished = nil
	d.w.mu.Unlock()
	for _, l := range done {
		if d.inflight[l.key] == l {
			delete(d.inflight, l.key)
			d.held.unblock(l.key) // they go in the next lookup of this kind
		}
		got := l.answers()
		for i, m := range l.members {
			h := d.waiting[m.id]
			if h == nil {
				continue // stopped meanwhile, or asked by a former incarnation
			}
			delete(d.waiting, m.id)
			h.asked, h.got = 0, &got[i]
			d.held.answered(h)
		}
	}
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

// attempt finds the partition's leader and subscribes h's subscription to its broker
// consumer, doing first whatever the subscription asks for. It never waits on the
// network: when a lookup is needed, it sets h.want and returns (false, nil), and the
// next attempt after the answer (h.got) carries on. On success (true, nil) the
// subscription belongs to the broker consumer.
func (d *dispatcher) attempt(h *heldSub) (bool, error) {
	s, p, c := h.s, h.s.p, d.c
	got := h.got
	h.got = nil

	snap := c.client.Snapshot()
	_, epoch, err := snap.Leader(p.about.Topic, p.about.Partition)
	if !h.fresh && (s.refresh || err != nil || epoch < s.epoch) {
		if got == nil || got.q.kind != lookMetadata {
			h.want = query{kind: lookMetadata}
			return false, nil
		}
		if got.err != nil {
			return false, got.err
		}
		got, h.fresh, s.refresh = nil, true, false
		snap = c.client.Snapshot()
	}
	t := snap.Topic(p.about.Topic)
	if t == nil || errors.Is(t.Err, errcode.UnknownTopicOrPartition) {
		var cause error
		if t != nil {
			cause = t.Err
		}
		return false, &UnknownTopicError{Topic: p.about.Topic, Cause: cause}
	}
	if t.ID != s.topicID && t.ID != ([16]byte{}) {
		if s.topicID != ([16]byte{}) && s.reset == nil && s.start == nil {
			s.reset = errTopicRecreated
		}
		s.topicID = t.ID
	}
	leader, epoch, err := snap.Leader(p.about.Topic, p.about.Partition)
	if err != nil {
		return false, err
	}
	node := leader.Node()
	// match is the answer to q if got is it (asked of the same leader under the same
	// epoch); ask is match, or else h.want set to q (asked next) and nil.
	match := func(q query) *answer {
		q.node, q.epoch = node, epoch
		if got != nil && got.q == q {
			return got
		}
		return nil
	}
	ask := func(q query) *answer {
		a := match(q)
		if a == nil {
			q.node, q.epoch = node, epoch
			h.want = q
		}
		return a
	}

	switch {
	case s.start != nil:
		ts, _ := s.start.listTimestamp()
		a := match(query{kind: lookList, at: ts})
		if ts >= 0 {
			if end := match(query{kind: lookList, at: listNewest}); end != nil {
				a = end // asked because there was no record at or after the time
			} else if a != nil && a.err == nil && a.off < 0 {
				// No record at or after the time: start at the end.
				ask(query{kind: lookList, at: listNewest})
				return false, nil
			}
		}
		if a == nil {
			ask(query{kind: lookList, at: ts})
			return false, nil
		}
		if a.err != nil {
			return false, a.err
		}
		s.cur.seek(a.off, a.epoch)
		s.start, s.epoch = nil, epoch
		p.moved(a.off)
	case s.reset != nil:
		from := s.cur.next
		if d.cfg.OffsetReset == ResetNone {
			return false, &OutOfRangeError{Topic: p.about.Topic, Partition: p.about.Partition, Offset: from}
		}
		spec := Oldest()
		if d.cfg.OffsetReset == ResetLatest {
			spec = Newest()
		}
		ts, _ := spec.listTimestamp()
		a := ask(query{kind: lookList, at: ts})
		if a == nil {
			return false, nil
		}
		if a.err != nil {
			return false, a.err
		}
		s.cur.seek(a.off, a.epoch)
		c.ev.emit(OffsetReset{About: p.about, From: from, To: a.off, Policy: d.cfg.OffsetReset, Cause: s.reset})
		s.reset, s.epoch = nil, epoch
		d.mark(p, a.off)
	case s.check && s.cur.lastEpoch >= 0:
		// A start with its leader epoch (a committed offset): the log may have been
		// truncated since it was taken. Not if the leader is still in that epoch: a leader
		// epoch has one leader, which only ever appends to its log while it leads (a
		// replica truncates its log when it follows, and the next time it leads is a new
		// epoch), so the log still holds the record before the start as it was. A stale
		// metadata epoch does no harm: the fetch names it (CurrentLeaderEpoch), a leader in
		// a later epoch refuses it (FENCED_LEADER_EPOCH), and the subscription comes back
		// to be validated under the epoch it finds then (the case below). The Java client
		// and franz-go ask OffsetForLeaderEpoch for every committed start with an epoch,
		// this one included; skipping it saves a partition the request that cannot find a
		// truncation — at a group's rebalance, nearly all of them, as most partitions keep
		// their leader.
		if s.cur.lastEpoch != epoch {
			a := ask(query{kind: lookEpoch, last: s.cur.lastEpoch})
			if a == nil {
				return false, nil
			}
			if err := d.validate(s, a); err != nil {
				return false, err
			}
		}
		s.check = false
	case s.epoch >= 0 && epoch != s.epoch && s.cur.lastEpoch >= 0:
		a := ask(query{kind: lookEpoch, last: s.cur.lastEpoch})
		if a == nil {
			return false, nil
		}
		if err := d.validate(s, a); err != nil {
			return false, err
		}
	}
	s.epoch = epoch
	h.fresh = false

	e, err := c.brokers.Acquire(brokerKey(node))
	if err != nil {
		return false, err
	}
	s.home = e
	if p.home.Swap(e) != e && p.r != nil {
		p.r.moved.Store(true) // its fetch share counts the brokers again
	}
	d.post(e, h)
	return true, nil
}

// post queues h's subscription for broker consumer e (counted for it already), to be
// sent at the end of the step (sendPosts). Until then the dispatcher still owns it.
func (d *dispatcher) post(e *brokerEntry, h *heldSub) {
	i := 0
	for i < len(d.posts) && d.posts[i].e != e {
		i++
	}
	if i == len(d.posts) {
		d.posts = append(d.posts, post{e: e})
	}
	d.posts[i].hs = append(d.posts[i].hs, h)
}

// sendPosts hands this step's subscriptions to their broker consumers, one batch each. A
// batch refused (the broker consumer is stopping) comes back to be held and tried again
// after a backoff, as a failed attempt does; sendPosts returns the earliest such retry, or
// zero. The Subscribed events go out last, once every post is settled: a hook that
// panics then finds each subscription either sent or held again, never both.
func (d *dispatcher) sendPosts() (next time.Time) {
	var sent []Subscribed
	var msgs []brokerMsg
	for i := range d.posts {
		p := &d.posts[i]
		msgs = msgs[:0]
		start := len(sent)
		for _, h := range p.hs {
			s := h.s // read before it is given: the broker consumer moves its cursor
			sent = append(sent, Subscribed{About: s.p.about, Broker: p.e.Key().ID, LeaderEpoch: s.epoch, Offset: s.cur.next})
			s.Give(d.owner)
			msgs = append(msgs, brokerMsg{sub: s})
		}
		n, err := p.e.Ref().SendBatch(context.Background(), msgs) // unbounded: never waits
		sent = sent[:start+n]
		for _, h := range p.hs[n:] {
			h.s.Take(d.owner)
			h.s.home = nil
			d.c.brokers.Release(p.e)
			d.retryLater(h, err)
			d.held.add(h, time.Now())
			if next.IsZero() || h.due.Before(next) {
				next = h.due
			}
		}
		*p = post{} // settled: the release hook finds nothing of it to hold again
	}
	d.posts = d.posts[:0]
	for _, ev := range sent {
		d.c.ev.emit(ev)
	}
	return next
}

// validate applies the leader's answer to where the epoch of the last fetched batch
// ends (KIP-320), asked after a leader change or for a start with its epoch: the log
// must still hold what was fetched, so the epoch must end at or after the position. If
// it ends before, the log was truncated under the partition: that is reported, and the
// position moves to where the leader's log diverges.
//
// A broker without a version of OffsetForLeaderEpoch troupe speaks cannot be asked: the
// position is kept. A leader that does not know the epoch at all answers -1: it cannot say where its log
// diverges. The position is kept; if the log is now shorter than it, the next fetch is
// out of range and the reset policy applies (and is reported). kfake answers this way
// for a plain leader move with no writes since, where nothing was lost.
func (d *dispatcher) validate(s *subscription, a *answer) error {
	p := s.p
	if errors.Is(a.err, api.ErrNoCommonVersion) {
		d.c.cfg.Logger.Info("the leader cannot check for truncation (no OffsetForLeaderEpoch version in common); keeping the position",
			"partition", p.about.String(), "offset", s.cur.next)
		return nil
	}
	if a.err != nil {
		return a.err
	}
	end, endEpoch := a.off, a.epoch
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
	var held []*heldSub
	for _, p := range d.posts { // posted, not sent: still the dispatcher's, held again
		for _, h := range p.hs {
			h.s.home = nil
			d.c.brokers.Release(p.e)
			held = append(held, h)
		}
	}
	d.posts = nil
	held = append(held, d.held.all...)
	for _, h := range held {
		if h.s.p.stopped.Load() {
			h.s.end(d.owner)
		} else {
			h.s.Give(d.owner)
			back = append(back, h.s)
		}
	}
	d.held = holding{}
	back = append(back, d.drained[d.handled:]...) // drained, not reached: never taken
	d.drained = nil
	d.in.Unread(back)
}
