package group

import (
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// kgoBalancer returns franz-go's balancer of the same name: an independent implementation
// of the same protocol, used here as a peer.
func kgoBalancer(name string) kgo.GroupBalancer {
	switch name {
	case "range":
		return kgo.RangeBalancer()
	case "roundrobin":
		return kgo.RoundRobinBalancer()
	case "sticky":
		return kgo.StickyBalancer()
	default:
		return kgo.CooperativeStickyBalancer()
	}
}

// kgoAssign runs franz-go's balancer as the group's leader over the subscriptions troupe
// members send (encoded at SubscriptionVersion, with troupe's user data), and decodes its
// assignments with troupe's decoder.
func kgoAssign(t *rapid.T, name string, subs []Subscription, partitions map[string]int32) map[string]Assignment {
	ms, err := checkAssignInput(subs, partitions)
	if err != nil {
		t.Fatal(err)
	}
	// kgo's caller hands the balancer members in the protocol's order.
	slices.SortFunc(ms, func(a, b assignMember) int { return compareMembers(&a, &b) })
	var members []kmsg.JoinGroupResponseMember
	for _, m := range ms {
		meta, err := m.sub.Encode(nil, SubscriptionVersion)
		if err != nil {
			t.Fatal(err)
		}
		jm := kmsg.JoinGroupResponseMember{MemberID: m.sub.MemberID, ProtocolMetadata: meta}
		if m.sub.InstanceID != "" {
			jm.InstanceID = &m.sub.InstanceID
		}
		members = append(members, jm)
	}
	b, _, err := kgoBalancer(name).MemberBalancer(members)
	if err != nil {
		t.Fatalf("kgo cannot read troupe's subscriptions: %v", err)
	}
	plan, err := b.(kgo.GroupMemberBalancerOrError).BalanceOrError(partitions)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]Assignment)
	for _, sa := range plan.IntoSyncAssignment() {
		var a Assignment
		if _, err := a.Decode(sa.MemberAssignment); err != nil {
			t.Fatalf("troupe cannot read kgo's assignment: %v", err)
		}
		a.Partitions = normTPs(a.Partitions)
		out[sa.MemberID] = a
	}
	return out
}

// TestRangeRoundRobinMatchKgo checks range and roundrobin against franz-go's: both follow
// the Java client's algorithms, which are fully determined by the input, so the two must
// agree partition for partition, through each other's encodings.
func TestRangeRoundRobinMatchKgo(t *testing.T) {
	for _, a := range []Assignor{Range(), RoundRobin()} {
		t.Run(a.Name(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				in := genGroup(t, rapid.Bool().Draw(t, "same"))
				// Members may subscribe to a topic the cluster does not know ("unknown",
				// absent from in.partitions): both skip it.
				ours, err := a.Assign(in.members, in.partitions)
				if err != nil {
					t.Fatal(err)
				}
				theirs := kgoAssign(t, a.Name(), in.members, in.partitions)
				for id, as := range theirs {
					if len(as.Partitions) == 0 {
						theirs[id] = Assignment{}
					}
				}
				if !reflect.DeepEqual(ours, theirs) {
					t.Fatalf("troupe\n%v\nkgo\n%v", ours, theirs)
				}
			})
		})
	}
}

// TestStickyWithKgoLeader checks that franz-go, as leader, reads troupe members' sticky
// data: given a settled troupe assignment, it moves nothing (so it read every member's
// previous partitions from troupe's user data, or Owned and Generation for
// cooperative-sticky), and its assignment decodes with troupe's decoder.
func TestStickyWithKgoLeader(t *testing.T) {
	for _, a := range []Assignor{Sticky(), CooperativeSticky()} {
		t.Run(a.Name(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				in := genGroup(t, true)
				topics := map[string][]string{}
				for _, m := range in.members {
					topics[m.MemberID] = m.Topics
				}
				// Settle the group with troupe's assignor.
				prev, err := a.Assign(rejoin(a, nil, -1, topics), in.partitions)
				if err != nil {
					t.Fatal(err)
				}
				for gen := int32(1); gen < 4; gen++ {
					if prev, err = a.Assign(rejoin(a, prev, gen, topics), in.partitions); err != nil {
						t.Fatal(err)
					}
				}
				theirs := kgoAssign(t, a.Name(), rejoin(a, prev, 4, topics), in.partitions)
				for id := range topics {
					if !slices.Equal(flatten(prev[id].Partitions), flatten(theirs[id].Partitions)) {
						t.Fatalf("kgo moved %s's partitions: troupe %v, kgo %v", id, prev, theirs)
					}
				}
			})
		})
	}
}

// TestStickyWithKgoMembers checks the other way round: troupe as leader reads what
// franz-go members send (kgo puts its sticky data in the user data of a v3 subscription,
// and Owned for cooperative-sticky), keeps a settled assignment as it is, and franz-go
// members read troupe's assignments.
func TestStickyWithKgoMembers(t *testing.T) {
	for _, a := range []Assignor{Sticky(), CooperativeSticky()} {
		t.Run(a.Name(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				in := genGroup(t, rapid.Bool().Draw(t, "same"))
				topics := map[string][]string{}
				for _, m := range in.members {
					topics[m.MemberID] = m.Topics
				}
				settled, err := a.Assign(rejoin(a, nil, -1, topics), in.partitions)
				if err != nil {
					t.Fatal(err)
				}
				for gen := int32(1); gen < 12; gen++ {
					next, err := a.Assign(rejoin(a, settled, gen, topics), in.partitions)
					if err != nil {
						t.Fatal(err)
					}
					if reflect.DeepEqual(next, settled) {
						break
					}
					settled = next
				}
				bal := kgoBalancer(a.Name())
				var subs []Subscription
				for _, id := range slices.Sorted(maps.Keys(topics)) {
					current := map[string][]int32{}
					for _, tp := range settled[id].Partitions {
						current[tp.Topic] = tp.Partitions
					}
					ts := slices.Sorted(slices.Values(topics[id]))
					meta := bal.JoinGroupMetadata(ts, current, 20)
					s := Subscription{MemberID: id}
					if _, err := s.Decode(meta); err != nil {
						t.Fatalf("troupe cannot read kgo's subscription: %v", err)
					}
					subs = append(subs, s)
				}
				out, err := a.Assign(subs, in.partitions)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(out, settled) {
					t.Fatalf("troupe leader moved kgo members' partitions:\nbefore %v\nafter  %v", settled, out)
				}
				for id, as := range out {
					b, err := as.Encode(nil, AssignmentVersion)
					if err != nil {
						t.Fatal(err)
					}
					got, err := bal.ParseSyncAssignment(b)
					if err != nil {
						t.Fatalf("kgo cannot read troupe's assignment: %v", err)
					}
					var want []topicPartition
					for topic, ps := range got {
						for _, p := range ps {
							want = append(want, topicPartition{topic, p})
						}
					}
					slices.SortFunc(want, compareTP)
					if !slices.Equal(want, flatten(as.Partitions)) {
						t.Fatalf("%s: kgo read %v from %v", id, got, as)
					}
				}
			})
		})
	}
}
