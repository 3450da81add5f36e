package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// topicMsg is a message to a topic producer: records from the dispatcher, a metadata
// answer, topic changes, or the news that Close has begun.
type topicMsg struct {
	recs      []Pending
	refreshed *refreshed
	changes   []cluster.Change
	closing   bool
}

// topicProducer is the actor that routes the records of one topic that took the actor
// path (through custom stages, or while the topic is not described yet) to its
// partitions. It partitions a whole batch of records against one metadata snapshot, so
// that the partitioner and the partition count agree, and appends each partition's share
// to that partition's accumulator, as Produce does for the records it routes itself.
// Records for a topic the cluster does not know (yet) wait here for up to
// UnknownTopicWait, holding at most UnknownTopicShare of the budget, while it asks for
// metadata; then they fail with what kept the topic away (see waitErr). They fail at once
// when a metadata request failed for a cause waiting will not cure (broker.ErrPermanent),
// and, once Close has begun, as soon as metadata still cannot describe the topic.
//
// Owner: the producer's "topics" supervisor; created by the dispatcher on the topic's
// first record that takes the actor path. The topic's routing state (topicAcc: the
// partitioner, the partitions' accumulators and their partition producers, run by the
// drivers, children of the producer's supervisor) is shared with Produce and outlives it.
type topicProducer struct {
	p     *Producer
	topic string

	in         *actor.Inbox[topicMsg]
	acc        *topicAcc // the topic's routing state, shared with Produce
	waiting    []Pending // records held while the topic is unknown
	since      time.Time // when the oldest of them started waiting
	refreshing bool
	retryAt    time.Time   // after a failed refresh, no new one before this
	lastErr    error       // the last refresh's failure, nil after one succeeded
	closing    bool        // Close has begun: waiting records wait no longer than metadata needs to answer
	out        [][]Pending // per-partition shares being built
	parts      []*partAcc  // scratch: the accumulators of the shares
	inHand     []Pending   // the records being routed; those from next on are not yet placed
	next       int
}

func (tp *topicProducer) Run(ctx context.Context, in *actor.Inbox[topicMsg]) error {
	tp.in = in
	tp.closing = tp.p.closed.Load() // a restarted incarnation may have missed Close's notice
	var alarm actor.Alarm           // while records wait for the topic: the end of their wait, or the next refresh
	defer alarm.Stop()
	var msgs []topicMsg
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-alarm.C():
		case <-in.Ready():
			var closed bool
			msgs, closed = in.Drain(msgs[:0])
			for i := range msgs {
				tp.handle(&msgs[i])
			}
			clear(msgs)
			if closed {
				tp.failWaiting(errProducerClosed)
				return nil
			}
		}
		now := time.Now()
		tp.route(nil, now)
		var next time.Time
		if len(tp.waiting) > 0 {
			next = tp.since.Add(tp.p.cfg.UnknownTopicWait)
			if !tp.refreshing && tp.retryAt.After(now) && tp.retryAt.Before(next) {
				next = tp.retryAt
			}
		}
		alarm.Set(next)
	}
}

func (tp *topicProducer) handle(m *topicMsg) {
	switch {
	case m.recs != nil:
		tp.route(m.recs, time.Now())
	case m.refreshed != nil:
		tp.refreshing = false
		tp.lastErr = m.refreshed.err
		if m.refreshed.err != nil {
			// A refresh can fail at once (the client closed, its metadata breaker open):
			// asking again at once would spin.
			tp.retryAt = time.Now().Add(tp.p.cfg.Backoff.Min)
		}
		switch {
		case errors.Is(m.refreshed.err, broker.ErrPermanent):
			tp.failWaiting(fmt.Errorf("topic %q cannot be described: %w", tp.topic, m.refreshed.err))
		case tp.closing:
			tp.failIfUndescribed()
		}
	case m.closing:
		tp.closing = true
		if tp.lastErr != nil {
			tp.failIfUndescribed() // metadata has been failing: do not wait for it
		}
	case m.changes != nil:
		for _, c := range m.changes {
			if _, ok := c.(cluster.TopicRecreated); ok {
				tp.acc.mu.Lock()
				for _, pa := range tp.acc.parts {
					if pa != nil {
						_ = pa.pp.tell(partMsg{reset: true})
					}
				}
				tp.acc.mu.Unlock()
			}
		}
	}
}

