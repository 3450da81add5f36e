package consumer

import (
	"fmt"
	"sync"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
)

// brokerSet keeps the broker consumers: one per broker (node ID and address), shared by
// every partition subscribed there and counted by reference, started on the first
// subscription and stopped when the last one leaves — the talk's dynamic multiplexing.
// A broker back on a new address is a new node with a new broker consumer.
//
// Owner: the Consumer. The broker consumers themselves are children of its "brokers"
// supervisor.
type brokerSet struct {
	c   *Consumer
	sup *supervisor.Supervisor

	mu     sync.Mutex
	byNode map[broker.Node]*brokerEntry
	seq    int
}

// brokerEntry is one broker consumer and its reference count: the subscriptions that
// belong to it (owned by it, or on their way to it).
type brokerEntry struct {
	node broker.Node
	name string
	ref  actor.Ref[brokerMsg]
	refs int // guarded by brokerSet.mu
}

func newBrokerSet(c *Consumer) *brokerSet {
	return &brokerSet{
		c: c,
		sup: supervisor.New(supervisor.Config{
			Name: "brokers",
			// A broker consumer fails only on a bug (fetch errors are handed back to the
			// partitions, not failures); restarting it never gives up, with backoff.
			Intensity: supervisor.Unlimited,
			OnEvent:   c.actorEvent,
			Logger:    c.cfg.Logger,
		}),
		byNode: make(map[broker.Node]*brokerEntry),
	}
}

// acquire returns the broker consumer of node, starting it if there is none, and counts
// one more subscription for it. The caller hands the subscription to entry.ref; if that
// fails it must release.
func (s *brokerSet) acquire(node broker.Node) (*brokerEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.byNode[node]; e != nil {
		e.refs++
		return e, nil
	}
	s.seq++
	e := &brokerEntry{node: node, name: fmt.Sprintf("broker-consumer node-%d %s #%d", node.ID, node.Addr, s.seq)}
	ref, err := supervisor.Add(s.sup, supervisor.ChildSpec[brokerMsg]{
		Name:    e.name,
		Kind:    "broker-consumer",
		Restart: supervisor.Transient,
		New:     func() actor.Actor[brokerMsg] { return newBrokerConsumer(s.c, e) },
		// Unbounded, and bounded all the same: a subscription exists once per partition
		// and is in at most one mailbox, at most one fetch outcome is in flight, and
		// wake-ups are sent only by Close and Pause.
		Mailbox: actor.MailboxConfig[brokerMsg]{Capacity: actor.Unbounded, OnDrop: s.c.dropBrokerMsg},
		Release: releaseBrokerConsumer,
	})
	if err != nil {
		return nil, err
	}
	e.ref = ref
	e.refs = 1
	s.byNode[node] = e
	return e, nil
}

// release counts one subscription less for e; the last one stops its broker consumer.
func (s *brokerSet) release(e *brokerEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	if s.byNode[e.node] == e {
		delete(s.byNode, e.node)
	}
	// The stop is a drain stop: the broker consumer owns nothing and nothing is on its
	// way to it, so it exits as soon as it sees its mailbox closed.
	_ = s.sup.RemoveAsync(e.name)
}

// count returns how many broker consumers run and the reference count of each node.
func (s *brokerSet) count() map[broker.Node]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[broker.Node]int, len(s.byNode))
	for n, e := range s.byNode {
		out[n] = e.refs
	}
	return out
}
