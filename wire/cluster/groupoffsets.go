package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// GroupMember is who commits a group's offsets: a member of the group, under the
// generation it joined in. A commit without one (nil *GroupMember) is a commit from
// outside the group's membership, for partitions the caller assigned itself (generation
// -1, no member ID), which the coordinator accepts only while the group has no members.
type GroupMember struct {
	// Generation is the classic group's generation, or the member epoch of a KIP-848
	// consumer group.
	Generation int32
	// MemberID is the ID the coordinator gave the member.
	MemberID string
	// InstanceID is the member's static group.instance.id (KIP-345), or "". It needs
	// OffsetCommit v7 (Kafka 2.3) or later.
	InstanceID string
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// OffsetCommit is one partition's offset to commit. Its zero value carries no leader
// epoch (UnknownEpoch, -1 on the wire): an epoch is set with WithLeaderEpoch, so a commit
// never claims epoch 0 by omission.
type OffsetCommit struct {
	Topic     string
	Partition int32
	// Offset is where a reader of the group resumes: the offset after the last record
	// finished with.
	Offset int64
	// Metadata is kept with the offset, for the committer's own use; "" for none.
	Metadata string

	epoch    int32 // the leader epoch, when hasEpoch
	hasEpoch bool
}

// UnknownEpoch is how wire/cluster spells a leader epoch it does not know, as Kafka
// writes it on the wire: -1 (ListedOffset.LeaderEpoch, CommittedOffset.LeaderEpoch,
// Partition.LeaderEpoch, OffsetCommit.LeaderEpoch). Epoch 0 is a real epoch, a
// partition's first leader's.
const UnknownEpoch int32 = -1

// WithLeaderEpoch returns o carrying leader epoch e: the epoch of the last record
// finished with (its troupe.Record.LeaderEpoch). A reader resuming from the commit asks
// the leader where this epoch ends, so a wrong epoch makes it report a truncation and
// read records again; a negative e (UnknownEpoch) means unknown, as o's zero value does.
func (o OffsetCommit) WithLeaderEpoch(e int32) OffsetCommit {
	o.epoch, o.hasEpoch = e, e >= 0
	if !o.hasEpoch {
		o.epoch = 0
	}
	return o
}

// LeaderEpoch is the leader epoch o carries, or UnknownEpoch.
func (o OffsetCommit) LeaderEpoch() int32 {
	if !o.hasEpoch {
		return UnknownEpoch
	}
	return o.epoch
}

// OffsetCommitResult is the outcome of one OffsetCommit: Err is nil when the coordinator
// stored the offset. Otherwise it matches, with errors.Is, the Kafka error code behind it
// (errcode.IllegalGeneration, errcode.UnknownMemberID, errcode.RebalanceInProgress,
// errcode.FencedInstanceID, errcode.UnknownTopicOrPartition, errcode.OffsetMetadataTooLarge,
// ...; an authorization failure also matches broker.ErrPermanent), ErrUnavailable when the
// coordinator kept moving, loading or failing until the retries ran out, or the context's
// cause.
type OffsetCommitResult struct {
	OffsetCommit
	Err error
}

// CommittedOffset is a group's committed offset for one partition, as OffsetFetch
// answers it. Offset is -1 when the group has none for the partition (nor when the group
// does not exist); LeaderEpoch is UnknownEpoch (-1) when unknown. Err, when set, says why there is no
// answer, matching the Kafka error code (an authorization failure also matches
// broker.ErrPermanent), ErrUnavailable, or the context's cause.
type CommittedOffset struct {
	TopicPartition
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Err         error
}

// CommitOffsets commits offsets for group, as member (nil: from outside the group's
// membership, for partitions the caller assigns itself), and returns one result per
// offset, in order, each with its partition's own outcome.
//
// The request goes to the group's coordinator (GroupCoordinator), at the highest version
// both sides speak (v2 to v10; v10 names topics by ID, found through metadata, and v9 is
// used when a topic's ID is unknown). NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and a
// lost connection make it find the coordinator again and resend the partitions they
// concern; COORDINATOR_LOAD_IN_PROGRESS and REQUEST_TIMED_OUT resend to the same one
// after a backoff; up to 10 attempts within ctx. Every other error is the partition's
// answer: a commit refused because the generation moved on (ILLEGAL_GENERATION,
// REBALANCE_IN_PROGRESS, ...) is for the caller to judge, and is not resent.
//
// The error is for the call as a whole: ErrInvalidQuery (an empty group or topic, a
// negative partition or offset, a partition named twice) when nothing is sent. A commit
// is idempotent, so a resend never does harm; but commits of one partition made by
// concurrent calls may land in either order, so a caller that must never move an offset
// backwards makes one call at a time.
func (c *Client) CommitOffsets(ctx context.Context, group string, member *GroupMember, offsets ...OffsetCommit) ([]OffsetCommitResult, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: empty group ID", ErrInvalidQuery)
	}
	out := make([]OffsetCommitResult, len(offsets))
	var keys partKeys
	pending := make(map[uint64]int, len(offsets))
	for i, o := range offsets {
		if o.Topic == "" || o.Partition < 0 || o.Offset < 0 {
			return nil, fmt.Errorf("%w: commit %s[%d] at %d", ErrInvalidQuery, o.Topic, o.Partition, o.Offset)
		}
		k := keys.key(o.Topic, o.Partition)
		if _, dup := pending[k]; dup {
			return nil, fmt.Errorf("%w: commit %s[%d] named twice", ErrInvalidQuery, o.Topic, o.Partition)
		}
		pending[k] = i
		out[i] = OffsetCommitResult{OffsetCommit: o}
	}
	if len(offsets) == 0 {
		return out, nil
	}
	err := c.groupLoop(ctx, group, func(node broker.Node) (groupAction, error) {
		return c.commitRound(ctx, group, member, node, out, pending, &keys)
	})
	if err != nil {
		for _, i := range pending {
			out[i].Err = err
		}
	}
	return out, nil
}

