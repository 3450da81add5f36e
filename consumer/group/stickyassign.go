package group

import (
	"cmp"
	"maps"
	"slices"
)

// stickyState is one run of the sticky assignors' algorithm: a plain struct, built from
// the members' subscriptions and claims, that assign fills and result reads out.
//
// Claims are resolved as the Java client's AbstractStickyAssignor resolves them (KIP-792):
// only the claims made in the highest generation any member reports count; a partition
// claimed by two members of that generation is owned by neither (contested); claims of
// topics nobody subscribes to any more, or of partitions that do not exist, are dropped.
//
// Then, when every member subscribes to the same topics, the assignment is Java's
// constrained one, step for step (members in member-ID order where Java iterates a hash
// map, previous partitions in topic-partition order): each member keeps what it owned up
// to its quota (the partitions divided by the members, rounded down, or up for as many
// members as the remainder), and the partitions left are dealt round robin to the members
// below quota. Members' counts then differ by at most one, and a member that gains a
// partition loses none.
//
// When subscriptions differ, troupe's own algorithm gives the same guarantees as Java's
// (which depend on hash-map order, so no implementation reproduces its exact output):
// every member keeps what it owned and still subscribes to; the other partitions, those
// of topics with the fewest subscribers first, go each to the least loaded member that
// subscribes to them (of equally loaded ones, the one that could read the fewest); then,
// while some member holds a partition that a subscriber with at least two partitions
// fewer could take, one moves (a partition the holder did not own before, if it has one).
// Each move lowers the sum of the squared counts, so this ends, and it ends balanced: no
// partition could move to a member with two fewer.
type stickyState struct {
	ms          []member
	order       []int // indices into ms, by member ID
	partitions  map[string]int32
	topics      []string         // every subscribed topic the cluster knows, sorted
	subscribers map[string][]int // topic -> its subscribers, in order

	// prevOwner is the valid owner of each partition before this rebalance (see above);
	// contested are the partitions two members claimed in the highest generation.
	prevOwner map[topicPartition]int
	contested map[topicPartition]bool

	held      []map[string][]int32 // member -> topic -> partitions assigned so far
	count     []int                // member -> number of partitions assigned so far
	potential []int                // member -> number of partitions it could read
}

func newStickyState(ms []member, partitions map[string]int32, claim func(*Subscription) ([]TopicPartitions, int32)) *stickyState {
	st := &stickyState{
		ms:          ms,
		partitions:  partitions,
		topics:      subscribedTopics(ms),
		subscribers: make(map[string][]int),
		prevOwner:   make(map[topicPartition]int),
		contested:   make(map[topicPartition]bool),
		held:        make([]map[string][]int32, len(ms)),
		count:       make([]int, len(ms)),
		potential:   make([]int, len(ms)),
	}
	st.order = make([]int, len(ms))
	for i := range st.order {
		st.order[i] = i
		st.held[i] = make(map[string][]int32)
		for t := range ms[i].topics {
			st.potential[i] += int(partitions[t])
		}
	}
	slices.SortFunc(st.order, func(a, b int) int { return cmp.Compare(ms[a].sub.MemberID, ms[b].sub.MemberID) })
	for _, i := range st.order {
		for t := range ms[i].topics {
			st.subscribers[t] = append(st.subscribers[t], i)
		}
	}

	maxGeneration := int32(-1)
	for _, i := range st.order {
		owned, generation := claim(ms[i].sub)
		if generation < maxGeneration {
			continue // a stale claim: the group has moved on without it
		}
		if generation > maxGeneration {
			clear(st.prevOwner)
			clear(st.contested)
			maxGeneration = generation
		}
		for _, tp := range owned {
			n, known := partitions[tp.Topic]
			if !known || len(st.subscribers[tp.Topic]) == 0 {
				continue
			}
			for _, p := range tp.Partitions {
				if p < 0 || p >= n {
					continue
				}
				k := topicPartition{tp.Topic, p}
				if prev, ok := st.prevOwner[k]; ok && prev != i {
					st.contested[k] = true
				}
				st.prevOwner[k] = i
			}
		}
	}
	for k := range st.contested {
		delete(st.prevOwner, k)
	}
	return st
}

// owned returns, sorted, the partitions member i validly owned before this rebalance and
// still subscribes to.
func (st *stickyState) owned(i int) []topicPartition {
	var out []topicPartition
	for k, o := range st.prevOwner {
		if o == i && st.ms[i].subscribes(k.topic) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, compareTP)
	return out
}

func (st *stickyState) give(i int, k topicPartition) {
	st.held[i][k.topic] = append(st.held[i][k.topic], k.partition)
	st.count[i]++
}

// unassigned returns, sorted by topic and partition, every partition of a subscribed topic
// that no member holds yet.
func (st *stickyState) unassigned() []topicPartition {
	taken := make(map[topicPartition]bool)
	for i := range st.held {
		for t, ps := range st.held[i] {
			for _, p := range ps {
				taken[topicPartition{t, p}] = true
			}
		}
	}
	var out []topicPartition
	for _, t := range st.topics {
		for p := range st.partitions[t] {
			if k := (topicPartition{t, p}); !taken[k] {
				out = append(out, k)
			}
		}
	}
	return out
}

