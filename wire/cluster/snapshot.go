package cluster

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// Snapshot is the client's view of the cluster at one moment: brokers, topics, partitions,
// leaders and leader epochs. A Snapshot is immutable; the metadata actor publishes a new
// one after every metadata response, and readers load the current one without waiting
// (Client.Snapshot).
type Snapshot struct {
	// Generation counts the snapshots published by one client, from 1.
	Generation uint64
	// Taken is when the metadata request behind this snapshot was sent.
	Taken      time.Time
	ClusterID  string
	Controller int32
	// Brokers lists the live brokers by node ID.
	Brokers map[int32]Broker
	// Topics holds every topic the client has asked about, by name. A topic that could
	// not be described has Err set.
	Topics map[string]*Topic

	byID map[codec.UUID]*Topic
}

// Broker is one live broker.
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack string
}

// Node is the broker's address for connections.
func (b Broker) Node() broker.Node {
	return broker.Node{ID: b.ID, Addr: net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))}
}

// Topic is one topic as the cluster last described it.
type Topic struct {
	Name     string
	ID       codec.UUID // zero when the broker does not report topic IDs (Metadata < v10)
	Internal bool
	// Err is the topic-level error of the last description: nil when the topic is usable;
	// errcode.UnknownTopicOrPartition when it does not exist (yet); others.
	Err error
	// Partitions are indexed by partition ID.
	Partitions []Partition
}

// Partition is one partition of a topic.
type Partition struct {
	ID int32
	// Leader is the leader's node ID, or -1 while there is none.
	Leader int32
	// LeaderEpoch is the leader's epoch, UnknownEpoch (-1) while there is none.
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Offline     []int32
	// Err is the partition-level error of the last description (LEADER_NOT_AVAILABLE
	// while a leader is being elected, for example).
	Err error
}

// Topic returns the topic named name, or nil if the snapshot has never heard of it.
func (s *Snapshot) Topic(name string) *Topic {
	if s == nil {
		return nil
	}
	return s.Topics[name]
}

// TopicByID returns the topic with ID id, or nil.
func (s *Snapshot) TopicByID(id codec.UUID) *Topic {
	if s == nil {
		return nil
	}
	return s.byID[id]
}

// Leader returns the leader of a partition with its epoch, or an error matching
// ErrNoLeader (the topic or partition is unknown, or has no leader now).
func (s *Snapshot) Leader(topic string, partition int32) (Broker, int32, error) {
	t := s.Topic(topic)
	if t == nil || t.Err != nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return Broker{}, -1, &NoLeaderError{Topic: topic, Partition: partition, Cause: s.topicErr(t)}
	}
	p := &t.Partitions[partition]
	b, ok := s.Brokers[p.Leader]
	if p.Leader < 0 || !ok {
		return Broker{}, -1, &NoLeaderError{Topic: topic, Partition: partition, Cause: p.Err}
	}
	return b, p.LeaderEpoch, nil
}

func (s *Snapshot) topicErr(t *Topic) error {
	switch {
	case t == nil:
		return errcode.UnknownTopicOrPartition
	case t.Err != nil:
		return t.Err
	}
	return nil
}

// Nodes lists the live brokers' nodes, ordered by ID.
func (s *Snapshot) Nodes() []broker.Node {
	out := make([]broker.Node, 0, len(s.Brokers))
	for _, b := range s.Brokers {
		out = append(out, b.Node())
	}
	slices.SortFunc(out, func(a, b broker.Node) int { return int(a.ID - b.ID) })
	return out
}

// ErrNoLeader is matched by the error for a partition without a known leader.
var ErrNoLeader = errors.New("cluster: no leader")

// NoLeaderError says which partition has no known leader, and why if the metadata said.
type NoLeaderError struct {
	Topic     string
	Partition int32
	Cause     error // a Kafka error code, or nil
}

