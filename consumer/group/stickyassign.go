package group

import (
	"cmp"
	"slices"
)

// stickyState is one run of the sticky assignors' algorithm: a plain struct, built from
// the members' subscriptions and claims, that assign fills and assignments reads out.
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
// fewer could take, partitions move from the first to the second until their counts are
// within one (partitions the holder did not own before first). Each single move lowers the
// sum of the squared counts, so this ends, and it ends balanced: no partition could move
// to a member with two fewer.
type stickyState struct {
	ms          []assignMember
	order       []int            // indices into ms, by member ID
	topics      []string         // every subscribed topic the cluster knows, sorted
	topicIndex  map[string]int32 // topic -> index in topics
	partitions  []int32          // topic index -> partition count
	subscribers [][]int          // topic index -> its subscribers, in order

	// prevOwner is, by topic index and partition, the valid owner before this
	// rebalance (see above), stickyNoOwner, or stickyContested.
	prevOwner [][]int32
	// owned is, by member, what it validly owned and still subscribes to, sorted.
	owned [][]tpIndex

	holder    [][]int32           // topic index -> partition -> member holding it now, or stickyNoOwner
	held      []map[int32][]int32 // member -> topic index -> partitions it holds now
	count     []int               // member -> number of partitions it holds now
	potential []int               // member -> number of partitions it could read
}

const (
	stickyNoOwner   = -1 // in prevOwner and holder: nobody
	stickyContested = -2 // in prevOwner: claimed twice in the highest generation
)

// tpIndex is a partition named by its topic's index in stickyState.topics.
type tpIndex struct{ t, p int32 }

func newStickyState(ms []assignMember, partitions map[string]int32, claim func(*Subscription) ([]TopicPartitions, int32)) *stickyState {
	st := &stickyState{
		ms:         ms,
		topics:     subscribedTopics(ms),
		topicIndex: make(map[string]int32),
		order:      make([]int, len(ms)),
		owned:      make([][]tpIndex, len(ms)),
		held:       make([]map[int32][]int32, len(ms)),
		count:      make([]int, len(ms)),
		potential:  make([]int, len(ms)),
	}
	nt := len(st.topics)
	st.partitions = make([]int32, nt)
	st.subscribers = make([][]int, nt)
	st.prevOwner = make([][]int32, nt)
	st.holder = make([][]int32, nt)
	for ti, t := range st.topics {
		st.topicIndex[t] = int32(ti)
		n := partitions[t]
		st.partitions[ti] = n
		st.prevOwner[ti] = make([]int32, n)
		st.holder[ti] = make([]int32, n)
		for p := range n {
			st.prevOwner[ti][p], st.holder[ti][p] = stickyNoOwner, stickyNoOwner
		}
	}
	for i := range st.order {
		st.order[i] = i
		st.held[i] = make(map[int32][]int32)
		for t := range ms[i].topics {
			st.potential[i] += int(partitions[t])
		}
	}
	slices.SortFunc(st.order, func(a, b int) int { return cmp.Compare(ms[a].sub.MemberID, ms[b].sub.MemberID) })
	for _, i := range st.order {
		for ti, t := range st.topics {
			if ms[i].topics[t] {
				st.subscribers[ti] = append(st.subscribers[ti], i)
			}
		}
	}

	maxGeneration := int32(-1)
	var touched []tpIndex // the claims recorded in maxGeneration, to forget if a higher one comes
	for _, i := range st.order {
		claims, generation := claim(ms[i].sub)
		if generation < maxGeneration {
			continue // a stale claim: the group has moved on without it
		}
		if generation > maxGeneration {
			for _, k := range touched {
				st.prevOwner[k.t][k.p] = stickyNoOwner
			}
			touched = touched[:0]
			maxGeneration = generation
		}
		for _, tp := range claims {
			ti, ok := st.topicIndex[tp.Topic]
			if !ok {
				continue // a topic no member subscribes to, or the cluster does not know
			}
			for _, p := range tp.Partitions {
				if p < 0 || p >= st.partitions[ti] {
					continue
				}
				switch cur := st.prevOwner[ti][p]; {
				case cur == stickyNoOwner:
					st.prevOwner[ti][p] = int32(i)
					touched = append(touched, tpIndex{ti, p})
				case cur >= 0 && cur != int32(i):
					st.prevOwner[ti][p] = stickyContested
				}
			}
		}
	}
	for ti, owners := range st.prevOwner {
		for p, o := range owners {
			if o >= 0 && ms[o].topics[st.topics[ti]] {
				st.owned[o] = append(st.owned[o], tpIndex{int32(ti), int32(p)})
			}
		}
	}
	return st
}

