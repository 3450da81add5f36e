package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/record"
)

// brokerMsg is a message to a broker consumer: a subscription a dispatcher handed to it,
// the outcome of its fetch, or, when both are nil, a wake-up: a partition stopped, was
// paused or went slow, or its feeder made room for more.
type brokerMsg struct {
	sub  *subscription
	call *broker.Call
}

// brokerConsumer fetches for every partition subscribed to one broker: one Fetch request
// at a time, over the broker's fetch connection, carrying every partition it owns whose
// feeder has room (holds fewer than prefetch undelivered results). From each response it
// hands each partition's result to the partition's feeder and hands the partitions that
// failed — leader moved, epoch fenced, offset out of range, connection lost — back to
// their dispatchers, as it does paused partitions and slow ones (whose feeder held a
// batch past MaxProcessingTime).
//
// It never waits for a feeder: a partition whose feeder is full is simply not in the
// next request, so a slow partition cannot hold back the others. Nor does it wait for its
// connection: a fetch that finds the connection's queue full is tried again later
// (retryAt), while the loop goes on serving its mailbox, so that partitions can always be
// handed back and released; and the fetch an incarnation leaves in flight when it ends is
// abandoned (broker.Call.Abandon), so that it takes no room on the connection unless it
// was written already (issue 20, docs/consumer.md).
//
// Its requests go in a fetch session (KIP-227, see fetchSession): after a full fetch,
// each names only the partitions added or changed and forgets those no longer wanted.
//
// Owner: the Consumer's "brokers" supervisor, which restarts it after a failure (its
// release hook hands back the subscriptions it owned) and stops it when its last
// subscription leaves (supervisor.Shared.Release).
type brokerConsumer struct {
	c    *Consumer
	node broker.Node // the broker it fetches from
	name string      // its name under the supervisor

	in    *actor.Inbox[brokerMsg]
	owner *actor.Owner
	log   *slog.Logger
	conn  *broker.Handle
	subs  []*subscription // owned (and some let go of since the last sweep); in the order fetches rotate through
	// own are the subscriptions b owns now, by partition: also how a response's
	// partitions find theirs (at thousands of partitions, a map per request would cost
	// as much again).
	own map[fetchKey]*subscription
	// lets counts the subscriptions let go of (letGo) since the last sweep: while there
	// are none, every one in subs is b's, and the sweep need not look each up in own (an
	// idle broker consumer of thousands of partitions sweeps every poll).
	lets   int
	rot    int     // where the next request starts in subs
	flight *flight // the fetch in flight, if any
	spare  *flight // a finished flight, whose map the next fetch reuses
	seq    uint32  // the number of the last fetch sent (subscription.asked)
	// retryAt, if set, is when to try a fetch again that found the connection's queue
	// full; fullTries counts such fetches in a row, for the backoff.
	retryAt   time.Time
	fullTries int

	session fetchSession // this incarnation's fetch session with the broker
	scan    record.Scanner
	// scanned holds one partition's scanned batches while its answer is handled; what is
	// delivered is copied out at its exact size (a slice grown by append per partition
	// cost as much memory as the responses at thousands of partitions).
	scanned []record.Batch

	drained []brokerMsg // the messages being handled; those from handled on are not yet
	handled int         // (a failure puts them back in the mailbox)
}

// flight is a fetch request in flight. The subscriptions it asked for are those whose
// asked is its seq.
type flight struct {
	call *broker.Call
	seq  uint32
	ids  map[codec.UUID]string
	// readers are the readers whose partitions it asks for: each has reserved bytes of
	// its budget for the answer (Reader.reserve), given back when the fetch ends.
	readers  []*Reader
	reserved int64
	// given is the pooled buffer offered for the response (the call's Frame as sent), if
	// any: back to the pool if the response did not use it.
	given []byte
}

// unreserve gives back what fl reserved of its readers' budgets.
func (fl *flight) unreserve() {
	for i, r := range fl.readers {
		r.unreserve(fl.reserved)
		fl.readers[i] = nil
	}
	fl.readers = fl.readers[:0]
}

type fetchKey struct {
	topic     string
	partition int32
}