func (e *NoLeaderError) Error() string {
	s := "cluster: no leader for " + e.Topic + "[" + strconv.Itoa(int(e.Partition)) + "]"
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Is matches ErrNoLeader.
func (e *NoLeaderError) Is(target error) bool { return target == ErrNoLeader }

func (e *NoLeaderError) Unwrap() error { return e.Cause }

// Change is what a subscriber hears about a topic: one of PartitionsAdded, TopicRecreated
// and TopicGone.
type Change interface {
	TopicName() string
}

// PartitionsAdded: the topic has more partitions than before.
type PartitionsAdded struct {
	Topic    string
	From, To int
}

// TopicRecreated: the topic was deleted and created again: it has a new topic ID, and
// everything about its partitions (offsets, producer sequences) starts afresh.
type TopicRecreated struct {
	Topic        string
	OldID, NewID codec.UUID
}

// TopicGone: the cluster no longer knows the topic.
type TopicGone struct {
	Topic string
	ID    codec.UUID
}

func (c PartitionsAdded) TopicName() string { return c.Topic }
func (c TopicRecreated) TopicName() string  { return c.Topic }
func (c TopicGone) TopicName() string       { return c.Topic }

// merge builds the snapshot that follows prev once resp (the answer to a request for
// asked topics, or for all topics when all is true, sent at taken) is applied, and the
// changes subscribers should hear of. It is deterministic and does no I/O.
//
// Per partition, a description whose leader epoch is older than the one known is stale
// (it came from a broker that has not caught up) and is ignored. A topic whose ID changed
// is new: its partitions are taken as described, whatever their epochs.
func merge(prev *Snapshot, resp *api.MetadataResponse, all bool, taken time.Time) (*Snapshot, []Change) {
	next := &Snapshot{
		Taken:      taken,
		Controller: resp.ControllerID,
		Brokers:    make(map[int32]Broker, len(resp.Brokers)),
		Topics:     make(map[string]*Topic),
		byID:       make(map[codec.UUID]*Topic),
	}
	if prev != nil {
		next.Generation = prev.Generation
		next.ClusterID = prev.ClusterID
	}
	next.Generation++
	if resp.ClusterID != nil {
		next.ClusterID = *resp.ClusterID
	}
	for _, b := range resp.Brokers {
		br := Broker{ID: b.NodeID, Host: b.Host, Port: b.Port}
		if b.Rack != nil {
			br.Rack = *b.Rack
		}
		next.Brokers[b.NodeID] = br
	}

	var changes []Change
	described := make(map[string]bool, len(resp.Topics))
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		if rt.Name == nil {
			continue // a response by topic ID only; troupe always asks by name
		}
		name := *rt.Name
		described[name] = true
		var old *Topic
		if prev != nil {
			old = prev.Topics[name]
		}
		t, ch := mergeTopic(old, rt)
		changes = append(changes, ch...)
		next.Topics[name] = t
	}
	if prev != nil {
		for name, t := range prev.Topics {
			if described[name] {
				continue
			}
			if all && t.Err == nil {
				changes = append(changes, TopicGone{Topic: name, ID: t.ID})
				continue // a full listing without it: it is gone
			}
			if !all {
				next.Topics[name] = t // not asked about this time: keep what we knew
			}
		}
	}
	for _, t := range next.Topics {
		if t.ID != (codec.UUID{}) {
			next.byID[t.ID] = t
		}
	}
	return next, changes
}

// mergeTopic merges one topic's description into what was known of it.
func mergeTopic(old *Topic, rt *api.MetadataResponseTopic) (*Topic, []Change) {
	t := &Topic{Name: *rt.Name, ID: rt.TopicID, Internal: rt.IsInternal, Err: errcode.ForCode(rt.ErrorCode)}
	if t.Err != nil {
		if errors.Is(t.Err, errcode.UnknownTopicOrPartition) && old != nil && old.Err == nil {
			return t, []Change{TopicGone{Topic: t.Name, ID: old.ID}}
		}
		if old != nil && old.Err == nil && !errors.Is(t.Err, errcode.UnknownTopicOrPartition) {
			// A transient topic-level error (leader election, say): keep the partitions
			// we knew, flagged with the error.
			t.Partitions, t.ID = old.Partitions, old.ID
		}
		return t, nil
	}
	t.Partitions = make([]Partition, 0, len(rt.Partitions))
	for _, rp := range rt.Partitions {
		if rp.PartitionIndex < 0 || int(rp.PartitionIndex) > len(rt.Partitions)*4+1024 {
			continue // nonsense from a broker; do not size anything by it
		}
		for int(rp.PartitionIndex) >= len(t.Partitions) {
			t.Partitions = append(t.Partitions, Partition{ID: int32(len(t.Partitions)), Leader: -1, LeaderEpoch: -1})
		}
		t.Partitions[rp.PartitionIndex] = Partition{
			ID:          rp.PartitionIndex,
			Leader:      rp.LeaderID,
			LeaderEpoch: rp.LeaderEpoch,
			Replicas:    rp.ReplicaNodes,
			ISR:         rp.IsrNodes,
			Offline:     rp.OfflineReplicas,
			Err:         errcode.ForCode(rp.ErrorCode),
		}
	}
	if old == nil || old.Err != nil {
		return t, nil
	}
	if t.ID != old.ID && t.ID != (codec.UUID{}) && old.ID != (codec.UUID{}) {
		return t, []Change{TopicRecreated{Topic: t.Name, OldID: old.ID, NewID: t.ID}}
	}
	if t.ID == (codec.UUID{}) {
		t.ID = old.ID
	}
	// The same topic: a partition described with an older leader epoch than we know is
	// stale; a response listing fewer partitions than we know is stale for the rest.
	for i := range t.Partitions {
		if i < len(old.Partitions) && t.Partitions[i].LeaderEpoch < old.Partitions[i].LeaderEpoch {
			t.Partitions[i] = old.Partitions[i]
		}
	}
	if len(t.Partitions) < len(old.Partitions) {
		t.Partitions = append(t.Partitions, old.Partitions[len(t.Partitions):]...)
	}
	if len(t.Partitions) > len(old.Partitions) {
		return t, []Change{PartitionsAdded{Topic: t.Name, From: len(old.Partitions), To: len(t.Partitions)}}
	}
	return t, nil
}

// unresolved reports whether a topic's description is one that is worth asking again for
// soon: it does not exist yet (it may be being created), or it or one of its partitions
// has no leader right now.
func unresolved(t *Topic) bool {
	if t == nil {
		return true
	}
	if t.Err != nil {
		return errors.Is(t.Err, errcode.UnknownTopicOrPartition) || errors.Is(t.Err, errcode.LeaderNotAvailable) || errcode.Retriable(t.Err)
	}
	if len(t.Partitions) == 0 {
		return true
	}
	for i := range t.Partitions {
		if t.Partitions[i].Leader < 0 {
			return true
		}
	}
	return false
}