// FetchOffsets asks group's coordinator for the group's committed offsets of parts, and
// returns one CommittedOffset per partition, in order. member is who asks: a member of a
// KIP-848 consumer group fetches as itself (its member ID, and its member epoch as
// Generation, sent from OffsetFetch v9), and the coordinator answers STALE_MEMBER_EPOCH
// or UNKNOWN_MEMBER_ID, for every partition, when they are not the member's current ones
// (for the caller to judge: not resent); nil asks as an admin does (no member ID, member
// epoch -1), which a classic group's members do too. Below v9 a member is not sent. Under ReadCommitted it asks for
// stable offsets (RequireStable, OffsetFetch v7 and later): a partition with a
// transactional commit still pending is answered UNSTABLE_OFFSET_COMMIT, and asked again
// after a backoff until the transaction ends. A group the coordinator does not know
// (GROUP_ID_NOT_FOUND) has no committed offsets: every Offset is -1.
//
// Versions v1 to v10 are spoken (v8 and later put the group in a list of groups; v10
// names topics by ID, found through metadata, and v9 is used when a topic's ID is
// unknown). Coordinator errors and lost connections are retried as in CommitOffsets. The
// error is for the call as a whole: ErrInvalidQuery (an empty group or topic, a negative
// partition, a partition named twice) when nothing is sent.
func (c *Client) FetchOffsets(ctx context.Context, isolation Isolation, group string, member *GroupMember, parts ...TopicPartition) ([]CommittedOffset, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: empty group ID", ErrInvalidQuery)
	}
	if isolation != ReadUncommitted && isolation != ReadCommitted {
		return nil, fmt.Errorf("%w: isolation %d", ErrInvalidQuery, isolation)
	}
	out := make([]CommittedOffset, len(parts))
	var keys partKeys
	pending := make(map[uint64]int, len(parts))
	for i, p := range parts {
		if p.Topic == "" || p.Partition < 0 {
			return nil, fmt.Errorf("%w: fetch offset of %s[%d]", ErrInvalidQuery, p.Topic, p.Partition)
		}
		k := keys.key(p.Topic, p.Partition)
		if _, dup := pending[k]; dup {
			return nil, fmt.Errorf("%w: fetch offset of %s[%d] named twice", ErrInvalidQuery, p.Topic, p.Partition)
		}
		pending[k] = i
		out[i] = CommittedOffset{TopicPartition: p, Offset: -1, LeaderEpoch: -1}
	}
	if len(parts) == 0 {
		return out, nil
	}
	err := c.groupLoop(ctx, group, func(node broker.Node) (groupAction, error) {
		return c.fetchRound(ctx, group, member, isolation == ReadCommitted, node, out, pending, &keys)
	})
	if err != nil {
		for _, i := range pending {
			out[i].Err = err
		}
	}
	return out, nil
}