func newBrokerConsumer(c *Consumer, node broker.Node, name string) *brokerConsumer {
	return &brokerConsumer{c: c, node: node, name: name, log: c.cfg.Logger.With("actor", name)}
}

// Run is one incarnation of the broker consumer.
func (b *brokerConsumer) Run(ctx context.Context, in *actor.Inbox[brokerMsg]) error {
	b.in, b.owner = in, in.Owner()
	conn, err := b.c.client.Conn(b.node, broker.Fetch)
	if err != nil {
		return fmt.Errorf("%s: %w", b.name, err)
	}
	b.conn = conn
	var retry actor.Alarm
	defer retry.Stop()
	for {
		if b.flight == nil && !time.Now().Before(b.retryAt) {
			b.fetch()
		}
		retry.Set(b.retryAt)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-retry.C():
			// The top of the loop tries the fetch again.
		case <-in.Ready():
			var closed bool
			b.drained, closed = in.Drain(b.drained[:0])
			for b.handled = 0; b.handled < len(b.drained); {
				m := b.drained[b.handled]
				b.handled++
				switch {
				case m.sub != nil:
					m.sub.Take(b.owner)
					b.add(m.sub)
					if b.log.Enabled(ctx, slog.LevelDebug) { // About.String formats
						b.log.Debug("partition subscribed", "partition", m.sub.p.about.String(), "offset", m.sub.cur.next)
					}
				case m.call != nil:
					b.outcome(m.call)
				}
			}
			clear(b.drained)
			b.sweep()
			if closed {
				b.abandonFlight()
				b.closeSession()
				return nil
			}
		}
	}
}

// sweep lets go of stopped partitions (released) and of paused and slow ones (back to
// their dispatchers, which keep them until Resume, or until the feeder caught up).
// It also drops from subs those let go of since (letGo), in one pass.
func (b *brokerConsumer) sweep() {
	check := b.lets > 0
	b.lets = 0
	keep := b.subs[:0]
	for _, s := range b.subs {
		switch {
		case check && !b.owns(s):
			// Let go of already: handed back or released, and so not ours to look at.
		case s.p.stopped.Load():
			b.letGo(s)
			b.releaseSub(s)
		case s.p.parked():
			b.letGo(s)
			b.handBack(s, nil)
		default:
			keep = append(keep, s)
		}
	}
	clear(b.subs[len(keep):])
	b.subs = keep
}

// add makes s one of b's subscriptions.
func (b *brokerConsumer) add(s *subscription) {
	if b.own == nil {
		b.own = make(map[fetchKey]*subscription)
	}
	key := s.key()
	if old := b.own[key]; old != nil && old != s {
		// The partition's previous subscription, still here: its partition stopped (a
		// partition has one live subscription at a time) and the sweep has not let go of
		// it yet. It goes now, as the sweep would let it go.
		b.letGo(old)
		if old.p.stopped.Load() {
			b.releaseSub(old)
		} else {
			b.handBack(old, nil)
		}
	}
	s.asked = 0
	b.own[key] = s
	b.subs = append(b.subs, s)
}

// letGo records that b no longer owns s (it is about to hand it back or release it).
// subs keeps the pointer until the next sweep, which drops it without touching it:
// removing it from subs at once would cost a pass over subs per partition let go of.
func (b *brokerConsumer) letGo(s *subscription) {
	if key := s.key(); b.own[key] == s {
		delete(b.own, key)
		b.lets++
	}
}

// owns reports whether s is owned by b now (not handed back or released).
func (b *brokerConsumer) owns(s *subscription) bool {
	return b.own[s.key()] == s
}

