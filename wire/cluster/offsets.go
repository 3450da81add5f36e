package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
)

// The ends of a log an OffsetQuery asks for, with the words the consumer uses
// (consumer.Oldest(), consumer.Newest()); the values are Kafka's ListOffsets timestamps.
const (
	// Newest asks for the end of the log: the high-water mark under ReadUncommitted, the
	// last stable offset under ReadCommitted.
	Newest int64 = -1
	// Oldest asks for the start of the log: the log start offset.
	Oldest int64 = -2
)

// AtTime is the OffsetQuery.At that asks for the first record whose timestamp is at or
// after t (compared in milliseconds).
func AtTime(t time.Time) int64 { return t.UnixMilli() }

// Isolation says which end of a partition Newest means.
type Isolation int8

const (
	// ReadUncommitted: Newest is the high-water mark, the offset after the last
	// record every in-sync replica has.
	ReadUncommitted Isolation = 0
	// ReadCommitted: Newest is the last stable offset (LSO), the first offset of
	// the oldest transaction still open (the high-water mark when none is open).
	ReadCommitted Isolation = 1
)

// OffsetQuery asks where one partition's log is at a point: At is Oldest, Newest, or
// AtTime(t) (the first record whose timestamp is at or after t).
type OffsetQuery struct {
	Topic     string
	Partition int32
	At        int64
}

// ListedOffset is the answer to one OffsetQuery. Err is nil when Offset holds the
// leader's answer; otherwise it matches, with errors.Is, the Kafka error code behind it
// (errcode.UnknownTopicOrPartition for a topic or partition that does not exist,
// errcode.NotLeaderOrFollower when the leader kept moving until the retries ran out, ...),
// ErrNoLeader when no leader was known, or the connection's failure (broker.ErrNetwork,
// ...), or the context's error.
type ListedOffset struct {
	OffsetQuery
	// Offset is the offset at At; -1 for a timestamp after every record.
	Offset int64
	// Timestamp is the timestamp of the record at Offset for a timestamp query, -1
	// otherwise (or when the broker does not say).
	Timestamp int64
	// LeaderEpoch is the leader epoch of the record at Offset, UnknownEpoch (-1) if unknown.
	LeaderEpoch int32
	Err         error
}

// ErrInvalidQuery is matched by the error ListOffsets returns for a query it cannot send:
// an empty topic name, a negative partition, or a negative At other than Oldest and
// Newest.
var ErrInvalidQuery = errors.New("cluster: invalid offset query")

// listOffsetsAttempts bounds how many times ListOffsets sends a partition's query: after
// a leader moved, a leader was missing or a connection failed, it refreshes metadata (at
// most one refresh per MinRefreshInterval) and asks again.
const listOffsetsAttempts = 5

// ListOffsets asks the partitions' leaders where their logs are at each query's point,
// and returns one ListedOffset per query, in the order of queries. Queries are grouped
// by leader: one ListOffsets request per broker (one more for each further query of the
// same partition, which a request names once), all brokers asked at once (each over
// its admin connection, whose calls are asynchronous; ListOffsets only waits for the
// answers). A query whose leader moved (NOT_LEADER_OR_FOLLOWER, a fenced or unknown
// leader epoch), whose partition had no leader, or whose connection failed is asked
// again after a metadata refresh, up to 5 times in all, within ctx. Each request names the
// leader epoch the client knows, so a stale leader answers with an error, never a stale
// offset.
//
// The error is for the call as a whole: an invalid query (ErrInvalidQuery), in which
// case nothing is sent. Every other failure is per query, in ListedOffset.Err; when ctx
// ends, queries still unanswered fail with its cause.
func (c *Client) ListOffsets(ctx context.Context, isolation Isolation, queries ...OffsetQuery) ([]ListedOffset, error) {
	if isolation != ReadUncommitted && isolation != ReadCommitted {
		return nil, fmt.Errorf("%w: isolation %d", ErrInvalidQuery, isolation)
	}
	out := make([]ListedOffset, len(queries))
	pending := make([]int, 0, len(queries))
	for i, q := range queries {
		if q.Topic == "" || q.Partition < 0 || (q.At < 0 && q.At != Oldest && q.At != Newest) {
			return nil, fmt.Errorf("%w: %s[%d] at %d", ErrInvalidQuery, q.Topic, q.Partition, q.At)
		}
		out[i] = ListedOffset{OffsetQuery: q, Offset: -1, Timestamp: -1, LeaderEpoch: -1}
		pending = append(pending, i)
	}
	snap, fresh := c.Snapshot(), false
	for attempt := 0; len(pending) > 0; attempt++ {
		// A topic the snapshot has never heard of is described first (the client
		// describes only the topics it was asked about).
		if snap == nil || attempt > 0 || !knowsAll(snap, queries, pending) {
			var err error
			if snap, err = c.Refresh(ctx, pendingTopics(queries, pending)...); err != nil {
				failPending(out, pending, err)
				break
			}
			fresh = true
		}
		// The last attempt keeps retriable failures as they are.
		pending = c.listOffsetsRound(ctx, isolation, snap, fresh, attempt == listOffsetsAttempts-1, out, pending)
		if ctx.Err() != nil {
			failPending(out, pending, context.Cause(ctx))
			break
		}
	}
	return out, nil
}