// route partitions recs (after any records waiting for the topic) against the current
// snapshot and hands them to their partition producers.
func (tp *topicProducer) route(recs []Pending, now time.Time) {
	snap := tp.p.client.Snapshot()
	t := snap.Topic(tp.topic)
	if !routable(t) {
		if t != nil && t.Err != nil && !errors.Is(t.Err, errcode.UnknownTopicOrPartition) && !errcode.Retriable(t.Err) {
			// The cluster refuses the topic (authorization, invalid name): waiting
			// will not help.
			tp.failAll(recs, fmt.Errorf("topic %q refused: %w", tp.topic, t.Err))
			tp.failWaiting(fmt.Errorf("topic %q refused: %w", tp.topic, t.Err))
			return
		}
		// Only a topic the cluster said it does not know is held to its share of the
		// budget; one not looked up yet (every topic, at first) is not.
		tp.hold(recs, now, t != nil)
		return
	}
	if len(tp.waiting) > 0 {
		recs = append(tp.waiting, recs...)
		tp.waiting = nil
	}
	if len(recs) == 0 {
		return
	}
	// Until every record is in its partition's share or failed, recs[tp.next:] are in
	// hand: the release hook fails them if the partitioner (user code) panics.
	tp.inHand, tp.next = recs, 0
	n := len(t.Partitions)
	for len(tp.out) < n {
		tp.out = append(tp.out, nil)
	}
	parts := tp.split(recs, t, snap.Generation)
	tp.inHand = nil
	putPendings(recs) // every record is in its partition's share now, or failed
	for i, pa := range parts {
		if len(tp.out[i]) == 0 {
			continue
		}
		if pa == nil || !pa.add(tp.out[i], now, true) { // the producer is closing, past Close's deadline
			tp.failAll(tp.out[i], errProducerClosed)
		} else {
			tp.p.leftActorPath(tp.topic, len(tp.out[i]))
		}
		clear(tp.out[i])
		tp.out[i] = tp.out[i][:0]
	}
}

// split partitions recs into tp.out under the topic's lock (the partitioner is shared
// with Produce) and returns the partitions' accumulators, by partition. A record the
// partitioner refuses fails; a panic in it fails the record it was choosing for.
func (tp *topicProducer) split(recs []Pending, t *cluster.Topic, gen uint64) []*partAcc {
	ta := tp.acc
	ta.mu.Lock()
	defer ta.mu.Unlock()
	n := len(t.Partitions)
	ta.learn(t, gen)
	for i := range recs {
		p, err := ta.choose(recs[i], n)
		tp.next = i + 1
		if err != nil {
			tp.fail(recs[i], -1, err)
			continue
		}
		tp.out[p] = append(tp.out[p], recs[i])
	}
	parts := tp.parts[:0]
	for i := 0; i < n; i++ {
		var pa *partAcc
		if len(tp.out[i]) > 0 {
			pa = ta.partition(i)
		}
		parts = append(parts, pa)
	}
	tp.parts = parts
	return parts
}

// failIfUndescribed fails, as closed, the records waiting for the topic if the snapshot
// still cannot route them: Close does not wait out UnknownTopicWait.
func (tp *topicProducer) failIfUndescribed() {
	if len(tp.waiting) == 0 || routable(tp.p.client.Snapshot().Topic(tp.topic)) {
		return
	}
	tp.failWaiting(fmt.Errorf("%w: %w", errProducerClosed, tp.waitErr("before Close")))
}

// routable reports whether records for t can be partitioned: the topic is described,
// without error, with partitions.
func routable(t *cluster.Topic) bool { return t != nil && t.Err == nil && len(t.Partitions) > 0 }