// groupLoop sends a group request to the group's coordinator, round after round, until
// round reports it done; between rounds it finds the coordinator again (actRefind) or
// waits a backoff (actRetry and actRefind). It gives up after groupAttempts rounds (an
// error matching ErrUnavailable with round's last error) or when ctx ends (ctx's cause,
// with that last error), and when the coordinator cannot be found.
func (c *Client) groupLoop(ctx context.Context, group string, round func(broker.Node) (groupAction, error)) error {
	var last error
	for failures := 0; ; {
		if ctx.Err() != nil {
			return withLast(fmt.Errorf("cluster: group %q: %w", group, context.Cause(ctx)), last)
		}
		if failures >= groupAttempts {
			return fmt.Errorf("%w: group %q: no answer after %d attempts; the last failure: %w", ErrUnavailable, group, failures, last)
		}
		node, err := c.GroupCoordinator(ctx, group)
		if err != nil {
			return err
		}
		act, err := round(node)
		switch act {
		case actDone:
			return nil
		case actRefind:
			c.ForgetCoordinator(group, node)
		}
		last = err
		failures++
		c.pause(ctx, failures)
	}
}

// topicIDs returns the IDs of topics from the client's metadata, describing topics it
// has not heard of first. A topic without a known ID maps to the zero UUID.
func (c *Client) topicIDs(ctx context.Context, topics map[string]bool) map[string]codec.UUID {
	snap := c.Snapshot()
	var unknown []string
	for t := range topics {
		if snap.Topic(t) == nil {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		if s, err := c.Refresh(ctx, unknown...); err == nil {
			snap = s
		}
	}
	ids := make(map[string]codec.UUID, len(topics))
	for t := range topics {
		if tp := snap.Topic(t); tp != nil && tp.Err == nil {
			ids[t] = tp.ID
		}
	}
	return ids
}

// byIDCap returns 9 when a topic has no known ID (a request naming topics by ID, v10,
// cannot be made), 0 (no cap) otherwise.
func byIDCap(topics map[string]bool, ids map[string]codec.UUID) int16 {
	for t := range topics {
		if ids[t].IsZero() {
			return 9
		}
	}
	return 0
}

// commitRound sends one OffsetCommit for the pending offsets to node, files the answers
// in out, and leaves in pending the partitions to send again.
func (c *Client) commitRound(ctx context.Context, group string, member *GroupMember, node broker.Node, out []OffsetCommitResult, pending map[uint64]int, keys *partKeys) (groupAction, error) {
	items := make([]OffsetCommit, 0, len(pending))
	topics := make(map[string]bool)
	last := ""
	for _, i := range pendingInOrder(pending) {
		items = append(items, out[i].OffsetCommit)
		if t := out[i].Topic; t != last {
			topics[t], last = true, t
		}
	}
	ids := c.topicIDs(ctx, topics)
	// Built by Prepare, at the version the connection picks (it is always called).
	req := &api.OffsetCommitRequest{}
	call := &broker.Call{Request: req, VersionCap: byIDCap(topics, ids)}
	var version int16
	call.Prepare = func(v int16) error {
		if member != nil && member.InstanceID != "" && v < 7 {
			return fmt.Errorf("%w: a group instance ID needs OffsetCommit v7, the coordinator speaks v%d", api.ErrNoCommonVersion, v)
		}
		version = v
		*req = *offsetCommitRequest(group, member, items, ids, v) // in place, as in findCoordinators
		return nil
	}
	if err := c.doCall(ctx, node, call); err != nil {
		return c.callFailed(err, pending, func(i int, err error) { out[i].Err = err })
	}
	answers := parseOffsetCommit(call.Response.(*api.OffsetCommitResponse), version, namesOf(ids), keys)
	act := actDone
	var lastErr error
	for k, i := range pending {
		o := &out[i].OffsetCommit
		err, ok := answers[k]
		if !ok {
			out[i].Err = fmt.Errorf("commit %s[%d]: %w: no answer for the partition", o.Topic, o.Partition, broker.ErrProtocol)
			delete(pending, k)
			continue
		}
		if err != nil {
			err = fmt.Errorf("commit %s[%d] at %d to %s: %w", o.Topic, o.Partition, o.Offset, node, err)
		}
		switch a := classifyGroupErr(err); a {
		case actDone:
			out[i].Err = refusedGroup(err)
			delete(pending, k)
		default:
			out[i].Err, lastErr = err, err
			act = max(act, a) // a refind outweighs a retry
		}
	}
	return act, lastErr
}

// pendingInOrder is the indexes pending holds, in the caller's order: a request names
// the partitions as the caller listed them (grouped by topic, as callers list them),
// not in a map's order.
func pendingInOrder(pending map[uint64]int) []int {
	idx := make([]int, 0, len(pending))
	for _, i := range pending {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}

// callFailed handles a group request whose call failed: a connection lost (or any
// retriable cause) makes the loop find the coordinator again; any other failure is every
// pending partition's answer.
func (c *Client) callFailed(err error, pending map[uint64]int, set func(int, error)) (groupAction, error) {
	if broker.Retriable(err) {
		return actRefind, err
	}
	for k, i := range pending {
		set(i, err)
		delete(pending, k)
	}
	return actDone, err
}

// namesOf inverts ids.
func namesOf(ids map[string]codec.UUID) map[codec.UUID]string {
	out := make(map[codec.UUID]string, len(ids))
	for t, id := range ids {
		if !id.IsZero() {
			out[id] = t
		}
	}
	return out
}

// offsetCommitRequest builds the OffsetCommit request for items at version: topics by
// name below v10, by ID (from ids) at v10.
func offsetCommitRequest(group string, member *GroupMember, items []OffsetCommit, ids map[string]codec.UUID, version int16) *api.OffsetCommitRequest {
	req := &api.OffsetCommitRequest{}
	req.Default()
	req.GroupID = group
	if member != nil {
		req.GenerationIDOrMemberEpoch = member.Generation
		req.MemberID = member.MemberID
		if member.InstanceID != "" && version >= 7 {
			id := member.InstanceID
			req.GroupInstanceID = &id
		}
	}
	at := make(map[string]int)
	ti, last := -1, ""
	for _, o := range items {
		if ti < 0 || o.Topic != last { // items come grouped by topic: one lookup per run
			ti, last = topicIndex(req, at, o.Topic, ids, version), o.Topic
			if len(req.Topics) == 1 && req.Topics[0].Partitions == nil {
				// The first topic: room for every item (usually they are all of it).
				req.Topics[0].Partitions = make([]api.OffsetCommitRequestPartition, 0, len(items))
			}
		}
		var p api.OffsetCommitRequestPartition
		p.Default()
		p.PartitionIndex, p.CommittedOffset, p.CommittedLeaderEpoch = o.Partition, o.Offset, o.LeaderEpoch()
		if version < 6 {
			p.CommittedLeaderEpoch = -1
		}
		if o.Metadata != "" {
			md := o.Metadata
			p.CommittedMetadata = &md
		}
		req.Topics[ti].Partitions = append(req.Topics[ti].Partitions, p)
	}
	return req
}

// topicIndex is topic's index in req.Topics (at, by name), appending it if it is not
// there yet.
func topicIndex(req *api.OffsetCommitRequest, at map[string]int, topic string, ids map[string]codec.UUID, version int16) int {
	if ti, ok := at[topic]; ok {
		return ti
	}
	ti := len(req.Topics)
	at[topic] = ti
	var t api.OffsetCommitRequestTopic
	t.Default()
	if version >= 10 {
		t.TopicID = ids[topic]
	} else {
		t.Name = topic
	}
	req.Topics = append(req.Topics, t)
	return ti
}

// parseOffsetCommit reads an OffsetCommit response sent at version: each partition's
// error (nil for stored), by topic name (topics by ID, through names, at v10).
func parseOffsetCommit(resp *api.OffsetCommitResponse, version int16, names map[codec.UUID]string, keys *partKeys) map[uint64]error {
	n := 0
	for _, t := range resp.Topics {
		n += len(t.Partitions)
	}
	out := make(map[uint64]error, n)
	for _, t := range resp.Topics {
		name := t.Name
		if version >= 10 {
			name = names[t.TopicID]
		}
		for _, p := range t.Partitions {
			if k, ok := keys.find(name, p.PartitionIndex); ok {
				out[k] = errcode.ForCode(p.ErrorCode)
			}
		}
	}
	return out
}

// fetchRound sends one OffsetFetch for the pending partitions to node, files the
// answers in out, and leaves in pending the partitions to ask again.
func (c *Client) fetchRound(ctx context.Context, group string, member *GroupMember, stable bool, node broker.Node, out []CommittedOffset, pending map[uint64]int, keys *partKeys) (groupAction, error) {
	parts := make([]TopicPartition, 0, len(pending))
	topics := make(map[string]bool)
	last := ""
	for _, i := range pendingInOrder(pending) {
		parts = append(parts, out[i].TopicPartition)
		if t := out[i].Topic; t != last {
			topics[t], last = true, t
		}
	}
	ids := c.topicIDs(ctx, topics)
	req := offsetFetchRequest(group, member, parts, stable, ids, 9)
	call := &broker.Call{Request: req, VersionCap: byIDCap(topics, ids)}
	var version int16
	call.Prepare = func(v int16) error {
		version = v
		*req = *offsetFetchRequest(group, member, parts, stable, ids, v) // in place, as in findCoordinators
		return nil
	}
	if err := c.doCall(ctx, node, call); err != nil {
		return c.callFailed(err, pending, func(i int, err error) { out[i].Err = err })
	}
	answers, groupErr := parseOffsetFetch(call.Response.(*api.OffsetFetchResponse), version, group, namesOf(ids), keys)
	if groupErr != nil {
		if errors.Is(groupErr, errcode.GroupIDNotFound) {
			// No such group: nothing committed.
			for k := range pending {
				delete(pending, k)
			}
			return actDone, nil
		}
		err := fmt.Errorf("fetch offsets of group %q from %s: %w", group, node, groupErr)
		if a := classifyGroupErr(err); a != actDone {
			return a, err
		}
		err = refusedGroup(err)
		for k, i := range pending {
			out[i].Err = err
			delete(pending, k)
		}
		return actDone, err
	}
	act := actDone
	var lastErr error
	for k, i := range pending {
		tp := out[i].TopicPartition
		a, ok := answers[k]
		if !ok {
			out[i].Err = fmt.Errorf("fetch offset of %s[%d]: %w: no answer for the partition", tp.Topic, tp.Partition, broker.ErrProtocol)
			delete(pending, k)
			continue
		}
		if a.Err != nil {
			a.Err = fmt.Errorf("fetch offset of %s[%d] from %s: %w", tp.Topic, tp.Partition, node, a.Err)
		}
		switch ac := classifyGroupErr(a.Err); ac {
		case actDone:
			a.TopicPartition = out[i].TopicPartition
			a.Err = refusedGroup(a.Err)
			out[i] = a
			delete(pending, k)
		default:
			out[i].Err, lastErr = a.Err, a.Err
			act = max(act, ac)
		}
	}
	return act, lastErr
}

// offsetFetchRequest builds the OffsetFetch request for parts at version: one group at
// the top level below v8, in Groups from v8; topics by name below v10, by ID at v10;
// RequireStable from v7 when stable; member's ID and epoch from v9 (nil: none, epoch -1).
func offsetFetchRequest(group string, member *GroupMember, parts []TopicPartition, stable bool, ids map[string]codec.UUID, version int16) *api.OffsetFetchRequest {
	req := &api.OffsetFetchRequest{}
	req.Default()
	req.RequireStable = stable && version >= 7
	byTopic := make(map[string][]int32)
	var order []string
	for _, p := range parts {
		if _, ok := byTopic[p.Topic]; !ok {
			order = append(order, p.Topic)
		}
		byTopic[p.Topic] = append(byTopic[p.Topic], p.Partition)
	}
	if version < 8 {
		req.GroupID = group
		req.Topics = make([]api.OffsetFetchRequestTopic, 0, len(order))
		for _, t := range order {
			req.Topics = append(req.Topics, api.OffsetFetchRequestTopic{Name: t, PartitionIndexes: byTopic[t]})
		}
		return req
	}
	var g api.OffsetFetchRequestGroup
	g.Default()
	g.GroupID = group
	if member != nil && version >= 9 {
		id := member.MemberID
		g.MemberID, g.MemberEpoch = &id, member.Generation
	}
	g.Topics = make([]api.OffsetFetchRequestTopics, 0, len(order))
	for _, t := range order {
		rt := api.OffsetFetchRequestTopics{PartitionIndexes: byTopic[t]}
		if version >= 10 {
			rt.TopicID = ids[t]
		} else {
			rt.Name = t
		}
		g.Topics = append(g.Topics, rt)
	}
	req.Groups = []api.OffsetFetchRequestGroup{g}
	return req
}

// parseOffsetFetch reads an OffsetFetch response sent at version for group: the group's
// error (the top-level one, v2 to v7, or the group's, v8 and later), and each
// partition's answer by topic name (topics by ID, through names, at v10).
func parseOffsetFetch(resp *api.OffsetFetchResponse, version int16, group string, names map[codec.UUID]string, keys *partKeys) (map[uint64]CommittedOffset, error) {
	out := make(map[uint64]CommittedOffset)
	add := func(topic string, partition int32, offset int64, epoch int32, md *string, code int16) {
		k, ok := keys.find(topic, partition)
		if !ok {
			return // a topic not asked about
		}
		co := CommittedOffset{TopicPartition: TopicPartition{topic, partition}, Offset: offset, LeaderEpoch: epoch, Err: errcode.ForCode(code)}
		if md != nil {
			co.Metadata = *md
		}
		if co.Err != nil || co.Offset < 0 {
			co.Offset, co.LeaderEpoch = -1, -1
		}
		out[k] = co
	}
	if version < 8 {
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				add(t.Name, p.PartitionIndex, p.CommittedOffset, p.CommittedLeaderEpoch, p.Metadata, p.ErrorCode)
			}
		}
		return out, errcode.ForCode(resp.ErrorCode)
	}
	for _, g := range resp.Groups {
		if g.GroupID != group {
			continue
		}
		for _, t := range g.Topics {
			name := t.Name
			if version >= 10 {
				name = names[t.TopicID]
			}
			for _, p := range t.Partitions {
				add(name, p.PartitionIndex, p.CommittedOffset, p.CommittedLeaderEpoch, p.Metadata, p.ErrorCode)
			}
		}
		return out, errcode.ForCode(g.ErrorCode)
	}
	return out, fmt.Errorf("%w: no answer for group %q", broker.ErrProtocol, group)
}