func knowsAll(snap *Snapshot, queries []OffsetQuery, pending []int) bool {
	for _, i := range pending {
		if snap.Topic(queries[i].Topic) == nil {
			return false
		}
	}
	return true
}

func pendingTopics(queries []OffsetQuery, pending []int) []string {
	seen := make(map[string]bool)
	var topics []string
	for _, i := range pending {
		if t := queries[i].Topic; !seen[t] {
			seen[t] = true
			topics = append(topics, t)
		}
	}
	return topics
}

func failPending(out []ListedOffset, pending []int, err error) {
	for _, i := range pending {
		out[i].Err = err
	}
}

// offsetsCall is one ListOffsets request to a broker in a round, and the queries it asks.
type offsetsCall struct {
	node    int32
	call    broker.Call
	queries map[offsetKey]int // index into out
}

type offsetKey struct {
	topic     string
	partition int32
}

// listOffsetsRound sends one round of requests, for the pending queries, against snap,
// and returns the queries to ask again. fresh says snap was refreshed for these queries,
// so a topic or partition it does not know does not exist; last that nothing is retried.
func (c *Client) listOffsetsRound(ctx context.Context, isolation Isolation, snap *Snapshot, fresh, last bool, out []ListedOffset, pending []int) []int {
	var again []int
	retry := func(i int, err error) {
		out[i].Err = err
		if !last {
			again = append(again, i)
		}
	}
	var calls []*offsetsCall
	for _, i := range pending {
		q := out[i].OffsetQuery
		t := snap.Topic(q.Topic)
		if fresh && (t == nil || errors.Is(t.Err, errcode.UnknownTopicOrPartition) || (t.Err == nil && int(q.Partition) >= len(t.Partitions))) {
			out[i].Err = fmt.Errorf("list offsets %s[%d]: %w", q.Topic, q.Partition, errcode.UnknownTopicOrPartition)
			continue
		}
		leader, epoch, err := snap.Leader(q.Topic, q.Partition)
		if err != nil {
			retry(i, err)
			continue
		}
		// A request names a partition once: a second query for the same partition goes
		// in a second request to the broker.
		key := offsetKey{q.Topic, q.Partition}
		var oc *offsetsCall
		for _, have := range calls {
			if _, dup := have.queries[key]; have.node == leader.ID && !dup {
				oc = have
				break
			}
		}
		if oc == nil {
			req := &api.ListOffsetsRequest{}
			req.Default()
			req.ReplicaID = -1
			req.IsolationLevel = int8(isolation)
			oc = &offsetsCall{node: leader.ID, queries: make(map[offsetKey]int)}
			oc.call.Request = req
			calls = append(calls, oc)
		}
		req := oc.call.Request.(*api.ListOffsetsRequest)
		var rp api.ListOffsetsRequestPartition
		rp.Default()
		rp.PartitionIndex, rp.CurrentLeaderEpoch, rp.Timestamp = q.Partition, epoch, q.At
		addOffsetsPartition(req, q.Topic, rp)
		oc.queries[key] = i
	}
	if len(calls) == 0 {
		return again
	}
	// Every call's Done has room in done: a call finished after ctx ended is dropped
	// with the channel, and never blocks the connection.
	done := make(chan *broker.Call, len(calls))
	byCall := make(map[*broker.Call]*offsetsCall, len(calls))
	deadline, _ := ctx.Deadline()
	sent := 0
	for _, oc := range calls {
		b := snap.Brokers[oc.node]
		fail := func(err error) {
			for _, i := range oc.queries {
				if broker.Retriable(err) {
					retry(i, err)
				} else {
					out[i].Err = err
				}
			}
		}
		h, err := c.Conn(b.Node(), broker.Admin)
		if err != nil {
			fail(err)
			continue
		}
		req := oc.call.Request.(*api.ListOffsetsRequest)
		// v10+: how long the broker may take over a lookup in tiered storage.
		timeout := c.cfg.Broker.RequestTimeout
		if timeout <= 0 {
			timeout = broker.DefaultRequestTimeout
		}
		if !deadline.IsZero() {
			timeout = min(timeout, max(time.Until(deadline), time.Millisecond))
		}
		req.TimeoutMs = int32(min(timeout/time.Millisecond, 1<<31-1))
		oc.call.Deadline = deadline
		oc.call.Done = func(call *broker.Call) { done <- call }
		if err := h.Send(ctx, &oc.call); err != nil {
			fail(err)
			continue
		}
		byCall[&oc.call] = oc
		sent++
	}
	for ; sent > 0; sent-- {
		var call *broker.Call
		select {
		case call = <-done:
		case <-ctx.Done():
			for _, oc := range byCall {
				for _, i := range oc.queries {
					out[i].Err = context.Cause(ctx)
				}
			}
			return nil
		}
		oc := byCall[call]
		delete(byCall, call)
		c.offsetsAnswer(call, oc, out, retry)
	}
	return again
}