// fetch sends one Fetch request for every partition b owns whose feeder has room, if
// there is any. It never waits for room on the connection: if its queue is full, the
// request is withdrawn (nothing about it was sent) and retryAt says when to try again.
func (b *brokerConsumer) fetch() {
	b.retryAt = time.Time{}
	b.sweep()
	ready := 0
	for _, s := range b.subs {
		if s.p.wantsFetch() {
			ready++
		}
	}
	if ready == 0 {
		return // a feeder that makes room wakes us
	}
	cfg := &b.c.cfg
	req := &api.FetchRequest{}
	req.Default()
	wait := cfg.MaxWait
	if ready < len(b.subs) {
		// Partitions left out wait for their users, and will want fetching as soon as
		// a batch is taken: a long poll for the others, which may have nothing new,
		// must not hold them back for MaxWait. MaxProcessingTime bounds how long they
		// can be left out; this poll is a tenth of it.
		wait = min(wait, max(cfg.MaxProcessingTime/10, time.Millisecond))
	}
	req.MaxWaitMs = int32(wait / time.Millisecond)
	req.MinBytes, req.MaxBytes = int32(cfg.MinBytes), int32(cfg.MaxBytes) // withDefaults checked they fit
	req.IsolationLevel = int8(cfg.IsolationLevel)
	fl := b.spare // the last flight's maps: at thousands of partitions, fresh ones per fetch cost more than the fetch
	b.spare = nil
	if fl == nil {
		fl = &flight{ids: make(map[codec.UUID]string)}
	}
	clear(fl.ids)
	b.seq++
	if b.seq == 0 {
		b.seq = 1 // 0: never asked
	}
	fl.seq = b.seq
	fl.readers = fl.readers[:0]
	// Rotate which partition comes first: a broker fills a response in request order, and
	// gives the first partition with data its first batch whole whatever the limits.
	n := len(b.subs)
	start := b.rot % n
	b.rot++
	want := make([]sessionPart, 0, ready)
	wantSubs := make([]*subscription, 0, ready)
	withoutIDs := false
	for k := range n {
		s := b.subs[(start+k)%n]
		if !s.p.wantsFetch() {
			continue
		}
		s.Check(b.owner)
		if r := s.p.r; r != nil && !slices.Contains(fl.readers, r) {
			fl.readers = append(fl.readers, r)
		}
		key := fetchKey{s.p.about.Topic, s.p.about.Partition}
		want = append(want, sessionPart{key: key, sessionFields: sessionFields{topicID: s.topicID, offset: s.cur.next, epoch: s.epoch, maxBytes: s.cur.maxBytes}})
		wantSubs = append(wantSubs, s)
		s.asked = fl.seq
		if s.topicID == (codec.UUID{}) {
			withoutIDs = true
		} else {
			fl.ids[s.topicID] = key.topic
		}
	}
	if len(fl.readers) > 0 {
		// The answer counts against the budgets of the readers it is for, reserved now:
		// what a reader holds and what its fetches in flight may bring stay within
		// MaxBufferedBytes together. Each fetch may take a broker's share of a budget.
		for _, r := range fl.readers {
			req.MaxBytes = min(req.MaxBytes, int32(r.share()))
		}
		req.MaxBytes = max(req.MaxBytes, 1)
		fl.reserved = int64(req.MaxBytes)
		for _, r := range fl.readers {
			r.reserve(fl.reserved)
		}
	}
	plan := b.session.plan(want, b.sessions())
	req.SessionID, req.SessionEpoch = plan.id, plan.epoch
	byTopic := make(map[string]int)
	for _, i := range plan.send {
		w, s := &want[i], wantSubs[i]
		t, ok := byTopic[w.key.topic]
		if !ok {
			t = len(req.Topics)
			byTopic[w.key.topic] = t
			req.Topics = append(req.Topics, api.FetchRequestTopic{Topic: w.key.topic, TopicID: s.topicID})
		}
		var fp api.FetchRequestPartition
		fp.Default()
		fp.Partition = w.key.partition
		fp.CurrentLeaderEpoch = w.epoch
		fp.FetchOffset = w.offset
		fp.PartitionMaxBytes = w.maxBytes
		req.Topics[t].Partitions = append(req.Topics[t].Partitions, fp)
	}
	req.ForgottenTopicsData = forgottenTopics(plan.forget)
	for _, f := range plan.forget {
		if f.topicID == (codec.UUID{}) {
			withoutIDs = true
		}
	}
	self := b.in.Ref()
	call := &broker.Call{
		Request:  req,
		Deadline: time.Now().Add(cfg.MaxWait + cfg.RequestTimeout),
		// The mailbox is unbounded: the outcome is never refused while b runs.
		Done: func(c *broker.Call) { _ = self.TrySend(brokerMsg{call: c}) },
		// A request planned as part of a session cannot go at a version without them
		// (a connection that reconnected to an older broker): it fails as not sent,
		// and the next one is a full fetch.
		Prepare: func(version int16) error {
			if version < minSessionVersion && !plan.full {
				return errSessionVersion
			}
			return nil
		},
	}
	if withoutIDs {
		call.VersionCap = 12 // v13+ names topics by ID only
	}
	call.Frame = b.c.frames.get() // a buffer given back, if any (Reader.Release)
	fl.call, fl.given = call, call.Frame
	if err := b.conn.TrySend(call); err != nil {
		fl.unreserve()
		b.c.frames.put(fl.given) // never sent: the connection did not see it
		fl.given = nil
		b.spare = fl
		if errors.Is(err, actor.ErrFull) {
			// The connection is busy with other requests (other consumers' fetches on a
			// shared client, or long polls still being answered). Nothing was sent: the
			// session's view is as it was, and the partitions wait where they are.
			b.session.withdrawn()
			b.fullTries++
			delay := min(cfg.Backoff.Delay(b.fullTries, rand.Float64()), cfg.MaxWait)
			b.retryAt = time.Now().Add(delay)
			b.log.Debug("fetch deferred: the connection's queue is full", "retry in", delay)
			return
		}
		b.session.failed()
		b.failAll(err)
		return
	}
	b.fullTries = 0
	b.flight = fl
	b.log.Debug("fetch sent", "partitions", ready, "of", len(b.subs), "named", len(plan.send), "forgotten", len(plan.forget),
		"session", plan.id, "epoch", plan.epoch, "wait", wait)
}

