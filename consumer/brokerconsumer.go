package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/record"
)

// brokerMsg is a message to a broker consumer: a subscription handed to it (subscribed
// by a dispatcher, or returned by a feeder), the outcome of its fetch, or, when both are
// nil, a wake-up to let go of stopped and paused partitions at once.
type brokerMsg struct {
	sub  *subscription
	call *broker.Call
}

// brokerConsumer fetches for every partition subscribed to one broker: one Fetch request
// at a time, over the broker's fetch connection, carrying every partition it owns that
// is not paused. From each response it hands each partition's result, with the
// partition's subscription, to the partition's feeder (the partition is then not fetched
// until the feeder returns the subscription, after its user took the batch), keeps the
// partitions that got nothing, and hands the partitions that failed — leader moved,
// epoch fenced, offset out of range, connection lost — back to their dispatchers.
//
// It never waits for a feeder: a slow partition is simply not in the next request, so
// it cannot hold back the others.
//
// Owner: the Consumer's "brokers" supervisor, which restarts it after a failure (its
// release hook hands back the subscriptions it owned) and stops it when its last
// subscription leaves (brokerSet.release).
type brokerConsumer struct {
	c *Consumer
	e *brokerEntry

	in     *actor.Inbox[brokerMsg]
	owner  *actor.Owner
	conn   *broker.Handle
	subs   []*subscription // owned, not lent; in the order fetches rotate through
	rot    int             // where the next request starts in subs
	flight *flight         // the fetch in flight, if any
	scan   record.Scanner
}

// flight is a fetch request in flight and the subscriptions it asked for.
type flight struct {
	call *broker.Call
	subs map[fetchKey]*subscription
	ids  map[codec.UUID]string
}

type fetchKey struct {
	topic     string
	partition int32
}

func newBrokerConsumer(c *Consumer, e *brokerEntry) *brokerConsumer {
	return &brokerConsumer{c: c, e: e}
}

// Run is one incarnation of the broker consumer.
func (b *brokerConsumer) Run(ctx context.Context, in *actor.Inbox[brokerMsg]) error {
	b.in, b.owner = in, in.Owner()
	conn, err := b.c.client.Conn(b.e.node, broker.Fetch)
	if err != nil {
		return fmt.Errorf("%s: %w", b.e.name, err)
	}
	b.conn = conn
	var batch []brokerMsg
	for {
		if b.flight == nil {
			b.fetch(ctx)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			for _, m := range batch {
				switch {
				case m.sub != nil:
					m.sub.Take(b.owner)
					b.subs = append(b.subs, m.sub)
				case m.call != nil:
					b.outcome(m.call)
				}
			}
			clear(batch)
			b.sweep()
			if closed {
				return nil
			}
		}
	}
}

// sweep lets go of stopped partitions (released) and paused ones (back to their
// dispatchers, which keep them until Resume).
func (b *brokerConsumer) sweep() {
	for i := 0; i < len(b.subs); {
		s := b.subs[i]
		switch {
		case s.p.stopped.Load():
			b.remove(i)
			b.releaseSub(s)
		case s.p.paused.Load():
			b.remove(i)
			b.handBack(s, nil)
		default:
			i++
		}
	}
}

func (b *brokerConsumer) remove(i int) { b.subs = slices.Delete(b.subs, i, i+1) }

// owns reports whether s is owned by b now (not lent, not handed back).
func (b *brokerConsumer) owns(s *subscription) bool { return slices.Contains(b.subs, s) }