// GroupOffsetsQuery asks for one group's committed offsets of some partitions.
type GroupOffsetsQuery struct {
	Group      string
	Partitions []TopicPartition
}

// FetchGroupsOffsets is FetchOffsets for many groups: one []CommittedOffset per query, in
// order, each as FetchOffsets answers it. The groups' coordinators are found together
// (GroupCoordinators), and the groups that share a coordinator are asked in one
// OffsetFetch request when it speaks v8 or later (KIP-709); a group whose coordinator
// speaks an older version, or whose answer must be asked again (the coordinator moved or
// is loading, an unstable offset), is asked alone as FetchOffsets does. The error is for
// the call as a whole: ErrInvalidQuery (an empty or repeated group, an empty topic, a
// negative or repeated partition), and then nothing is sent.
func (c *Client) FetchGroupsOffsets(ctx context.Context, isolation Isolation, queries ...GroupOffsetsQuery) ([][]CommittedOffset, error) {
	if isolation != ReadUncommitted && isolation != ReadCommitted {
		return nil, fmt.Errorf("%w: isolation %d", ErrInvalidQuery, isolation)
	}
	groups := make([]string, len(queries))
	seen := make(map[string]bool, len(queries))
	out := make([][]CommittedOffset, len(queries))
	for i, q := range queries {
		if q.Group == "" || seen[q.Group] {
			return nil, fmt.Errorf("%w: group %q empty or named twice", ErrInvalidQuery, q.Group)
		}
		seen[q.Group] = true
		groups[i] = q.Group
		parts := make(map[offsetKey]bool, len(q.Partitions))
		out[i] = make([]CommittedOffset, len(q.Partitions))
		for j, p := range q.Partitions {
			k := offsetKey{p.Topic, p.Partition}
			if p.Topic == "" || p.Partition < 0 || parts[k] {
				return nil, fmt.Errorf("%w: fetch offset of %s[%d] for group %q: empty, negative or named twice", ErrInvalidQuery, p.Topic, p.Partition, q.Group)
			}
			parts[k] = true
			out[i][j] = CommittedOffset{TopicPartition: p, Offset: -1, LeaderEpoch: -1}
		}
	}
	coords, err := c.GroupCoordinators(ctx, groups...)
	if err != nil {
		return nil, err
	}
	byNode := make(map[broker.Node][]int)
	var nodes []broker.Node
	for i, co := range coords {
		if co.Err != nil {
			for j := range out[i] {
				out[i][j].Err = co.Err
			}
			continue
		}
		if _, ok := byNode[co.Node]; !ok {
			nodes = append(nodes, co.Node)
		}
		byNode[co.Node] = append(byNode[co.Node], i)
	}
	var alone []int
	for _, node := range nodes {
		idx := byNode[node]
		if len(idx) == 1 {
			alone = append(alone, idx...)
			continue
		}
		alone = append(alone, c.fetchGroupsBatch(ctx, isolation == ReadCommitted, node, queries, idx, out)...)
	}
	for _, i := range alone {
		got, err := c.FetchOffsets(ctx, isolation, queries[i].Group, nil, queries[i].Partitions...)
		if err != nil { // validated above: not expected
			for j := range out[i] {
				out[i][j].Err = err
			}
			continue
		}
		out[i] = got
	}
	return out, nil
}

