package group

import "slices"

// roundRobinAssignor is Kafka's "roundrobin" assignor.
type roundRobinAssignor struct{}

// RoundRobin returns the assignor Kafka calls "roundrobin" (the Java client's
// RoundRobinAssignor): every partition of every subscribed topic, sorted by topic and then
// partition, is dealt in turn to the members, put in order as [Range] orders them; a member
// not subscribed to a partition's topic is skipped for that partition.
//
// With C0 and C1 subscribed to t0 and t1 of three partitions each, C0 gets t0p0, t0p2 and
// t1p1, C1 gets t0p1, t1p0 and t1p2. When every member subscribes to the same topics, the
// numbers of partitions members get differ by at most one; when subscriptions differ they
// can differ more (the sticky assignors balance better).
//
// RoundRobin is eager: every member gives up all its partitions at each rebalance.
func RoundRobin() Assignor { return roundRobinAssignor{} }

func (roundRobinAssignor) Name() string                             { return "roundrobin" }
func (roundRobinAssignor) Cooperative() bool                        { return false }
func (roundRobinAssignor) UserData([]TopicPartitions, int32) []byte { return nil }

func (roundRobinAssignor) Assign(members []Subscription, partitions map[string]int32) (map[string]Assignment, error) {
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
	next := 0 // position in order of the member the next partition is offered to
	for _, topic := range subscribedTopics(ms) {
		for p := range partitions[topic] {
			// Some member subscribes to topic (subscribedTopics says so), so this ends
			// within one turn around the members.
			for !ms[order[next]].subscribes(topic) {
				next = (next + 1) % len(order)
			}
			i := order[next]
			parts[i] = append(parts[i], topicPartition{topic, p})
			next = (next + 1) % len(order)
		}
	}
	return toAssignments(ms, parts), nil
}
