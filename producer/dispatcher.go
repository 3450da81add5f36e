package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
)

// dispatcher is the actor that fans records out by topic (the talk's dispatcher): it
// drains everything Produce (or the last custom stage) queued, splits it by topic keeping
// each topic's order, and hands each topic producer its share as one message, creating the
// topic producer on the topic's first record. It also passes the cluster's topic changes
// (a topic recreated under a new ID) to the topic producers concerned.
//
// Owner: the producer's supervisor. It is the only actor whose mailbox receives records
// one at a time; everything after it moves records in slices.
type dispatcher struct {
	p *Producer
	// topics are the topic producers by topic. The map belongs to the producer, not to one
	// incarnation of the dispatcher: a restarted dispatcher finds its topic producers again.
	topics map[string]actor.Ref[topicMsg]
	unsent [][]Pending // while dispatching: the records not yet handed to a topic producer
}

// releaseDispatcher is the supervisor's release hook: records the dispatcher had taken
// and not yet handed on fail, not written, so that nothing it held is lost.
func releaseDispatcher(a actor.Actor[Pending], err error) {
	d := a.(*dispatcher)
	for _, recs := range d.unsent {
		for _, r := range recs {
			d.p.failPending(r, notWritten(r.rec.Topic, -1, fmt.Errorf("dispatcher failed: %w", err)))
		}
	}
	d.unsent = nil
}

// dispatchMax is the most records the dispatcher takes from its mailbox at a time.
const dispatchMax = 4096

func (d *dispatcher) Run(ctx context.Context, in *actor.Inbox[Pending]) error {
	sub := d.p.client.Subscribe()
	defer sub.Close()
	var batch []Pending
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-sub.Ready():
			for _, c := range sub.Take() {
				if ref, ok := d.topics[c.TopicName()]; ok {
					_ = ref.TrySend(topicMsg{changes: []cluster.Change{c}})
				}
			}
		case <-in.Ready():
			// A bounded bite at a time: a burst of records moves on in slices of at most
			// dispatchMax, which bounds the memory of every slice downstream and lets
			// partitions seal their batches on time.
			var closed bool
			batch, closed = in.DrainMax(batch[:0], dispatchMax)
			if len(batch) > 0 {
				d.stamp(batch)
				batch = d.dispatch(batch)
			}
			if closed {
				return nil
			}
		}
	}
}

// stamp sets the intake time of records taken into the pipeline (their delivery
// deadline counts from it, and it is the timestamp of those without one) from one
// reading of the clock.
func (d *dispatcher) stamp(batch []Pending) {
	now := time.Now().UnixNano()
	for i := range batch {
		if batch[i].taken == 0 {
			batch[i].taken = now
		}
	}
}

// dispatch hands the batch's records to their topic producers and returns a slice the
// caller may reuse for the next batch. A batch for a single topic (the common case) is
// handed over whole.
func (d *dispatcher) dispatch(batch []Pending) []Pending {
	topic := batch[0].rec.Topic
	single := true
	for i := range batch {
		if batch[i].rec.Topic != topic {
			single = false
			break
		}
	}
	if single {
		d.unsent = append(d.unsent[:0], batch)
		d.send(topic, batch)
		d.unsent = d.unsent[:0]
		return getPendings(dispatchMax) // the topic producer owns the batch now; the next bite fits
	}
	groups := make(map[string][]Pending)
	var order []string
	for i := range batch {
		t := batch[i].rec.Topic
		g, ok := groups[t]
		if !ok {
			order = append(order, t)
			g = getPendings(len(batch))
		}
		groups[t] = append(g, batch[i])
	}
	d.unsent = d.unsent[:0]
	for _, t := range order {
		d.unsent = append(d.unsent, groups[t])
	}
	clear(batch)
	for _, t := range order {
		d.send(t, groups[t])
		d.unsent = d.unsent[1:]
	}
	return batch[:0]
}

// send hands recs to their topic producer, or fails them all, not written.
func (d *dispatcher) send(topic string, recs []Pending) {
	if err := d.sendTo(topic, recs); err != nil {
		for _, r := range recs {
			d.p.failPending(r, notWritten(topic, -1, err))
		}
	}
}

// sendTo hands recs to topic's producer, creating it on the topic's first records. On
// error, it has handed over none of them.
func (d *dispatcher) sendTo(topic string, recs []Pending) error {
	if topic == "" { // Produce refuses records without a topic: a custom stage took it away
		return fmt.Errorf("%w: no topic after the custom stages", ErrInvalidRecord)
	}
	ref, ok := d.topics[topic]
	if !ok {
		p := d.p
		acc := p.topicAcc(topic)
		var err error
		ref, err = supervisor.Add(p.topics, supervisor.ChildSpec[topicMsg]{
			Name: topic,
			Kind: "topic-producer",
			New:  func() actor.Actor[topicMsg] { return &topicProducer{p: p, topic: topic, acc: acc} },
			// Unbounded, and bounded all the same: it holds records within the budget.
			Mailbox: actor.MailboxConfig[topicMsg]{Capacity: actor.Unbounded, OnDrop: p.dropTopicMsg},
			Release: releaseTopic,
		})
		if errors.Is(err, actor.ErrStopped) { // the producer is closing
			return fmt.Errorf("%w: %w", errProducerClosed, err)
		} else if err != nil {
			return err
		}
		d.topics[topic] = ref
		p.registerTopic(ref)
	}
	if err := ref.TrySend(topicMsg{recs: recs}); err != nil {
		return fmt.Errorf("%w: %w", errProducerClosed, err)
	}
	return nil
}

// dropTopicMsg fails the records a topic producer's mailbox discards when the producer
// is stopped for good.
func (p *Producer) dropTopicMsg(m topicMsg) {
	for _, r := range m.recs {
		p.failPending(r, notWritten(r.rec.Topic, -1, errProducerClosed))
	}
}

// dropPending fails a record that the dispatcher's or a stage's mailbox discards.
func (p *Producer) dropPending(r Pending) {
	p.failPending(r, notWritten(r.rec.Topic, -1, errProducerClosed))
}
