package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// The lookups a dispatcher makes before it subscribes a partition: a metadata refresh
// (the leader may have moved), where an offset spec points (ListOffsets, asked at the
// leader under the leader epoch the dispatcher found in metadata), and where a leader
// epoch ends (OffsetForLeaderEpoch, KIP-320, likewise), so that a leader that moved on
// answers FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH rather than a stale answer.
//
// A dispatcher never waits for them. It collects what its held partitions need into one
// lookup per kind and leader (every partition of one broker in one request), sends it
// asynchronously (broker.Call, cluster.Client.RefreshAsync) and goes on; the answer comes
// back through its waker (waker.finished), and the next step files it with the
// partitions that asked. At most one lookup of a kind is in flight per leader: the
// partitions that need one meanwhile go together in the next, once it is answered. So a
// reader given 3000 partitions at once asks three brokers, not 3000 times one after
// the other.

// lookupKind is what a lookup asks.
type lookupKind uint8

const (
	lookNone     lookupKind = iota
	lookMetadata            // a metadata refresh of the partitions' topics
	lookList                // ListOffsets at the leader: where an offset spec points
	lookEpoch               // OffsetForLeaderEpoch at the leader: where a leader epoch ends
)

func (k lookupKind) String() string {
	switch k {
	case lookMetadata:
		return "metadata"
	case lookList:
		return "list offsets"
	case lookEpoch:
		return "offset for leader epoch"
	}
	return "none"
}

// query is what one partition needs looked up before it can be subscribed.
type query struct {
	kind  lookupKind
	node  broker.Node // lookList, lookEpoch: the leader asked
	epoch int32       // lookList, lookEpoch: the leader epoch it is asked under
	at    int64       // lookList: listOldest, listNewest or milliseconds
	last  int32       // lookEpoch: the leader epoch whose end is asked
}

// lookupKey is what partitions share to be asked in one lookup.
type lookupKey struct {
	kind lookupKind
	node int32 // the leader's node ID (lookList, lookEpoch); 0 for metadata
}

func (q query) key() lookupKey {
	if q.kind == lookMetadata {
		return lookupKey{kind: lookMetadata}
	}
	return lookupKey{kind: q.kind, node: q.node.ID}
}

// answer is what a lookup found for one partition.
type answer struct {
	q query
	// lookList: the offset at q.at (-1 for a time after every record) and the leader
	// epoch of the record there. lookEpoch: where epoch q.last ends in the leader's log,
	// and the largest epoch at or below it the leader has (-1, -1: it knows none).
	off   int64
	epoch int32
	err   error
}

// lookup is one request in flight for some of a dispatcher's partitions: it belongs to
// the dispatcher until it is sent, to the connection (or the metadata actor) until it
// is answered, and then to the dispatcher again (through waker.finished).
type lookup struct {
	key     lookupKey
	members []lookupMember
	topics  []string // lookMetadata
	call    broker.Call
	err     error // lookMetadata: the refresh's outcome
}

// lookupMember is one partition a lookup asks for: the held subscription, by the ID of
// its ask (heldSub.asked), and its query.
type lookupMember struct {
	id uint64
	a  About
	q  query
}