// abandonFlight gives up the fetch in flight, if any, as the incarnation ends: unless it
// has been written, the connection drops it rather than send it (its partitions are
// fetched again by whoever holds them next, from the same positions). Without this, a
// broker consumer stopped and started again faster than its long polls return (a
// partition handed back and forth) would leave a request on the shared connection each
// time, and they would fill its queue.
func (b *brokerConsumer) abandonFlight() {
	if b.flight != nil {
		b.flight.call.Abandon()
		b.flight.unreserve()
		b.flight.given = nil // the connection may still read the response into it
		b.flight = nil
	}
}

// outcome handles the end of the fetch in flight.
func (b *brokerConsumer) outcome(call *broker.Call) {
	fl := b.flight
	if fl == nil || fl.call != call {
		return // from an earlier incarnation's request
	}
	b.flight = nil
	given := fl.given
	fl.given = nil
	if call.Err != nil || !sameBuffer(given, call.Frame) {
		// The call is over, so the connection is done with the buffer it was offered:
		// it failed, or the response did not fit and went to a buffer of its own.
		b.c.frames.put(given)
	}
	defer func() {
		// Deferred, so that a failure part-way through gives the reservation back too.
		// Its results are in the readers' buffers by now: the budget never looks
		// emptier than it is.
		fl.unreserve()
		fl.call = nil // nor is its response, which the records of its batches alias
		b.spare = fl  // its maps are free once the outcome is handled
	}()
	b.log.Debug("fetch done", "err", call.Err)
	if call.Err != nil {
		if errors.Is(call.Err, codec.ErrFrameTooLarge) {
			// Not a fault that heals: the same fetch is answered as large again. Said
			// at Warn, as the partitions' records would otherwise just never come.
			b.log.Warn(msgFrameTooLarge, "err", call.Err)
		}
		b.session.failed()
		b.failAll(call.Err)
		return
	}
	resp, ok := call.Response.(*api.FetchResponse)
	if !ok {
		b.session.failed()
		b.failAll(fmt.Errorf("fetch: unexpected response %T", call.Response))
		return
	}
	err := errcode.ForCode(resp.ErrorCode)
	b.session.answered(resp.SessionID, err)
	if isSessionError(err) {
		// The broker lost the session (evicted, restarted) or the epochs crossed: the
		// next request is a full fetch, at the same positions.
		b.log.Info("fetch session reset", "err", err)
		return
	}
	if err != nil {
		b.failAll(fmt.Errorf("fetch: %w", err))
		return
	}
	// The response's buffer goes back to the pool once this outcome and every result
	// that aliases it (the Batches decoded from them, given back by Release) are done.
	fr := newFrame(&b.c.frames, call.Frame)
	defer fr.done()
	for i := range resp.Responses {
		rt := &resp.Responses[i]
		topic := rt.Topic
		if call.Version >= 13 {
			topic = fl.ids[rt.TopicID]
		}
		for j := range rt.Partitions {
			pd := &rt.Partitions[j]
			s := b.own[fetchKey{topic, pd.PartitionIndex}]
			if s == nil || s.asked != fl.seq {
				continue // not asked for, let go of while the fetch was in flight, or named twice
			}
			s.asked = 0
			b.partition(s, pd, fr)
		}
	}
}

