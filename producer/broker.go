package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/codec"
)

// bpMsg is a message to a broker producer: a sealed batch to send, or word that one of
// its requests finished (a slot for another).
type bpMsg struct {
	b        *batch
	finished bool
}

// brokerProducer is the actor that sends the sealed batches of every partition led by
// one broker. It aggregates: each produce request takes the oldest queued batch of every
// partition that has one (one batch per partition per request, so a partition's batches
// reach the broker in order), up to MaxRequestBytes; and it flushes: up to
// MaxInflightRequests requests are pipelined on the broker's produce connection. While all
// slots are busy, batches accumulate, so requests grow with the load.
//
// A request's outcome does not come back through this actor: the connection's completion
// callback hands each batch's result straight to its partition producer (which owns it
// again from then on), and only tells this actor that a slot is free. So a broker
// producer that stops or restarts can never lose an outcome.
//
// Owner: the producer's "brokers" supervisor; started and stopped by the broker registry
// as partitions come and go (dynamic multiplexing). Its release hook hands queued batches
// back to their partitions as not sent.
type brokerProducer struct {
	p    *Producer
	node broker.Node

	in       *actor.Inbox[bpMsg]
	conn     *broker.Handle
	queues   map[*partition][]*batch // queued batches by partition, oldest first
	order    []*partition            // partitions with queued batches, round robin
	inflight int
	// peak is the most partitions queues has held since it was last made: a Go map keeps
	// the room it grew to, so an idle broker producer remakes a map that grew past
	// keepScratch (shrink).
	peak int
	// topics indexes a request's topics in req.TopicData while flush builds it; it is
	// reused (cleared) by every request.
	topics map[topicKey]int
}

// topicKey names a topic in a produce request: by name, and by ID when known.
type topicKey struct {
	name string
	id   codec.UUID
}

func (bp *brokerProducer) Run(ctx context.Context, in *actor.Inbox[bpMsg]) error {
	bp.in = in
	bp.queues = make(map[*partition][]*batch)
	conn, err := bp.p.client.Conn(bp.node, broker.Produce)
	if err != nil {
		return err
	}
	bp.conn = conn
	var msgs []bpMsg
	for {
		var closed bool
		var err error
		msgs, closed, err = in.Receive(msgs[:0])
		if err != nil {
			return err
		}
		bp.p.hops.brokerWakes.Add(1)
		bp.p.hops.brokerMsgs.Add(uint64(len(msgs)))
		for _, m := range msgs {
			if m.finished {
				bp.inflight = max(0, bp.inflight-1)
				continue
			}
			m.b.Take(in.Owner())
			part := m.b.part
			if len(bp.queues[part]) == 0 {
				bp.order = append(bp.order, part)
			}
			bp.queues[part] = append(bp.queues[part], m.b)
		}
		bp.peak = max(bp.peak, len(bp.queues))
		clear(msgs)
		for bp.inflight < bp.p.cfg.MaxInflightRequests && len(bp.order) > 0 {
			bp.flush()
		}
		if bp.inflight == 0 && len(bp.order) == 0 {
			// Idle: nothing queued, no request out. Give back what a burst grew.
			msgs = bp.shrink(msgs)
		}
		if closed {
			for len(bp.order) > 0 { // the last partition left: send what it left behind
				bp.flush()
			}
			return nil
		}
	}
}