func addOffsetsPartition(req *api.ListOffsetsRequest, topic string, rp api.ListOffsetsRequestPartition) {
	for i := range req.Topics {
		if req.Topics[i].Name == topic {
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
			return
		}
	}
	req.Topics = append(req.Topics, api.ListOffsetsRequestTopic{Name: topic, Partitions: []api.ListOffsetsRequestPartition{rp}})
}

// offsetsAnswer files one broker's answer into out, handing retriable failures to retry.
func (c *Client) offsetsAnswer(call *broker.Call, oc *offsetsCall, out []ListedOffset, retry func(int, error)) {
	if call.Err != nil {
		for _, i := range oc.queries {
			if broker.Retriable(call.Err) {
				retry(i, call.Err)
			} else {
				out[i].Err = call.Err
			}
		}
		return
	}
	resp, _ := call.Response.(*api.ListOffsetsResponse)
	if resp != nil {
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				i, ok := oc.queries[offsetKey{t.Name, p.PartitionIndex}]
				if !ok {
					continue
				}
				delete(oc.queries, offsetKey{t.Name, p.PartitionIndex})
				q := out[i].OffsetQuery
				if err := errcode.ForCode(p.ErrorCode); err != nil {
					err = fmt.Errorf("list offsets %s[%d] at broker %d: %w", q.Topic, q.Partition, oc.node, err)
					if errcode.Retriable(err) {
						retry(i, err)
					} else {
						out[i].Err = err
					}
					continue
				}
				out[i].Offset, out[i].Timestamp, out[i].LeaderEpoch, out[i].Err = p.Offset, p.Timestamp, p.LeaderEpoch, nil
				if q.At < 0 {
					out[i].Timestamp = -1
				}
			}
		}
	}
	for _, i := range oc.queries {
		q := out[i].OffsetQuery
		out[i].Err = fmt.Errorf("list offsets %s[%d]: %w: no answer for the partition", q.Topic, q.Partition, broker.ErrProtocol)
	}
}