// fetch sends one Fetch request for every partition b owns, if it owns any.
func (b *brokerConsumer) fetch(ctx context.Context) {
	b.sweep()
	if len(b.subs) == 0 {
		return
	}
	cfg := &b.c.cfg
	req := &api.FetchRequest{}
	req.Default()
	req.MaxWaitMs = int32(cfg.MaxWait / time.Millisecond)
	req.MinBytes, req.MaxBytes = cfg.MinBytes, cfg.MaxBytes
	req.IsolationLevel = int8(cfg.IsolationLevel)
	fl := &flight{subs: make(map[fetchKey]*subscription, len(b.subs)), ids: make(map[codec.UUID]string)}
	byTopic := make(map[string]int)
	withoutIDs := false
	// Rotate which partition comes first: a broker fills a response in request order, and
	// gives the first partition with data its first batch whole whatever the limits.
	n := len(b.subs)
	start := b.rot % n
	b.rot++
	for k := range n {
		s := b.subs[(start+k)%n]
		s.Check(b.owner)
		t := s.p.about.Topic
		i, ok := byTopic[t]
		if !ok {
			i = len(req.Topics)
			byTopic[t] = i
			req.Topics = append(req.Topics, api.FetchRequestTopic{Topic: t, TopicID: s.topicID})
			if s.topicID == (codec.UUID{}) {
				withoutIDs = true
			} else {
				fl.ids[s.topicID] = t
			}
		}
		var fp api.FetchRequestPartition
		fp.Default()
		fp.Partition = s.p.about.Partition
		fp.CurrentLeaderEpoch = s.epoch
		fp.FetchOffset = s.cur.next
		fp.PartitionMaxBytes = s.cur.maxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, fp)
		fl.subs[fetchKey{t, fp.Partition}] = s
	}
	self := b.in.Ref()
	call := &broker.Call{
		Request:  req,
		Deadline: time.Now().Add(cfg.MaxWait + cfg.RequestTimeout),
		// The mailbox is unbounded: the outcome is never refused while b runs.
		Done: func(c *broker.Call) { _ = self.TrySend(brokerMsg{call: c}) },
	}
	if withoutIDs {
		call.VersionCap = 12 // v13+ names topics by ID only
	}
	fl.call = call
	if err := b.conn.Send(ctx, call); err != nil {
		b.failAll(err)
		return
	}
	b.flight = fl
}

// outcome handles the end of the fetch in flight.
func (b *brokerConsumer) outcome(call *broker.Call) {
	fl := b.flight
	if fl == nil || fl.call != call {
		return // from an earlier incarnation's request
	}
	b.flight = nil
	if call.Err != nil {
		b.failAll(call.Err)
		return
	}
	resp, ok := call.Response.(*api.FetchResponse)
	if !ok {
		b.failAll(fmt.Errorf("fetch: unexpected response %T", call.Response))
		return
	}
	if err := errcode.ForCode(resp.ErrorCode); err != nil {
		b.failAll(fmt.Errorf("fetch: %w", err))
		return
	}
	for i := range resp.Responses {
		rt := &resp.Responses[i]
		topic := rt.Topic
		if call.Version >= 13 {
			topic = fl.ids[rt.TopicID]
		}
		for j := range rt.Partitions {
			pd := &rt.Partitions[j]
			s := fl.subs[fetchKey{topic, pd.PartitionIndex}]
			if s == nil || !b.owns(s) {
				continue // not asked for, or let go of while the fetch was in flight
			}
			delete(fl.subs, fetchKey{topic, pd.PartitionIndex})
			b.partition(s, pd)
		}
	}
}

// failAll hands every partition b owns back to its dispatcher after the request failed
// as a whole (connection lost, broker gone, breaker open): the dispatchers find out
// where each partition lives now.
func (b *brokerConsumer) failAll(err error) {
	subs := b.subs
	b.subs = nil
	for _, s := range subs {
		s.refresh = true
		s.failures++
		b.handBack(s, err)
	}
}