// newLookup gathers the members of one lookup into its request (nothing to send for
// metadata: its topics). deadline bounds the call; isolation is the consumer's.
func newLookup(key lookupKey, members []lookupMember, isolation IsolationLevel, deadline time.Time) *lookup {
	l := &lookup{key: key, members: members}
	switch key.kind {
	case lookMetadata:
		seen := make(map[string]bool)
		for _, m := range members {
			if !seen[m.a.Topic] {
				seen[m.a.Topic] = true
				l.topics = append(l.topics, m.a.Topic)
			}
		}
	case lookList:
		req := &api.ListOffsetsRequest{}
		req.Default()
		req.ReplicaID = -1 // a consumer
		req.IsolationLevel = int8(isolation)
		// v10+: how long the broker may take over a lookup in tiered storage.
		req.TimeoutMs = int32(min(max(time.Until(deadline), time.Millisecond)/time.Millisecond, 1<<31-1))
		topics := make(map[string]int)
		for _, m := range members {
			var rp api.ListOffsetsRequestPartition
			rp.Default()
			rp.PartitionIndex, rp.CurrentLeaderEpoch, rp.Timestamp = m.a.Partition, m.q.epoch, m.q.at
			i, ok := topics[m.a.Topic]
			if !ok {
				i = len(req.Topics)
				topics[m.a.Topic] = i
				req.Topics = append(req.Topics, api.ListOffsetsRequestTopic{Name: m.a.Topic})
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
		l.call.Request = req
	case lookEpoch:
		req := &api.OffsetForLeaderEpochRequest{}
		req.Default()
		req.ReplicaID = -1 // a consumer
		topics := make(map[string]int)
		for _, m := range members {
			i, ok := topics[m.a.Topic]
			if !ok {
				i = len(req.Topics)
				topics[m.a.Topic] = i
				req.Topics = append(req.Topics, api.OffsetForLeaderEpochRequestOffsetForLeaderTopic{Topic: m.a.Topic})
			}
			req.Topics[i].Partitions = append(req.Topics[i].Partitions,
				api.OffsetForLeaderEpochRequestOffsetForLeaderPartition{Partition: m.a.Partition, CurrentLeaderEpoch: m.q.epoch, LeaderEpoch: m.q.last})
		}
		l.call.Request = req
	}
	l.call.Deadline = deadline
	return l
}

// answers is what the finished lookup l found for each of its members, in order: the
// broker's answer for the partition, or the error that stands for it (the call's, the
// partition's error code, or a protocol error when the response leaves it out).
func (l *lookup) answers() []answer {
	out := make([]answer, len(l.members))
	at := make(map[About]int, len(l.members))
	for i, m := range l.members {
		out[i] = answer{q: m.q, off: -1, epoch: -1}
		at[m.a] = i
	}
	fail := func(err error) {
		for i := range out {
			if out[i].err == nil {
				out[i].err = err
			}
		}
	}
	if l.key.kind == lookMetadata {
		if l.err != nil {
			fail(l.err)
		}
		return out
	}
	if l.call.Err != nil {
		fail(l.call.Err)
		return out
	}
	answered := make([]bool, len(out))
	file := func(a About, code int16, off int64, epoch int32) {
		i, ok := at[a]
		if !ok || answered[i] {
			return
		}
		answered[i] = true
		if err := errcode.ForCode(code); err != nil {
			out[i].err = fmt.Errorf("%s %s at broker %d: %w", l.key.kind, a, l.key.node, err)
			return
		}
		out[i].off, out[i].epoch = off, epoch
	}
	switch resp := l.call.Response.(type) {
	case *api.ListOffsetsResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				file(About{Topic: t.Name, Partition: p.PartitionIndex}, p.ErrorCode, p.Offset, p.LeaderEpoch)
			}
		}
	case *api.OffsetForLeaderEpochResponse:
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				file(About{Topic: t.Topic, Partition: p.Partition}, p.ErrorCode, p.EndOffset, p.LeaderEpoch)
			}
		}
	}
	for i, ok := range answered {
		if !ok {
			out[i].err = fmt.Errorf("%s %s: %w: no answer for the partition", l.key.kind, l.members[i].a, broker.ErrProtocol)
		}
	}
	return out
}

// terminal reports whether err, met while (re)subscribing a partition, ends it: the
// topic is gone, its position is out of range under ResetNone, or the cluster refuses
// access. Everything else — no leader, a fenced epoch, a broker down, a timeout — is
// retried with backoff.
func terminal(err error) bool {
	var unknown *UnknownTopicError
	var oor *OutOfRangeError
	return errors.As(err, &unknown) || errors.As(err, &oor) ||
		errors.Is(err, errcode.TopicAuthorizationFailed) || errors.Is(err, errcode.ClusterAuthorizationFailed)
}

// listOffsets asks where each of parts is at ts (listOldest, listNewest — the last
// stable offset under ReadCommitted — or milliseconds; a time after every record answers
// the end), in one ListOffsets call. Partitions whose answer is an error are left out.
func (c *Consumer) listOffsets(ctx context.Context, ts int64, parts []About) (map[About]start, error) {
	qs := make([]cluster.OffsetQuery, len(parts))
	for i, a := range parts {
		qs[i] = cluster.OffsetQuery{Topic: a.Topic, Partition: a.Partition, At: ts}
	}
	got, err := c.client.ListOffsets(ctx, cluster.Isolation(c.cfg.IsolationLevel), qs...)
	if err != nil {
		return nil, err
	}
	out := make(map[About]start, len(got))
	var late []About
	for _, l := range got {
		a := About{Topic: l.Topic, Partition: l.Partition}
		switch {
		case l.Err != nil:
		case l.Offset < 0 && ts >= 0:
			late = append(late, a) // no record at or after the time: the end
		default:
			out[a] = start{off: l.Offset, epoch: l.LeaderEpoch}
		}
	}
	if len(late) > 0 {
		ends, err := c.listOffsets(ctx, listNewest, late)
		if err != nil {
			return nil, err
		}
		for a, s := range ends {
			out[a] = s
		}
	}
	return out, nil
}