// msgFrameTooLarge is the Warn record of a fetch whose response the connection refused
// as larger than its MaxResponseBytes.
const msgFrameTooLarge = "fetch response larger than the connections' MaxResponseBytes: its partitions are fetched again, " +
	"and refused again while the response stays that large (a record batch larger than the limit?); raise Cluster.Broker.MaxResponseBytes"

// failAll hands every partition b owns back to its dispatcher after the request failed
// as a whole (connection lost, broker gone, breaker open): the dispatchers find out
// where each partition lives now.
func (b *brokerConsumer) failAll(err error) {
	subs := b.subs
	b.subs = nil
	for _, s := range subs {
		if !b.owns(s) {
			continue
		}
		b.letGo(s)
		s.refresh = true
		s.failures++
		b.handBack(s, err)
	}
}

// partition handles one partition's answer in a fetch response, held in fr.
func (b *brokerConsumer) partition(s *subscription, pd *api.FetchResponsePartitionData, fr *frame) {
	p := s.p
	if err := errcode.ForCode(pd.ErrorCode); err != nil {
		b.letGo(s)
		switch {
		case errors.Is(err, errcode.OffsetOutOfRange):
			s.reset = fmt.Errorf("offset %d: %w", s.cur.next, err)
		default:
			s.refresh = true
			s.failures++
		}
		s.cause = err
		b.handBack(s, err)
		return
	}
	s.failures = 0
	if len(pd.Records) > 0 && b.c.faults.take(&b.c.faults.brokerConsumer) {
		panic("consumer: injected broker consumer failure")
	}
	b.scan.Reset(pd.Records)
	batches := b.scanned[:0]
	for b.scan.Next() {
		batches = append(batches, *b.scan.Batch())
	}
	st := s.cur.apply(partitionFetch{
		hwm: pd.HighWatermark, lso: pd.LastStableOffset, logStart: pd.LogStartOffset,
		batches: batches, tail: b.scan.Tail(), aborted: pd.AbortedTransactions,
	})
	st.deliver = slices.Clone(st.deliver) // exactly its size; batches is reused
	clear(batches)                        // they alias the response
	b.scanned = batches[:0]
	corrupt := b.scan.Err()
	b.scan.Reset(nil) // nor does the scanner keep the response (an idle consumer would)
	if cap(b.scanned) > maxScanned {
		b.scanned = nil // a partition of thousands of batches: not kept for the others
	}
	p.hwm.Store(s.cur.hwm)
	p.lso.Store(s.cur.lso)
	p.logStart.Store(s.cur.logStart)
	if len(st.deliver) == 0 && corrupt == nil {
		if st.moved {
			b.advanced(s)
		}
		return
	}
	f := &fetched{
		from: st.from, next: s.cur.next, batches: st.deliver,
		hwm: s.cur.hwm, lso: s.cur.lso, logStart: s.cur.logStart, counted: true,
	}
	if len(f.batches) > 0 {
		f.frame = fr.use()
	}
	if corrupt != nil {
		f.err = &CorruptError{Topic: p.about.Topic, Partition: p.about.Partition, Offset: s.cur.next, Next: -1, Err: corrupt}
	}
	b.send(s, f)
	if corrupt != nil {
		// Terminal: the feeder delivers what came before and ends the partition.
		b.letGo(s)
		b.releaseSub(s)
	}
}

// maxScanned is the most batches whose room a broker consumer keeps for the next
// partition's answer.
const maxScanned = 1024