// assign fills held: the constrained algorithm when every member subscribes to the same
// topics, the general one otherwise.
func (st *stickyState) assign() {
	if len(st.ms) == 0 {
		return
	}
	same := true
	for _, i := range st.order[1:] {
		same = same && maps.Equal(st.ms[i].topics, st.ms[st.order[0]].topics)
	}
	if same {
		st.constrained()
	} else {
		st.general()
	}
}

// constrained is the Java client's assignment for members with equal subscriptions.
func (st *stickyState) constrained() {
	total := 0
	for _, t := range st.topics {
		total += int(st.partitions[t])
	}
	n := len(st.order)
	minQuota, extra := total/n, total%n
	maxQuota := minQuota
	if extra > 0 {
		maxQuota++
	}
	// over counts the members given maxQuota; only extra of them may be.
	over := 0
	var underMin, atMin []int
	for _, i := range st.order {
		owned := st.owned(i)
		switch {
		case len(owned) < minQuota:
			for _, k := range owned {
				st.give(i, k)
			}
			underMin = append(underMin, i)
		case len(owned) >= maxQuota && over < extra:
			over++
			if over == extra {
				atMin = atMin[:0] // no one else may go above minQuota
			}
			for _, k := range owned[:maxQuota] {
				st.give(i, k)
			}
		default:
			for _, k := range owned[:minQuota] {
				st.give(i, k)
			}
			if over < extra {
				atMin = append(atMin, i)
			}
		}
	}

	// Deal the rest round robin to the members below minQuota; once all are at it, one
	// more each to members at minQuota until extra members hold maxQuota.
	next := 0
	for _, k := range st.unassigned() {
		var i int
		switch {
		case len(underMin) > 0:
			if next >= len(underMin) {
				next = 0
			}
			i = underMin[next]
			st.give(i, k)
			if st.count[i] == minQuota {
				underMin = slices.Delete(underMin, next, next+1)
				atMin = append(atMin, i)
			} else {
				next++
			}
			continue
		case len(atMin) > 0:
			i, atMin = atMin[0], atMin[1:]
		default:
			// The quotas account for every partition, so this cannot happen; should it,
			// the partition still goes to the least loaded member rather than nowhere.
			i = st.leastLoaded(st.order)
		}
		st.give(i, k)
	}
}

// leastLoaded returns the one of candidates with the fewest partitions; of those, the one
// that could read the fewest (it has fewer other ways to its share); of those, the first.
func (st *stickyState) leastLoaded(candidates []int) int {
	best := candidates[0]
	for _, i := range candidates[1:] {
		if c := cmp.Or(cmp.Compare(st.count[i], st.count[best]), cmp.Compare(st.potential[i], st.potential[best])); c < 0 {
			best = i
		}
	}
	return best
}

// general is troupe's assignment for members with different subscriptions (see
// stickyState).
func (st *stickyState) general() {
	for _, i := range st.order {
		for _, k := range st.owned(i) {
			st.give(i, k)
		}
	}
	rest := st.unassigned()
	slices.SortStableFunc(rest, func(a, b topicPartition) int {
		return cmp.Compare(len(st.subscribers[a.topic]), len(st.subscribers[b.topic]))
	})
	for _, k := range rest {
		st.give(st.leastLoaded(st.subscribers[k.topic]), k)
	}
	for st.moveOne() {
	}
}

// moveOne moves one partition from the most loaded member that holds a partition some
// subscriber with at least two fewer could take, to the least loaded such subscriber. It
// reports whether it moved one.
func (st *stickyState) moveOne() bool {
	byLoad := slices.Clone(st.order)
	slices.SortStableFunc(byLoad, func(a, b int) int { return cmp.Compare(st.count[b], st.count[a]) })
	for _, from := range byLoad {
		to, topic := -1, ""
		for _, t := range st.topics {
			if len(st.held[from][t]) == 0 {
				continue
			}
			for _, j := range st.subscribers[t] {
				if j != from && st.count[j] <= st.count[from]-2 && (to < 0 || st.count[j] < st.count[to]) {
					to, topic = j, t
				}
			}
		}
		if to < 0 {
			continue
		}
		ps := st.held[from][topic]
		pick := len(ps) - 1
		for x := len(ps) - 1; x >= 0; x-- {
			if o, ok := st.prevOwner[topicPartition{topic, ps[x]}]; !ok || o != from {
				pick = x
				break
			}
		}
		p := ps[pick]
		st.held[from][topic] = slices.Delete(ps, pick, pick+1)
		st.count[from]--
		st.give(to, topicPartition{topic, p})
		return true
	}
	return false
}

// holdBackMoves applies the cooperative rule (KIP-429): a partition assigned to a member
// other than its valid previous owner, or one that was contested, is left unassigned for
// this rebalance. Its owner sees it revoked, gives it up and rejoins; the next rebalance
// assigns it.
func (st *stickyState) holdBackMoves() {
	for i := range st.held {
		for t, ps := range st.held[i] {
			st.held[i][t] = slices.DeleteFunc(ps, func(p int32) bool {
				k := topicPartition{t, p}
				o, owned := st.prevOwner[k]
				if st.contested[k] || owned && o != i {
					st.count[i]--
					return true
				}
				return false
			})
		}
	}
}

// result returns each member's partitions, indexed as ms.
func (st *stickyState) result() [][]topicPartition {
	out := make([][]topicPartition, len(st.ms))
	for i := range st.held {
		for t, ps := range st.held[i] {
			for _, p := range ps {
				out[i] = append(out[i], topicPartition{t, p})
			}
		}
	}
	return out
}
