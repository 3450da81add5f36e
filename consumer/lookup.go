package consumer

import (
	"context"
	"errors"
	"fmt"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// The two lookups a dispatcher makes: where an offset spec points, asked through the
// cluster client's ListOffsets (which finds the leader, names the leader epoch it knows,
// and retries after a leader move), and where a leader epoch ends (OffsetForLeaderEpoch,
// KIP-320), asked at the leader the dispatcher found in metadata under the epoch it found
// there, so a leader that moved on answers FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH
// rather than a stale answer.

// listOffset asks where the partition is at ts: listOldest, listNewest (the last
// stable offset under ReadCommitted) or a timestamp in milliseconds. For a timestamp
// after every record it answers -1. It returns the offset and the leader epoch of the
// record there (-1 if unknown).
func (c *Consumer) listOffset(ctx context.Context, a About, ts int64) (int64, int32, error) {
	got, err := c.client.ListOffsets(ctx, cluster.Isolation(c.cfg.IsolationLevel),
		cluster.OffsetQuery{Topic: a.Topic, Partition: a.Partition, At: ts})
	if err != nil {
		return 0, -1, err
	}
	return got[0].Offset, got[0].LeaderEpoch, got[0].Err
}

// epochEnd asks the leader node, under leader epoch epoch, where leader epoch last ends
// in its log: the end offset and the largest epoch at or below last that it has (-1, -1
// when it knows no such epoch).
func (c *Consumer) epochEnd(ctx context.Context, node broker.Node, a About, epoch, last int32) (int64, int32, error) {
	req := &api.OffsetForLeaderEpochRequest{}
	req.Default()
	req.ReplicaID = -1 // a consumer
	req.Topics = []api.OffsetForLeaderEpochRequestOffsetForLeaderTopic{{
		Topic:      a.Topic,
		Partitions: []api.OffsetForLeaderEpochRequestOffsetForLeaderPartition{{Partition: a.Partition, CurrentLeaderEpoch: epoch, LeaderEpoch: last}},
	}}
	resp, err := c.adminCall(ctx, node, req)
	if err != nil {
		return 0, -1, err
	}
	for _, t := range resp.(*api.OffsetForLeaderEpochResponse).Topics {
		for _, p := range t.Partitions {
			if t.Topic != a.Topic || p.Partition != a.Partition {
				continue
			}
			if err := errcode.ForCode(p.ErrorCode); err != nil {
				return 0, -1, fmt.Errorf("offset for leader epoch %s: %w", a, err)
			}
			return p.EndOffset, p.LeaderEpoch, nil
		}
	}
	return 0, -1, fmt.Errorf("offset for leader epoch %s: %w: no answer for the partition", a, broker.ErrProtocol)
}

func (c *Consumer) adminCall(ctx context.Context, node broker.Node, req api.Request) (api.Response, error) {
	h, err := c.client.Conn(node, broker.Admin)
	if err != nil {
		return nil, err
	}
	return h.Do(ctx, req)
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