// partition handles one partition's answer in a fetch response.
func (b *brokerConsumer) partition(s *subscription, pd *api.FetchResponsePartitionData) {
	p := s.p
	if err := errcode.ForCode(pd.ErrorCode); err != nil {
		b.remove(slices.Index(b.subs, s))
		switch {
		case errors.Is(err, errcode.OffsetOutOfRange):
			s.reset = fmt.Errorf("offset %d: %w", s.cur.next, err)
		default:
			s.refresh = true
			s.failures++
		}
		b.handBack(s, err)
		return
	}
	s.failures = 0
	if len(pd.Records) > 0 && b.c.faults.take(&b.c.faults.brokerConsumer) {
		panic("consumer: injected broker consumer failure")
	}
	b.scan.Reset(pd.Records)
	var batches []record.Batch
	for b.scan.Next() {
		batches = append(batches, *b.scan.Batch())
	}
	st := s.cur.apply(partitionFetch{hwm: pd.HighWatermark, lso: pd.LastStableOffset, logStart: pd.LogStartOffset, batches: batches, tail: b.scan.Tail()})
	p.hwm.Store(s.cur.hwm)
	p.lso.Store(s.cur.lso)
	p.logStart.Store(s.cur.logStart)
	corrupt := b.scan.Err()
	if len(st.deliver) == 0 && corrupt == nil {
		if st.moved {
			p.position.Store(s.cur.next) // passed control records: the feeder holds nothing
		}
		return // keep fetching it
	}
	f := &fetched{
		from: st.from, fromEpoch: st.fromEpoch, next: s.cur.next, batches: st.deliver,
		hwm: s.cur.hwm, lso: s.cur.lso, logStart: s.cur.logStart,
	}
	if corrupt != nil {
		f.err = &CorruptError{Topic: p.about.Topic, Partition: p.about.Partition, Offset: s.cur.next, Next: -1, Err: corrupt}
	}
	// Lend the subscription to the feeder with the result; it comes back once the user
	// took the batch.
	b.remove(slices.Index(b.subs, s))
	s.Give(b.owner)
	if err := p.feeder.TrySend(feedMsg{sub: s, fetched: f}); err != nil {
		s.Take(b.owner) // the partition is stopping
		b.releaseSub(s)
	}
}

// handBack gives s to its dispatcher, which subscribes it again (or keeps it while
// paused), and counts it out of b. err says why, for the event; nil for a pause.
func (b *brokerConsumer) handBack(s *subscription, err error) {
	if err != nil {
		b.c.ev.emit(Unsubscribed{About: s.p.about, Broker: b.e.node.ID, Err: err})
	}
	giveToDispatcher(b.owner, s)
}

// releaseSub ends s's life here: its partition stopped.
func (b *brokerConsumer) releaseSub(s *subscription) {
	home := s.home
	s.home = nil
	s.Release(b.owner)
	if home != nil {
		b.c.brokers.release(home)
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
	if p.stopped.Load() || p.dispatcher.TrySend(s) != nil {
		s.Take(from)
		s.Release(from)
	}
	if home != nil {
		p.c.brokers.release(home)
	}
}

// releaseBrokerConsumer is the broker consumers' release hook: after an incarnation ends
// (a failure, or a stop), every subscription it owned goes back to its dispatcher, or is
// released if its partition stopped. A fetch in flight is abandoned; its partitions are
// fetched again from the same positions. After a failure each partition handed back is
// reported (Unsubscribed, with the failure). If that was the broker consumer's last
// subscription it is removed rather than restarted, and the dispatchers' next
// subscription starts a fresh one; otherwise (subscriptions lent to feeders come back to
// it) the supervisor restarts it on the same mailbox.
func releaseBrokerConsumer(a actor.Actor[brokerMsg], err error) {
	b, ok := a.(*brokerConsumer)
	if !ok || b.owner == nil {
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		b.c.cfg.Logger.Error("broker consumer failed", "broker", b.e.name, "err", err)
	}
	subs := b.subs
	b.subs, b.flight = nil, nil
	for _, s := range subs {
		if s.p.stopped.Load() {
			b.releaseSub(s)
			continue
		}
		s.refresh = true
		if err != nil && !errors.Is(err, context.Canceled) {
			b.c.ev.emit(Unsubscribed{About: s.p.about, Broker: b.e.node.ID, Err: err})
		}
		giveToDispatcher(b.owner, s)
	}
}