// errNeedsV8 fails a batched OffsetFetch before it is sent when the coordinator speaks no
// version that lists many groups: the groups are then asked one by one.
var errNeedsV8 = errors.New("cluster: OffsetFetch of many groups needs v8")

// fetchGroupsBatch asks node, in one OffsetFetch (v8 and later), for the offsets of the
// queries idx, files the final answers in out, and returns the queries to ask alone.
func (c *Client) fetchGroupsBatch(ctx context.Context, stable bool, node broker.Node, queries []GroupOffsetsQuery, idx []int, out [][]CommittedOffset) []int {
	topics := make(map[string]bool)
	for _, i := range idx {
		for _, p := range queries[i].Partitions {
			topics[p.Topic] = true
		}
	}
	ids := c.topicIDs(ctx, topics)
	build := func(v int16) *api.OffsetFetchRequest {
		req := offsetFetchRequest(queries[idx[0]].Group, nil, queries[idx[0]].Partitions, stable, ids, v)
		for _, i := range idx[1:] {
			more := offsetFetchRequest(queries[i].Group, nil, queries[i].Partitions, stable, ids, v)
			req.Groups = append(req.Groups, more.Groups...)
		}
		return req
	}
	req := build(9)
	call := &broker.Call{Request: req, VersionCap: byIDCap(topics, ids)}
	var version int16
	call.Prepare = func(v int16) error {
		if v < 8 {
			return errNeedsV8
		}
		version = v
		*req = *build(v) // in place, as in findCoordinators
		return nil
	}
	if err := c.doCall(ctx, node, call); err != nil {
		if !errors.Is(err, errNeedsV8) && classifyGroupErr(err) == actRefind {
			c.ForgetCoordinator(queries[idx[0]].Group, node)
		}
		return idx // asked alone, with the retries FetchOffsets makes
	}
	resp := call.Response.(*api.OffsetFetchResponse)
	names := namesOf(ids)
	var keys partKeys
	for _, i := range idx {
		for _, p := range queries[i].Partitions {
			keys.key(p.Topic, p.Partition)
		}
	}
	var alone []int
	for _, i := range idx {
		answers, groupErr := parseOffsetFetch(resp, version, queries[i].Group, names, &keys)
		switch {
		case errors.Is(groupErr, errcode.GroupIDNotFound):
			continue // no offsets: out[i] already says -1
		case groupErr != nil:
			err := fmt.Errorf("fetch offsets of group %q from %s: %w", queries[i].Group, node, groupErr)
			if classifyGroupErr(err) != actDone {
				alone = append(alone, i)
				continue
			}
			for j := range out[i] {
				out[i][j].Err = refusedGroup(err)
			}
			continue
		}
		again := false
		for j, p := range queries[i].Partitions {
			k, _ := keys.find(p.Topic, p.Partition)
			a, ok := answers[k]
			if !ok {
				out[i][j].Err = fmt.Errorf("fetch offset of %s[%d]: %w: no answer for the partition", p.Topic, p.Partition, broker.ErrProtocol)
				continue
			}
			if a.Err != nil {
				if classifyGroupErr(a.Err) != actDone {
					again = true
					break
				}
				a.Err = refusedGroup(fmt.Errorf("fetch offset of %s[%d] from %s: %w", p.Topic, p.Partition, node, a.Err))
			}
			a.TopicPartition = p
			out[i][j] = a
		}
		if again {
			alone = append(alone, i)
		}
	}
	return alone
}