// flush builds one produce request from the queued batches and sends it.
func (bp *brokerProducer) flush() {
	req := &api.ProduceRequest{}
	req.Default()
	req.Acks = bp.p.cfg.Acks.wire()
	req.TimeoutMs = int32(bp.p.cfg.RequestTimeout / time.Millisecond)
	// Room for a batch of every queued partition: growing these by append was an eighth
	// of the producer's allocation at 10000 partitions.
	batches := make([]*batch, 0, len(bp.order))
	size := 0
	if bp.topics == nil {
		bp.topics = make(map[topicKey]int)
	}
	topics := bp.topics // -> index in req.TopicData
	defer clear(topics)
	var (
		names []string     // by index in req.TopicData
		ids   []codec.UUID // likewise
	)
	named := false // some topic's ID is unknown: name topics (v12 at most)
	next := bp.order[:0]
	for i, part := range bp.order {
		q := bp.queues[part]
		if size > 0 && size+len(q[0].raw) > bp.p.cfg.MaxRequestBytes {
			next = append(next, bp.order[i:]...)
			break
		}
		b := q[0]
		if len(q) == 1 {
			delete(bp.queues, part)
		} else {
			bp.queues[part] = q[1:]
			next = append(next, part)
		}
		size += len(b.raw)
		key := topicKey{part.topic, b.topicID}
		ti, ok := topics[key]
		if !ok {
			ti = len(req.TopicData)
			topics[key] = ti
			// The first topic gets room for every queued partition (one topic is the
			// common case); later ones grow as they need.
			var room []api.ProduceRequestPartitionProduceData
			if ti == 0 {
				room = make([]api.ProduceRequestPartitionProduceData, 0, len(bp.order))
			}
			req.TopicData = append(req.TopicData, api.ProduceRequestTopicProduceData{Name: part.topic, PartitionData: room})
			names, ids = append(names, part.topic), append(ids, b.topicID)
			named = named || b.topicID.IsZero()
		}
		b.reqTopic, b.reqPart = int32(ti), int32(len(req.TopicData[ti].PartitionData))
		req.TopicData[ti].PartitionData = append(req.TopicData[ti].PartitionData,
			api.ProduceRequestPartitionProduceData{Index: part.id, Records: b.raw})
		b.Give(bp.in.Owner()) // to the connection; the completion hands it to its partition
		batches = append(batches, b)
	}
	bp.order = next
	if len(req.TopicData) > keepScratch {
		bp.topics = nil // do not keep room for this many topics
	}
	bp.p.hops.requests.Add(1)
	bp.p.hops.sent.Add(uint64(len(batches)))
	self := bp.in.Ref()
	acks := bp.p.cfg.Acks
	versionCap := int16(0) // the highest both sides speak
	if named {
		versionCap = 12
	}
	call := &broker.Call{
		Request:    req,
		VersionCap: versionCap,
		Prepare: func(version int16) error {
			// Produce v13 names topics by ID (KIP-516), earlier versions by name. A topic
			// recreated under a new ID is then refused (UNKNOWN_TOPIC_ID) rather than
			// written to by a producer that has not seen the recreation yet.
			for i := range req.TopicData {
				t := &req.TopicData[i]
				if version >= 13 {
					t.Name, t.TopicID = "", ids[i]
				} else {
					t.Name, t.TopicID = names[i], codec.UUID{}
				}
			}
			return nil
		},
		Deadline:   time.Now().Add(bp.p.cfg.RequestTimeout + 10*time.Second),
		NoResponse: acks == AcksNone,
		Done: func(c *broker.Call) {
			deliverResults(c, batches)
			_ = self.TrySend(bpMsg{finished: true})
		},
	}
	bp.inflight++
	if err := bp.send(call); err != nil {
		bp.inflight--
		call.Err = err
		deliverResults(call, batches)
	}
}

// shrink gives back what a burst grew: the queue map, the round-robin order, the drain
// buffer msgs (it returns the one to keep) and the mailbox's ring, each only if it grew
// past keepScratch. The broker producer calls it when it has nothing queued and no
// request out, so a busy one never pays it, and one that leads a few partitions never
// reallocates.
func (bp *brokerProducer) shrink(msgs []bpMsg) []bpMsg {
	shrunk := false
	if bp.peak > keepScratch {
		bp.queues, bp.peak, shrunk = make(map[*partition][]*batch), 0, true
	}
	if cap(bp.order) > keepScratch {
		bp.order, shrunk = nil, true
	}
	if cap(msgs) > keepScratch {
		msgs, shrunk = nil, true
		bp.in.Compact()
	}
	if shrunk {
		bp.p.hops.brokerShrinks.Add(1)
	}
	return msgs
}

// send hands call to the broker's produce connection. A connection is retired when a
// metadata response no longer lists its broker (it went down), and a retired Handle
// refuses every call from then on; the broker may be back, at the same address, by the
// time partitions route to it again. So a call the connection refuses as stopped is
// handed to the pool's current connection for the broker, a new one if the old was
// retired. If the broker is still gone, that one fails the call too (not sent) and the
// partitions look for their leaders again.
func (bp *brokerProducer) send(call *broker.Call) error {
	err := bp.conn.TrySend(call)
	if err == nil || !errors.Is(err, broker.ErrConnStopped) {
		return err
	}
	conn, cerr := bp.p.client.Conn(bp.node, broker.Produce)
	if cerr != nil || conn == bp.conn {
		return err // the client is closing: the connection is stopped for good
	}
	bp.conn = conn
	return conn.TrySend(call)
}

