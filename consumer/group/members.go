package group

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// ErrInvalidAssignInput means an assignor was given input it cannot assign from: two
// members with the same member ID, a member without one, or a negative partition count.
// The leader reports it instead of sending the group a wrong assignment.
var ErrInvalidAssignInput = errors.New("group: invalid assignor input")

// topicPartition names one partition.
type topicPartition struct {
	topic     string
	partition int32
}

func compareTP(a, b topicPartition) int {
	if c := cmp.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

// assignMember is one subscription as the assignors see it: its topics reduced to a set of the
// topics the cluster knows.
type assignMember struct {
	sub    *Subscription
	topics map[string]bool
}

// subscribes reports whether m reads topic.
func (m *assignMember) subscribes(topic string) bool { return m.topics[topic] }

// checkInput validates what every assignor is given and returns the members with their
// topic sets (duplicates and topics missing from partitions left out), in input order.
func checkAssignInput(members []Subscription, partitions map[string]int32) ([]assignMember, error) {
	for t, n := range partitions {
		if n < 0 {
			return nil, fmt.Errorf("topic %q has %d partitions: %w", t, n, ErrInvalidAssignInput)
		}
	}
	seen := make(map[string]bool, len(members))
	out := make([]assignMember, len(members))
	for i := range members {
		s := &members[i]
		if s.MemberID == "" {
			return nil, fmt.Errorf("member %d has no member ID: %w", i, ErrInvalidAssignInput)
		}
		if seen[s.MemberID] {
			return nil, fmt.Errorf("member ID %q appears twice: %w", s.MemberID, ErrInvalidAssignInput)
		}
		seen[s.MemberID] = true
		topics := make(map[string]bool, len(s.Topics))
		for _, t := range s.Topics {
			if _, ok := partitions[t]; ok {
				topics[t] = true
			}
		}
		out[i] = assignMember{sub: s, topics: topics}
	}
	return out, nil
}

// compareMembers orders members as the Java client's range and round-robin assignors do
// (their MemberInfo): static members (with a group.instance.id) first, by instance ID, so
// that a static member restarted under a new member ID keeps its place; then dynamic
// members by member ID. Go compares strings by bytes, Java by UTF-16 code units; the two
// orders agree on every ID without characters above U+FFFF.
func compareMembers(a, b *assignMember) int {
	ai, bi := a.sub.InstanceID, b.sub.InstanceID
	switch {
	case ai != "" && bi != "":
		if c := cmp.Compare(ai, bi); c != 0 {
			return c
		}
		return cmp.Compare(a.sub.MemberID, b.sub.MemberID)
	case ai != "":
		return -1
	case bi != "":
		return 1
	}
	return cmp.Compare(a.sub.MemberID, b.sub.MemberID)
}

// subscribedTopics returns, sorted, every topic some member subscribes to and the cluster
// knows.
func subscribedTopics(ms []assignMember) []string {
	set := make(map[string]bool)
	for i := range ms {
		for t := range ms[i].topics {
			set[t] = true
		}
	}
	topics := make([]string, 0, len(set))
	for t := range set {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return topics
}

// assignments turns each member's partitions into the Assign result: every member has an
// entry, topics sorted by name and partitions ascending within each.
func toAssignments(ms []assignMember, parts [][]topicPartition) map[string]Assignment {
	out := make(map[string]Assignment, len(ms))
	for i := range ms {
		out[ms[i].sub.MemberID] = Assignment{Partitions: groupByTopic(parts[i])}
	}
	return out
}

// groupByTopic sorts tps and groups them by topic, or returns nil for none.
func groupByTopic(tps []topicPartition) []TopicPartitions {
	if len(tps) == 0 {
		return nil
	}
	tps = slices.Clone(tps)
	slices.SortFunc(tps, compareTP)
	var out []TopicPartitions
	for _, tp := range tps {
		if n := len(out); n == 0 || out[n-1].Topic != tp.topic {
			out = append(out, TopicPartitions{Topic: tp.topic})
		}
		last := &out[len(out)-1]
		last.Partitions = append(last.Partitions, tp.partition)
	}
	return out
}