// advanced tells the user that the position moved past records that deliver nothing
// (transaction markers): at once if the feeder holds no result, or else by a result
// without batches, after what it holds. That result counts against the prefetch like
// any other, which bounds them too.
func (b *brokerConsumer) advanced(s *subscription) {
	p := s.p
	if p.held.Load() == 0 {
		p.moved(s.cur.next) // nothing is held for the user, and only we add results
		return
	}
	b.send(s, &fetched{from: s.cur.next, next: s.cur.next, hwm: s.cur.hwm, lso: s.cur.lso, logStart: s.cur.logStart, counted: true})
}

// send hands a fetch result to s's feeder, counting it against the partition's prefetch
// if it holds records.
func (b *brokerConsumer) send(s *subscription, f *fetched) {
	p := s.p
	f.Acquire(b.owner)
	f.Give(b.owner)
	if f.counted {
		p.held.Add(1)
	}
	if !p.deliver(feedMsg{fetched: f}) {
		// The partition is stopping: the result is dropped with it.
		f.Take(b.owner)
		f.Release(b.owner)
		if f.counted {
			p.held.Add(-1)
		}
	}
}

// handBack gives s to its dispatcher, which subscribes it again (or keeps it while
// paused), and counts it out of b. err says why, for the event; nil for a pause.
func (b *brokerConsumer) handBack(s *subscription, err error) {
	if err != nil {
		b.c.ev.emit(Unsubscribed{About: s.p.about, Broker: b.node.ID, Err: err})
	}
	giveToDispatcher(b.owner, s)
}

// releaseSub ends s's life here: its partition stopped.
func (b *brokerConsumer) releaseSub(s *subscription) {
	home := s.home
	s.home = nil
	s.end(b.owner)
	if home != nil {
		b.c.brokers.Release(home)
	}
}

// giveToDispatcher hands s, owned by from, to its partition's dispatcher, counting it
// out of the broker consumer it belonged to. If the partition is stopping, s is released
// instead.
func giveToDispatcher(from *actor.Owner, s *subscription) {
	home := s.home
	s.home = nil
	p := s.p
	s.Give(from)
	if p.stopped.Load() || p.disp.ref.TrySend(s) != nil {
		s.Take(from)
		s.end(from)
	}
	if home != nil {
		p.c.brokers.Release(home)
	}
}

// releaseBrokerConsumer is the broker consumers' release hook: after an incarnation ends
// (a failure, or a stop), every subscription it owned goes back to its dispatcher, or is
// released if its partition stopped. A fetch in flight is abandoned; its partitions are
// fetched again from the same positions; subscriptions still on their way to it go back
// to its mailbox. After a failure each partition handed back is
// reported (Unsubscribed, with the failure). Handing back its last subscription removes
// the broker consumer rather than letting the supervisor restart it; the dispatchers'
// next subscriptions start a fresh one. (A subscription on its way to it, in its mailbox,
// keeps it counted: the supervisor restarts it on the same mailbox.)
func releaseBrokerConsumer(a actor.Actor[brokerMsg], err error) {
	b, ok := a.(*brokerConsumer)
	if !ok || b.owner == nil {
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		b.c.cfg.Logger.Error("broker consumer failed", "broker", b.name, "err", err)
	}
	// Subscriptions drained but not reached yet were never taken: they go back to the
	// mailbox, still on their way to this broker consumer (and counted for it), for the
	// next incarnation. A fetch outcome among them is dropped with the fetch.
	var unread []brokerMsg
	for _, m := range b.drained[b.handled:] {
		if m.sub != nil {
			unread = append(unread, m)
		}
	}
	clear(b.drained)
	b.drained = nil
	b.in.Unread(unread)
	b.abandonFlight()
	subs := b.subs
	b.subs = nil
	for _, s := range subs {
		if !b.owns(s) {
			continue
		}
		b.letGo(s)
		if s.p.stopped.Load() {
			b.releaseSub(s)
			continue
		}
		s.refresh = true
		if err != nil && !errors.Is(err, context.Canceled) {
			b.c.ev.emit(Unsubscribed{About: s.p.about, Broker: b.node.ID, Err: err})
		}
		giveToDispatcher(b.owner, s)
	}
}
