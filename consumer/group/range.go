package group

import "slices"

// rangeAssignor is Kafka's "range" assignor.
type rangeAssignor struct{}

// Range returns the assignor Kafka calls "range" (the Java client's RangeAssignor, its
// default before 3.0 and still the first of its defaults): topic by topic, the members
// subscribed to the topic are put in order and each takes a contiguous range of its
// partitions, the first members one more when the partitions do not divide evenly.
//
// Members are ordered as Java orders them: static members (with an instance ID) first, by
// instance ID, then the others by member ID. With two members C0 and C1 subscribed to t0
// and t1 of three partitions each, C0 gets t0p0, t0p1, t1p0, t1p1 and C1 gets t0p2 and
// t1p2: range keeps the same partition numbers of different topics together (useful for
// joins) at the cost of balance when many topics have few partitions.
//
// Range is eager: every member gives up all its partitions at each rebalance. The Java
// client's rack-aware variant (KIP-881) is not implemented: Assign is not told where
// partitions' replicas live, and without racks both give the same assignment.
func Range() Assignor { return rangeAssignor{} }

func (rangeAssignor) Name() string                             { return "range" }
func (rangeAssignor) Cooperative() bool                        { return false }
func (rangeAssignor) UserData([]TopicPartitions, int32) []byte { return nil }

func (rangeAssignor) Assign(members []Subscription, partitions map[string]int32) (map[string]Assignment, error) {
	ms, err := checkAssignInput(members, partitions)
	if err != nil {
		return nil, err
	}
	order := make([]int, len(ms))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareMembers(&ms[a], &ms[b]) })

	parts := make([][]topicPartition, len(ms))
	var subs []int
	for _, topic := range subscribedTopics(ms) {
		subs = subs[:0]
		for _, i := range order {
			if ms[i].subscribes(topic) {
				subs = append(subs, i)
			}
		}
		n := int(partitions[topic])
		per, extra := n/len(subs), n%len(subs)
		for k, i := range subs {
			start := per*k + min(k, extra)
			length := per
			if k < extra {
				length++
			}
			for p := start; p < start+length; p++ {
				parts[i] = append(parts[i], topicPartition{topic, int32(p)})
			}
		}
	}
	return toAssignments(ms, parts), nil
}
