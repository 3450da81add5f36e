package consumer

import (
	"fmt"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
)

// brokerSet keeps the broker consumers: one per broker (node ID and address), shared by
// every partition subscribed there and counted by reference, started on the first
// subscription and stopped when the last one leaves — the talk's dynamic multiplexing,
// which supervisor.Shared implements. A broker back on a new address is a new node with a
// new broker consumer.
//
// Owner: the Consumer. The broker consumers themselves are children of its "brokers"
// supervisor. A reference counts a subscription that belongs to the broker consumer
// (owned by it, or on its way to it); whoever hands a subscription to it after Acquire
// must Release if the hand-over fails.
type brokerSet struct {
	sup *supervisor.Supervisor
	*supervisor.Shared[brokerKey, brokerMsg]
}

// brokerKey is the broker of a broker consumer. It names the broker consumer too, as
// supervisor.Shared names a child after its key: "broker-consumer node-1 host:9092 #3".
type brokerKey broker.Node

func (k brokerKey) String() string {
	return fmt.Sprintf("broker-consumer node-%d %s", k.ID, k.Addr)
}

// brokerEntry is one broker consumer, as the subscriptions of its broker hold it.
type brokerEntry = supervisor.SharedChild[brokerKey, brokerMsg]

func newBrokerSet(c *Consumer) *brokerSet {
	sup := supervisor.New(supervisor.Config{
		Name: "brokers",
		// A broker consumer fails only on a bug (fetch errors are handed back to the
		// partitions, not failures); restarting it never gives up, with backoff.
		Intensity: supervisor.Unlimited,
		OnEvent:   c.actorEvent,
		Logger:    c.cfg.Logger,
	})
	return &brokerSet{
		sup: sup,
		Shared: supervisor.NewShared(sup, func(key brokerKey, name string) supervisor.ChildSpec[brokerMsg] {
			return supervisor.ChildSpec[brokerMsg]{
				Kind:    "broker-consumer",
				Restart: supervisor.Transient,
				New:     func() actor.Actor[brokerMsg] { return newBrokerConsumer(c, broker.Node(key), name) },
				// Unbounded, and bounded all the same: a subscription exists once per
				// partition and is in at most one mailbox, at most one fetch outcome is in
				// flight, and wake-ups (a partition's room, pause, stop, the reader's
				// budget) are nudges, which queue nothing.
				Mailbox: actor.MailboxConfig[brokerMsg]{Capacity: actor.Unbounded, OnDrop: c.dropBrokerMsg},
				Release: releaseBrokerConsumer,
			}
		}),
	}
}