// waitErr says why the records waiting for the topic could not be routed (within when):
//   - the brokers said the topic does not exist: ErrUnknownTopic, also matching
//     errcode.UnknownTopicOrPartition;
//   - the topic exists but metadata lists no usable partitions (no leader yet): its
//     Kafka error, errcode.LeaderNotAvailable if metadata gave none;
//   - no broker described it: the last metadata failure, which matches
//     cluster.ErrUnavailable and names the broker and the cause, or cluster.ErrUnavailable
//     if no answer came at all.
func (tp *topicProducer) waitErr(when string) error {
	t := tp.p.client.Snapshot().Topic(tp.topic)
	switch {
	case t != nil && errors.Is(t.Err, errcode.UnknownTopicOrPartition):
		return fmt.Errorf("%w: the brokers do not know %q, and it did not appear %s: %w", ErrUnknownTopic, tp.topic, when, t.Err)
	case t != nil && t.Err != nil:
		return fmt.Errorf("topic %q not ready %s: %w", tp.topic, when, t.Err)
	case t != nil:
		return fmt.Errorf("topic %q has no usable partitions %s: %w", tp.topic, when, errcode.LeaderNotAvailable)
	case tp.lastErr != nil:
		return fmt.Errorf("topic %q not described %s: %w", tp.topic, when, tp.lastErr)
	}
	return fmt.Errorf("%w: topic %q: no metadata answer %s", cluster.ErrUnavailable, tp.topic, when)
}

// hold keeps records for a topic the cluster does not know yet, within the topic's share
// of the budget, and asks for metadata.
func (tp *topicProducer) hold(recs []Pending, now time.Time, unknown bool) {
	if len(tp.waiting) == 0 && len(recs) > 0 {
		tp.since = now
	}
	limit := int(float64(tp.p.budget.recordLimit()) * tp.p.cfg.UnknownTopicShare)
	for _, r := range recs {
		if unknown && len(tp.waiting) >= max(1, limit) {
			tp.fail(r, -1, fmt.Errorf("%w; more records wait for it than UnknownTopicShare allows", tp.waitErr("yet")))
			continue
		}
		tp.waiting = append(tp.waiting, r)
	}
	if len(tp.waiting) > 0 && now.Sub(tp.since) >= tp.p.cfg.UnknownTopicWait {
		tp.failWaiting(tp.waitErr(fmt.Sprintf("within UnknownTopicWait, %v", tp.p.cfg.UnknownTopicWait)))
		return
	}
	if len(tp.waiting) > 0 && !tp.refreshing && !now.Before(tp.retryAt) {
		tp.refreshing = true
		self := tp.in.Ref()
		tp.p.client.RefreshAsync(func(_ *cluster.Snapshot, err error) {
			_ = self.TrySend(topicMsg{refreshed: &refreshed{err: err}})
		}, tp.topic)
	}
}

func (tp *topicProducer) failWaiting(err error) {
	w := tp.waiting
	tp.waiting = nil
	tp.failAll(w, err)
}

func (tp *topicProducer) failAll(recs []Pending, err error) {
	for i := range recs {
		tp.fail(recs[i], -1, err)
	}
}

// fail reports one record as not written and returns its budget.
func (tp *topicProducer) fail(p Pending, partition int32, err error) {
	tp.p.failPending(p, notWritten(tp.topic, partition, err))
}

// releaseTopic is the supervisor's release hook: a topic producer that failed (its
// partitioner panicked, say) fails every record it held, not written — those waiting for
// the topic, those placed in partition shares not yet handed on, and those not yet placed
// — so that their callbacks run and their budget returns.
func releaseTopic(a actor.Actor[topicMsg], err error) {
	tp := a.(*topicProducer)
	cause := fmt.Errorf("topic producer of %q failed: %w", tp.topic, err)
	tp.failWaiting(cause)
	for p := range tp.out {
		tp.failAll(tp.out[p], cause)
		tp.out[p] = nil
	}
	if tp.inHand != nil {
		tp.failAll(tp.inHand[tp.next:], cause)
		tp.inHand = nil
	}
}