// deliverResults hands every batch of a finished request its result, at its partition
// producer (through its driver). It runs on the connection's goroutine and never blocks:
// the drivers' mailboxes are unbounded (the budget bounds them).
func deliverResults(c *broker.Call, batches []*batch) {
	if len(batches) > 0 {
		batches[0].part.p.hops.results.Add(uint64(len(batches)))
	}
	var resp *api.ProduceResponse
	if c.Err == nil && c.Response != nil {
		resp = c.Response.(*api.ProduceResponse)
	}
	for _, b := range batches {
		r := &b.res
		*r = result{b: b, err: c.Err, baseOffset: -1, appendTime: -1}
		if c.Err == nil {
			if resp == nil { // acks=0: written, offset unknown
				r.code = 0
			} else if pr := findPartition(resp, b); pr == nil {
				r.err = fmt.Errorf("%w: the response does not mention %s[%d]", broker.ErrProtocol, b.part.topic, b.part.id)
			} else {
				r.code, r.baseOffset, r.appendTime = pr.ErrorCode, pr.BaseOffset, pr.LogAppendTimeMs
				if pr.ErrorMessage != nil {
					r.message = *pr.ErrorMessage
				}
			}
		}
		if err := b.part.tell(partMsg{result: r}); err != nil {
			// The partition producer is gone (the producer closed past its deadline and
			// already reported these records); nothing is left to tell.
			continue
		}
	}
}

// findPartition finds the answer for b's partition in resp: by topic name, or by topic ID
// from v13 on. Brokers answer in the order of the request, so it looks where b was in the
// request first; it searches only if the answer is not there (a linear search per batch
// made a request of n partitions cost n² at thousands of partitions).
func findPartition(resp *api.ProduceResponse, b *batch) *api.ProduceResponsePartitionProduceResponse {
	topic, topicID, id := b.part.topic, b.topicID, b.part.id
	if ti, pi := int(b.reqTopic), int(b.reqPart); ti < len(resp.Responses) {
		t := &resp.Responses[ti]
		if (t.Name == topic || (!t.TopicID.IsZero() && t.TopicID == topicID)) &&
			pi < len(t.PartitionResponses) && t.PartitionResponses[pi].Index == id {
			return &t.PartitionResponses[pi]
		}
	}
	for i := range resp.Responses {
		t := &resp.Responses[i]
		if t.Name != topic && (t.TopicID.IsZero() || t.TopicID != topicID) {
			continue
		}
		for j := range t.PartitionResponses {
			if t.PartitionResponses[j].Index == id {
				return &t.PartitionResponses[j]
			}
		}
	}
	return nil
}

// releaseBrokerProducer is the supervisor's release hook: batches still queued in a
// broker producer that failed or stopped go back to their partitions, not sent.
func releaseBrokerProducer(a actor.Actor[bpMsg], _ error) {
	bp := a.(*brokerProducer)
	for _, part := range bp.order {
		for _, b := range bp.queues[part] {
			b.Give(bp.in.Owner())
			b.res = result{b: b, err: errBrokerProducerGone}
			_ = part.tell(partMsg{result: &b.res})
		}
	}
	bp.order, bp.queues = nil, nil
}

var errBrokerProducerGone = &broker.Error{Broker: "broker producer", Key: api.Produce, Err: broker.ErrConnStopped}

// brokers is the registry of broker producers: a broker producer per broker node, shared
// by reference count (supervisor.Shared, the talk's "global, locked, reference-counted
// map"). A partition producer acquires the broker producer of its leader and releases it
// when the leader moves; the last release stops the broker producer with a drain stop (it
// sends what it holds first).
type brokers = supervisor.Shared[broker.Node, bpMsg]

// brokerEntry is one broker producer, as the partitions routed to it hold it.
type brokerEntry = supervisor.SharedChild[broker.Node, bpMsg]

// newBrokers returns the registry of p's broker producers, children of sup.
func newBrokers(p *Producer, sup *supervisor.Supervisor) *brokers {
	return supervisor.NewShared(sup, func(node broker.Node, _ string) supervisor.ChildSpec[bpMsg] {
		return supervisor.ChildSpec[bpMsg]{
			Kind: "broker-producer",
			New:  func() actor.Actor[bpMsg] { return &brokerProducer{p: p, node: node} },
			// Unbounded, and bounded all the same: it holds sealed batches (within the
			// budget) and one notice per request in flight.
			Mailbox: actor.MailboxConfig[bpMsg]{Capacity: actor.Unbounded},
			Release: releaseBrokerProducer,
		}
	})
}
