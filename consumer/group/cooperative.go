package group

import (
	"fmt"
	"slices"
)

// Incremental cooperative rebalancing (KIP-429) in the classic member: the parts of the
// membership state machine where it differs from eager rebalancing.
//
// Which one a generation follows is the protocol of the assignor the coordinator chose
// (Assignor.Cooperative), as franz-go decides it, so that a group whose members offer
// ["cooperative-sticky", "range"] — the Java client's upgrade path — follows what the
// group uses; a member decides how to enter a rebalance by how it entered its current
// generation.
//
//	eager:        REBALANCE_IN_PROGRESS ─► revoke everything ─► JoinGroup (owns nothing)
//	              ─► SyncGroup ─► take the assignment
//	cooperative:  REBALANCE_IN_PROGRESS ─► JoinGroup (keeps reading; its subscription
//	              names what it owns and the generation it got it in)
//	              ─► SyncGroup ─► revoke owned − assigned, take assigned − owned
//	              ─► if it revoked anything: rejoin once revoked, and the rebalance
//	                 that follows gives those partitions to their new owners
//
// A cooperative assignor never gives a partition to a member while another still owns
// it (checkCooperative makes sure, for the leader's own assignor), so no partition is
// read by two members at once. Losses are as in eager rebalancing: a member told it is
// no longer in the generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, on any request)
// or without a heartbeat for its session loses what it kept, without a commit.

// take is the outcome of a successful SyncGroup: the member owns assigned now. An
// eager member owns nothing before (it gave everything up), so all of it is new. A
// cooperative one kept what it owned through the join: it revokes what the assignment
// no longer holds (before anything else: it may be moving to another member), takes
// only what is new, and rejoins once the revocation is done. A member that kept
// partitions through a join in which the group went back to an eager assignor gives
// them all up first, as an eager member would have before joining, and takes the
// whole assignment afresh (from the committed offsets).
func (m *membership) take(assigned []TopicPartitions) step {
	s := step{Assigned: true, Alive: true}
	if m.cooperative {
		revoke, add := diffParts(m.owned, assigned), diffParts(assigned, m.owned)
		s.Assign = add
		if len(revoke) > 0 {
			s.Rebalance, s.Revoke = true, revoke
			m.revoking++
			m.rejoin = true
		}
	} else {
		s.Assign = assigned
		if len(m.owned) > 0 {
			s.Rebalance, s.Revoke = true, m.owned
			m.revoking++
		}
	}
	m.owned = assigned
	m.last, m.lastGen = assigned, m.generation
	return s
}

// rebalanceCooperative answers a heartbeat's REBALANCE_IN_PROGRESS in a cooperative
// generation: rejoin at once, keeping everything, unless a revocation is still under
// way: then once it is done (revoked). Partitions of topics the member no longer
// subscribes to are revoked first, as the Java client does before it rejoins: the
// assignors ignore claims on topics a member does not subscribe to, so one of them
// could go to another member while this one still read it.
func (m *membership) rebalanceCooperative() step {
	m.rejoin = true
	if gone := m.unsubscribed(); len(gone) > 0 {
		m.owned = diffParts(m.owned, gone)
		m.revoking++
		return step{Rebalance: true, Revoke: gone, Alive: true}
	}
	if m.revoking > 0 {
		return step{Alive: true}
	}
	s := m.join(0)
	s.Alive = true
	return s
}

// unsubscribed returns the partitions the member owns of topics it does not subscribe to.
func (m *membership) unsubscribed() []TopicPartitions {
	var out []TopicPartitions
	for _, tp := range m.owned {
		if !slices.Contains(m.topics, tp.Topic) {
			out = append(out, tp)
		}
	}
	return out
}

// drop gives up everything the member owns without a revocation (it is lost) and
// forgets its previous assignment and generation: the next subscription claims nothing.
func (m *membership) drop() []TopicPartitions {
	lost := m.owned
	m.owned, m.last, m.lastGen, m.generation = nil, nil, -1, -1
	return lost
}

// commitGeneration is the generation the member's commits carry now, or -1 when it
// has none to commit in. A cooperative member reads on through a rebalance, and so
// commits through it in the generation it last joined: the coordinator accepts those
// commits while it waits for the members to rejoin, and refuses them (REBALANCE_IN_PROGRESS)
// once it waits for the leader's assignment; a commit refused because the generation
// moved on is sent again with the new one, for the partitions kept.
func (m *membership) commitGeneration() int32 {
	switch m.state {
	case stateStable, stateRebalancing:
		return m.generation
	case stateJoining, stateSyncing, stateUnjoined:
		if len(m.owned) > 0 {
			return m.generation
		}
	}
	return -1
}

// checkCooperative refuses an assignment that gives a partition to a member while
// another member still owns it: under KIP-429 the owner must revoke it first, so an
// assignor that does not hold it back for a rebalance would have two members read it
// at once. Claims count as the assignors weigh them (KIP-792, as the Java client's
// sticky assignors do): only those of members in the highest generation any member
// reports; a member behind it lost its partitions when it fell behind.
func checkCooperative(members []Subscription, got map[string]Assignment) error {
	maxGen := int32(-1)
	for _, s := range members {
		if len(s.Owned) > 0 {
			maxGen = max(maxGen, s.Generation)
		}
	}
	owners := make(map[topicPartition][]string)
	for _, s := range members {
		if s.Generation < maxGen {
			continue
		}
		for _, tp := range s.Owned {
			for _, p := range tp.Partitions {
				k := topicPartition{tp.Topic, p}
				owners[k] = append(owners[k], s.MemberID)
			}
		}
	}
	for id, a := range got {
		for _, tp := range a.Partitions {
			for _, p := range tp.Partitions {
				for _, o := range owners[topicPartition{tp.Topic, p}] {
					if o != id {
						return fmt.Errorf("%w: %s/%d given to %q while %q still owns it (a cooperative assignor must hold it back for a rebalance)",
							ErrInvalidAssignment, tp.Topic, p, id, o)
					}
				}
			}
		}
	}
	return nil
}

// diffParts returns the partitions of a that b lacks, both normalized (sorted by topic
// and partition).
func diffParts(a, b []TopicPartitions) []TopicPartitions {
	var out []TopicPartitions
	for _, ta := range a {
		i := slices.IndexFunc(b, func(tb TopicPartitions) bool { return tb.Topic == ta.Topic })
		var have []int32
		if i >= 0 {
			have = b[i].Partitions
		}
		var ps []int32
		for _, p := range ta.Partitions {
			if _, found := slices.BinarySearch(have, p); !found {
				ps = append(ps, p)
			}
		}
		if len(ps) > 0 {
			out = append(out, TopicPartitions{Topic: ta.Topic, Partitions: ps})
		}
	}
	return out
}
