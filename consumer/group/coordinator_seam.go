package group

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// The member's coordinator lookup and offset requests, kept behind these few unexported
// functions until the cluster client's own (FindCoordinator cached and found again on
// NOT_COORDINATOR, OffsetCommit and OffsetFetch on *cluster.Client) lands; then they
// become calls to it. The version caps keep each request at the versions that name the
// group and topics the way these functions fill them in.

// findCoordinatorCall returns the Call that asks any broker for group's coordinator.
func findCoordinatorCall(group string) *broker.Call {
	req := &api.FindCoordinatorRequest{}
	req.Default()
	return &broker.Call{
		Request: req,
		// Version 4 batched the keys: fill in whichever field the version sent has.
		Prepare: func(v int16) error {
			req.Key, req.CoordinatorKeys = "", nil
			if v >= 4 {
				req.CoordinatorKeys = []string{group}
			} else {
				req.Key = group
			}
			return nil
		},
	}
}

// coordinatorOf reads the answer to findCoordinatorCall.
func coordinatorOf(call *broker.Call, group string) (broker.Node, error) {
	if call.Err != nil {
		return broker.Node{}, call.Err
	}
	resp, ok := call.Response.(*api.FindCoordinatorResponse)
	if !ok {
		return broker.Node{}, fmt.Errorf("group %q: FindCoordinator: %w: unexpected response", group, broker.ErrProtocol)
	}
	code, id, host, port := resp.ErrorCode, resp.NodeID, resp.Host, resp.Port
	if call.Version >= 4 {
		if len(resp.Coordinators) != 1 || resp.Coordinators[0].Key != group {
			return broker.Node{}, fmt.Errorf("group %q: FindCoordinator: %w: no answer for the group", group, broker.ErrProtocol)
		}
		c := resp.Coordinators[0]
		code, id, host, port = c.ErrorCode, c.NodeID, c.Host, c.Port
	}
	if err := errcode.ForCode(code); err != nil {
		return broker.Node{}, fmt.Errorf("group %q: FindCoordinator: %w", group, err)
	}
	return broker.Node{ID: id, Addr: net.JoinHostPort(host, strconv.Itoa(int(port)))}, nil
}

// findCoordinator asks synchronously (for commits and offset fetches made on callers'
// goroutines when the member's actor has no coordinator to offer).
func findCoordinator(ctx context.Context, client *cluster.Client, group string) (broker.Node, error) {
	snap := client.Snapshot()
	if snap == nil || len(snap.Nodes()) == 0 {
		var err error
		if snap, err = client.Refresh(ctx); err != nil {
			return broker.Node{}, err
		}
	}
	var last error
	for _, n := range snap.Nodes() {
		h, err := client.Conn(n, broker.Admin)
		if err != nil {
			last = err
			continue
		}
		call := findCoordinatorCall(group)
		if err := h.DoCall(ctx, call); err != nil && ctx.Err() != nil {
			return broker.Node{}, err
		}
		node, err := coordinatorOf(call, group)
		if err == nil {
			return node, nil
		}
		last = err
	}
	if last == nil {
		last = fmt.Errorf("group %q: %w: no broker known", group, cluster.ErrUnavailable)
	}
	return broker.Node{}, last
}

// commitOffset is one partition's offset to commit.
type commitOffset struct {
	topic     string
	partition int32
	offset    int64
	epoch     int32
}

// commitOffsets sends one OffsetCommit for offs as the member (memberID, generation) and
// returns each partition's outcome (nil when committed), or the error of the whole call.
func commitOffsets(ctx context.Context, h *broker.Handle, group, memberID, instanceID string, generation int32, offs []commitOffset) (map[commitOffset]error, error) {
	req := &api.OffsetCommitRequest{}
	req.Default()
	req.GroupID, req.GenerationIDOrMemberEpoch, req.MemberID = group, generation, memberID
	if instanceID != "" {
		req.GroupInstanceID = &instanceID
	}
	idx := make(map[string]int)
	for _, o := range offs {
		i, ok := idx[o.topic]
		if !ok {
			i = len(req.Topics)
			idx[o.topic] = i
			req.Topics = append(req.Topics, api.OffsetCommitRequestTopic{Name: o.topic})
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, api.OffsetCommitRequestPartition{
			PartitionIndex: o.partition, CommittedOffset: o.offset, CommittedLeaderEpoch: o.epoch,
		})
	}
	// Version 10 names topics by ID; 7 is the first with the instance ID.
	call := &broker.Call{Request: req, VersionCap: 9}
	if err := h.DoCall(ctx, call); err != nil {
		return nil, err
	}
	resp := call.Response.(*api.OffsetCommitResponse)
	out := make(map[commitOffset]error, len(offs))
	for _, o := range offs {
		out[o] = fmt.Errorf("group %q: commit %s/%d: %w: no answer for the partition", group, o.topic, o.partition, broker.ErrProtocol)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			for _, o := range offs {
				if o.topic == t.Name && o.partition == p.PartitionIndex {
					out[o] = nil
					if err := errcode.ForCode(p.ErrorCode); err != nil {
						out[o] = fmt.Errorf("group %q: commit %s/%d: %w", group, o.topic, o.partition, err)
					}
				}
			}
		}
	}
	return out, nil
}

// committed is a partition's committed offset and its leader epoch (-1 when unknown).
type committed struct {
	offset int64
	epoch  int32
}

// fetchOffsets asks the coordinator for the group's committed offsets of parts; a
// partition without one is left out.
func fetchOffsets(ctx context.Context, h *broker.Handle, group string, parts []TopicPartitions) (map[consumer.About]committed, error) {
	req := &api.OffsetFetchRequest{}
	req.Default()
	req.GroupID = group
	for _, tp := range parts {
		req.Topics = append(req.Topics, api.OffsetFetchRequestTopic{Name: tp.Topic, PartitionIndexes: tp.Partitions})
	}
	// Version 8 batched the groups.
	call := &broker.Call{Request: req, VersionCap: 7}
	if err := h.DoCall(ctx, call); err != nil {
		return nil, err
	}
	resp := call.Response.(*api.OffsetFetchResponse)
	if err := errcode.ForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("group %q: offset fetch: %w", group, err)
	}
	out := make(map[consumer.About]committed)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := errcode.ForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("group %q: offset fetch %s/%d: %w", group, t.Name, p.PartitionIndex, err)
			}
			if p.CommittedOffset >= 0 {
				out[consumer.About{Topic: t.Name, Partition: p.PartitionIndex}] = committed{p.CommittedOffset, p.CommittedLeaderEpoch}
			}
		}
	}
	return out, nil
}
