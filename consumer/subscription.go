package consumer

import (
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/codec"
)

// subscription is a partition's right to be fetched, and everything fetching needs: the
// fetch-offset bookkeeping, the leader epoch it is subscribed under, and the broker
// consumer it belongs to. Exactly one actor owns it at a time, and it moves only by
// explicit hand-off (actor.Owned; checked under -tags troupecheck), between the
// partition's dispatcher and the broker consumer of the partition's leader:
//
//	             subscribe: Hand (Give, send, Take)
//	dispatcher ─────────────────────────────────────> broker consumer ──fetched──> feeder
//	     ▲                                                  │          (results, owned
//	     └──────────────────────────────────────────────────┘           values too)
//	      hand back: leader moved, epoch fenced, broker gone, connection lost,
//	      offset out of range; or parked: paused, or slow (its feeder held a batch
//	      past MaxProcessingTime) until Resume, or until the feeder caught up
//
// Whoever owns it may read and write its fields; nobody else may touch them. The fields
// below the line are messages to the dispatcher, set by whoever hands it there.
type subscription struct {
	actor.Owned

	p       *part
	cur     cursor
	topicID codec.UUID // from metadata; zero if the cluster reports none
	epoch   int32      // the leader epoch it was last subscribed under; -1 before
	asked   uint32     // the broker consumer's fetch that asked for it last (flight.seq); 0: none since it came
	// home is the broker consumer it is subscribed to, counted in that broker consumer's
	// reference count; nil while the dispatcher has it.
	home *brokerEntry

	// For the dispatcher.
	start    *Offset // not nil: the position is still to be resolved from this
	check    bool    // the position came with its leader epoch (AtEpoch): validate it first
	reset    error   // not nil: the position is out of range (or the topic was recreated)
	refresh  bool    // the leader may have changed: refresh metadata first
	cause    error   // why a broker consumer handed it back, if it did because of an error
	failures int     // consecutive failed subscriptions or hand-backs, for backoff
}

// newSubscription returns the subscription of p, starting at from.
func newSubscription(p *part, from Offset, topicID codec.UUID, cfg *Config) *subscription {
	s := &subscription{p: p, cur: newCursor(int32(cfg.MaxPartitionBytes), int32(cfg.MaxBytes)), topicID: topicID, epoch: -1}
	s.cur.readCommitted = cfg.IsolationLevel == ReadCommitted
	if from.kind == kindExact {
		s.cur.seek(from.at, from.epoch)
		s.check = from.epoch >= 0
	} else {
		s.start = &from
	}
	return s
}

// key is s's partition as fetch requests and responses name it.
func (s *subscription) key() fetchKey { return fetchKey{s.p.about.Topic, s.p.about.Partition} }

// end releases s for good (owned by o): its partition stopped, or failed.
func (s *subscription) end(o *actor.Owner) {
	s.Release(o)
	s.p.subEnded()
}

// prefetch is how many fetch results a partition's feeder may hold undelivered: the
// broker consumer leaves the partition out of its fetches while the feeder holds this
// many. Two let the next fetch overlap the user's processing of the current batch, and
// bound what a partition holds in memory to about two MaxPartitionBytes.
const prefetch = 2

// readerPrefetch is prefetch for a Reader's partitions: one fetch result each. A reader
// polls for all its partitions at once, so the fetch that refills a partition overlaps
// the caller's processing of what Poll returned for every other one; a second result per
// partition would double what a reader holds (as franz-go holds one fetch per broker)
// without making it faster.
const readerPrefetch = 1
