package group

import (
	"encoding/binary"
	"fmt"

	"github.com/troupe-go/troupe/wire/codec"
)

// stickyAssignor is Kafka's "sticky" assignor (cooperative false) or its
// "cooperative-sticky" one (cooperative true). Both run the algorithm in stickyassign.go;
// they differ in where a member's previous assignment comes from and in whether
// partitions changing owner are held back for a rebalance.
type stickyAssignor struct{ cooperative bool }

// Sticky returns the assignor Kafka calls "sticky" (the Java client's StickyAssignor,
// KIP-54): it balances partitions over the members as evenly as their subscriptions allow
// and, within that balance, leaves as many partitions as it can with the member that read
// them before, so a rebalance moves few partitions.
//
// Sticky is eager: members still give up every partition before each rebalance. A member
// tells the leader what it read before in its subscription's user data, the Java client's
// StickyAssignorUserData (its previous partitions and generation), which [Assignor.UserData]
// builds from the partitions the member owned before it gave them up. Use
// [CooperativeSticky] instead unless the group mixes in members that only know "sticky".
func Sticky() Assignor { return stickyAssignor{} }

// CooperativeSticky returns the assignor Kafka calls "cooperative-sticky" (the Java
// client's CooperativeStickyAssignor, KIP-429): the same balance and stickiness as
// [Sticky], under the incremental cooperative protocol. A member keeps reading the
// partitions it keeps through a rebalance; a partition that moves from one member to
// another is not given to its new owner in the rebalance that takes it away: the old owner
// first revokes it and rejoins, and the rebalance that follows gives it to the new owner.
// So no partition is ever read by two members at once.
//
// Ownership comes from the subscription's Owned and Generation (version 2 and later) or,
// from members that send version 1, from the user data (the generation as 4 bytes, as the
// Java client sends it). When two members claim the same partition, the claim of the
// higher generation wins and the lower one is ignored (KIP-792); two claims in the same
// generation cancel each other and the partition is held back for a rebalance.
func CooperativeSticky() Assignor { return stickyAssignor{cooperative: true} }

func (a stickyAssignor) Name() string {
	if a.cooperative {
		return "cooperative-sticky"
	}
	return "sticky"
}

func (a stickyAssignor) Cooperative() bool { return a.cooperative }

// UserData is, for cooperative-sticky, the generation as a 4-byte big-endian int32 (the
// Java client's CooperativeStickyAssignor user data; members that send subscription v2 or
// later also carry it in Generation). For sticky it is StickyAssignorUserData: owned, and
// the generation when it is known (version 1), or nil for a member that never had an
// assignment (no owned partitions and generation -1).
func (a stickyAssignor) UserData(owned []TopicPartitions, generation int32) []byte {
	if a.cooperative {
		return binary.BigEndian.AppendUint32(nil, uint32(generation))
	}
	if len(owned) == 0 && generation < 0 {
		return nil
	}
	return appendStickyUserData(nil, owned, generation)
}

// appendStickyUserData appends StickyAssignorUserData: version 1 (partitions, then the
// generation) when generation is known, version 0 (partitions only) when it is -1. The
// data carries no version number; readers tell the two apart by length.
func appendStickyUserData(dst []byte, owned []TopicPartitions, generation int32) []byte {
	dst = appendTopicPartitions(dst, owned)
	if generation >= 0 {
		dst = codec.AppendInt32(dst, generation)
	}
	return dst
}

// decodeStickyUserData reads StickyAssignorUserData version 1, or version 0 when no
// generation follows the partitions (generation -1 then). Like the Java client, it reads a
// generation when at least four bytes follow the partitions and ignores anything after it.
func decodeStickyUserData(b []byte) ([]TopicPartitions, int32, error) {
	d := codec.NewDecoder(b)
	owned := readTopicPartitions(d, "sticky user data")
	if err := d.Err(); err != nil {
		return nil, -1, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	generation := int32(-1)
	if d.Remaining() >= 4 {
		generation = d.Int32()
	}
	return owned, generation, nil
}

// claim is what a member says it owned before this rebalance, and in which generation.
func (a stickyAssignor) claim(s *Subscription) ([]TopicPartitions, int32) {
	if !a.cooperative {
		// The eager member gave everything up before joining, so Owned is empty; what
		// it read before is in the user data. Unreadable user data is no claim, as in
		// the Java client.
		owned, generation, err := decodeStickyUserData(s.UserData)
		if err != nil || len(s.UserData) == 0 {
			return nil, -1
		}
		return owned, generation
	}
	generation := s.Generation
	if generation < 0 && len(s.UserData) >= 4 {
		generation = int32(binary.BigEndian.Uint32(s.UserData))
	}
	return s.Owned, generation
}

func (a stickyAssignor) Assign(members []Subscription, partitions map[string]int32) (map[string]Assignment, error) {
	ms, err := checkAssignInput(members, partitions)
	if err != nil {
		return nil, err
	}
	st := newStickyState(ms, partitions, a.claim)
	st.assign()
	if a.cooperative {
		st.holdBackMoves()
	}
	return st.assignments(), nil
}