func (st *stickyState) give(i int, k tpIndex) {
	st.held[i][k.t] = append(st.held[i][k.t], k.p)
	st.holder[k.t][k.p] = int32(i)
	st.count[i]++
}

// unassigned returns, sorted by topic and partition, every partition of a subscribed topic
// that no member holds yet.
func (st *stickyState) unassigned() []tpIndex {
	var out []tpIndex
	for ti, holders := range st.holder {
		for p, h := range holders {
			if h == stickyNoOwner {
				out = append(out, tpIndex{int32(ti), int32(p)})
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
	for _, subs := range st.subscribers {
		same = same && len(subs) == len(st.ms)
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
	for _, n := range st.partitions {
		total += int(n)
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
		owned := st.owned[i]
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
		for _, k := range st.owned[i] {
			st.give(i, k)
		}
	}
	rest := st.unassigned()
	slices.SortStableFunc(rest, func(a, b tpIndex) int {
		return cmp.Compare(len(st.subscribers[a.t]), len(st.subscribers[b.t]))
	})
	for _, k := range rest {
		st.give(st.leastLoaded(st.subscribers[k.t]), k)
	}
	byLoad := slices.Clone(st.order)
	for st.moveOne(byLoad) {
	}
}

// moveOne moves partitions of one topic from the most loaded member that holds a partition
// some subscriber with at least two fewer could take, to the least loaded such subscriber,
// until their counts are within one or the topic runs out. It reports whether it moved
// any. byLoad is scratch space holding every member.
func (st *stickyState) moveOne(byLoad []int) bool {
	slices.SortFunc(byLoad, func(a, b int) int {
		return cmp.Or(cmp.Compare(st.count[b], st.count[a]), cmp.Compare(st.ms[a].sub.MemberID, st.ms[b].sub.MemberID))
	})
	for _, from := range byLoad {
		if st.count[from] < 2 {
			return false // nobody can hold two fewer
		}
		to, topic := -1, int32(-1)
		for ti := range st.topics {
			if len(st.held[from][int32(ti)]) == 0 {
				continue
			}
			for _, j := range st.subscribers[ti] {
				if j != from && st.count[j] <= st.count[from]-2 && (to < 0 || st.count[j] < st.count[to]) {
					to, topic = j, int32(ti)
				}
			}
		}
		if to < 0 {
			continue
		}
		// Move while the move still helps: each single move lowers the sum of squared
		// counts, so moving several at once changes nothing of the argument, and saves
		// rescanning when one member has far more than the others (a group scaling out).
		for st.count[to] <= st.count[from]-2 && len(st.held[from][topic]) > 0 {
			ps := st.held[from][topic]
			pick := len(ps) - 1
			for x := len(ps) - 1; x >= 0; x-- {
				if st.prevOwner[topic][ps[x]] != int32(from) {
					pick = x
					break
				}
			}
			p := ps[pick]
			st.held[from][topic] = slices.Delete(ps, pick, pick+1)
			st.count[from]--
			st.give(to, tpIndex{topic, p})
		}
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
		for ti, ps := range st.held[i] {
			st.held[i][ti] = slices.DeleteFunc(ps, func(p int32) bool {
				o := st.prevOwner[ti][p]
				if o == stickyContested || o >= 0 && o != int32(i) {
					st.holder[ti][p] = stickyNoOwner
					st.count[i]--
					return true
				}
				return false
			})
		}
	}
}

// assignments returns the Assign result: every member's partitions, topics by name and
// partitions ascending.
func (st *stickyState) assignments() map[string]Assignment {
	out := make(map[string]Assignment, len(st.ms))
	for i := range st.ms {
		var a Assignment
		for ti := range st.topics {
			ps := st.held[i][int32(ti)]
			if len(ps) == 0 {
				continue
			}
			slices.Sort(ps)
			a.Partitions = append(a.Partitions, TopicPartitions{Topic: st.topics[ti], Partitions: ps})
		}
		out[st.ms[i].sub.MemberID] = a
	}
	return out
}
