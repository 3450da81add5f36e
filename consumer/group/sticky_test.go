package group

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// TestStickyUserDataAgainstKmsg checks StickyAssignorUserData against
// kmsg.StickyMemberMetadata both ways: v1 when the generation is known, v0 when not.
func TestStickyUserDataAgainstKmsg(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		owned := genTopicPartitions(t, "owned")
		generation := rapid.Int32Range(-1, 1<<20).Draw(t, "generation")
		ours := appendStickyUserData(nil, owned, generation)
		k := kmsg.StickyMemberMetadata{Generation: generation}
		for _, tp := range owned {
			k.CurrentAssignment = append(k.CurrentAssignment, kmsg.StickyMemberMetadataCurrentAssignment{Topic: tp.Topic, Partitions: tp.Partitions})
		}
		theirs := k.AppendTo(nil)
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("ours %x\nkmsg %x", ours, theirs)
		}
		var back kmsg.StickyMemberMetadata
		if err := back.ReadFrom(ours); err != nil || back.Generation != generation || len(back.CurrentAssignment) != len(owned) {
			t.Fatalf("kmsg read %+v, %v", back, err)
		}
		got, gen, err := decodeStickyUserData(theirs)
		if err != nil || gen != generation || !reflect.DeepEqual(normTPs(got), normTPs(owned)) {
			t.Fatalf("decoded %v gen %d (%v), want %v gen %d", got, gen, err, owned, generation)
		}
	})
}

func TestStickyUserDataEdges(t *testing.T) {
	b := appendStickyUserData(nil, tps("t", 1, 2), 5)
	// Fewer than four bytes after the partitions: read as v0, as the Java client falls
	// back to v0 when v1 does not parse.
	v0 := appendStickyUserData(nil, tps("t", 1, 2), -1)
	for extra := range 4 {
		_, gen, err := decodeStickyUserData(append(slices.Clone(v0), make([]byte, extra)...))
		if err != nil || gen != -1 {
			t.Errorf("v0 with %d stray bytes: gen %d, %v", extra, gen, err)
		}
	}
	if _, gen, err := decodeStickyUserData(b); err != nil || gen != 5 {
		t.Errorf("v1: gen %d, %v", gen, err)
	}
	if _, _, err := decodeStickyUserData(b[:3]); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated: %v", err)
	}
	if Sticky().UserData(nil, -1) != nil {
		t.Error("a member that never had an assignment sends no sticky user data")
	}
	if got := Sticky().UserData(nil, 3); !bytes.Equal(got, []byte{0, 0, 0, 0, 0, 0, 0, 3}) {
		t.Errorf("empty assignment at generation 3: %x", got)
	}
	if got := CooperativeSticky().UserData(tps("t", 1), 7); !bytes.Equal(got, []byte{0, 0, 0, 7}) {
		t.Errorf("cooperative user data: %x", got)
	}
	// Unreadable sticky user data is no claim, not an error: the member is assigned as
	// a new one.
	out, err := Sticky().Assign([]Subscription{{MemberID: "a", Topics: []string{"t"}, UserData: []byte{1, 2}}}, map[string]int32{"t": 2})
	if err != nil || !reflect.DeepEqual(out["a"].Partitions, tps("t", 0, 1)) {
		t.Errorf("garbage user data: %v %v", out, err)
	}
}

// rejoin builds the subscriptions members send after prev (the assignment of generation
// gen): for cooperative-sticky, Owned and Generation (and the generation in the user data,
// as a v1 member would send it only there); for sticky, the previous assignment in the user
// data. topics maps each member to its subscription.
func rejoin(a Assignor, prev map[string]Assignment, gen int32, topics map[string][]string) []Subscription {
	var subs []Subscription
	for _, id := range slices.Sorted(maps.Keys(topics)) {
		owned := prev[id].Partitions
		s := Subscription{MemberID: id, Topics: topics[id], Generation: gen, UserData: a.UserData(owned, gen)}
		if a.Cooperative() {
			s.Owned = owned
		}
		subs = append(subs, s)
	}
	return subs
}

// TestStickyJavaExamples checks the examples of the Java client's StickyAssignor javadoc.
func TestStickyJavaExamples(t *testing.T) {
	for _, a := range []Assignor{Sticky(), CooperativeSticky()} {
		t.Run(a.Name(), func(t *testing.T) {
			// Three members of t0..t3, two partitions each.
			all := []string{"t0", "t1", "t2", "t3"}
			parts := map[string]int32{"t0": 2, "t1": 2, "t2": 2, "t3": 2}
			topics := map[string][]string{"C0": all, "C1": all, "C2": all}
			out, err := a.Assign(rejoin(a, nil, -1, topics), parts)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]Assignment{
				"C0": {Partitions: tps("t0", 0, "t1", 1, "t3", 0)},
				"C1": {Partitions: tps("t0", 1, "t2", 0, "t3", 1)},
				"C2": {Partitions: tps("t1", 0, "t2", 1)},
			}
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("first assignment:\n%v\nwant\n%v", out, want)
			}
			// C1 leaves: C0 and C2 keep everything and split C1's partitions, 4 and 4.
			// (Round robin would have moved five partitions.)
			delete(topics, "C1")
			next, err := a.Assign(rejoin(a, out, 1, topics), parts)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"C0", "C2"} {
				kept := flatten(next[id].Partitions)
				for _, k := range flatten(out[id].Partitions) {
					if !slices.Contains(kept, k) {
						t.Fatalf("%s lost %v: %v", id, k, next)
					}
				}
				if len(kept) != 4 {
					t.Fatalf("%s has %d partitions: %v", id, len(kept), next)
				}
			}

			// Different subscriptions: C0 reads t0, C1 t0 and t1, C2 t0, t1 and t2, of 1,
			// 2 and 3 partitions: sticky balances where round robin does not.
			parts = map[string]int32{"t0": 1, "t1": 2, "t2": 3}
			topics = map[string][]string{"C0": {"t0"}, "C1": {"t0", "t1"}, "C2": {"t0", "t1", "t2"}}
			out, err = a.Assign(rejoin(a, nil, -1, topics), parts)
			if err != nil {
				t.Fatal(err)
			}
			want = map[string]Assignment{
				"C0": {Partitions: tps("t0", 0)},
				"C1": {Partitions: tps("t1", 0, 1)},
				"C2": {Partitions: tps("t2", 0, 1, 2)},
			}
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("different subscriptions:\n%v\nwant\n%v", out, want)
			}
			// C0 leaves: t0p0 goes to C1, nothing else moves.
			delete(topics, "C0")
			out, err = a.Assign(rejoin(a, out, 1, topics), parts)
			if err != nil {
				t.Fatal(err)
			}
			want = map[string]Assignment{
				"C1": {Partitions: tps("t0", 0, "t1", 0, 1)},
				"C2": {Partitions: tps("t2", 0, 1, 2)},
			}
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("after C0 left:\n%v\nwant\n%v", out, want)
			}
		})
	}
}

func flatten(tps []TopicPartitions) []topicPartition {
	var out []topicPartition
	for _, tp := range tps {
		for _, p := range tp.Partitions {
			out = append(out, topicPartition{tp.Topic, p})
		}
	}
	return out
}

// TestCooperativeTwoRounds is KIP-429's scenario: C1 owns every partition, C2 joins. The
// first rebalance takes half from C1 but gives C2 nothing yet; once C1 has revoked them
// and rejoined, the second gives them to C2. The eager sticky assignor moves them at once.
func TestCooperativeTwoRounds(t *testing.T) {
	parts := map[string]int32{"t": 6}
	prev := map[string]Assignment{"C1": {Partitions: tps("t", 0, 1, 2, 3, 4, 5)}}
	topics := map[string][]string{"C1": {"t"}, "C2": {"t"}}
	subs := rejoin(CooperativeSticky(), prev, 1, topics)
	subs[1].Generation, subs[1].UserData = -1, nil // C2 is new
	first, err := CooperativeSticky().Assign(subs, parts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Assignment{"C1": {Partitions: tps("t", 0, 1, 2)}, "C2": {}}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("first rebalance %v, want %v", first, want)
	}
	second, err := CooperativeSticky().Assign(rejoin(CooperativeSticky(), first, 2, topics), parts)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Assignment{"C1": {Partitions: tps("t", 0, 1, 2)}, "C2": {Partitions: tps("t", 3, 4, 5)}}
	if !reflect.DeepEqual(second, want) {
		t.Fatalf("second rebalance %v, want %v", second, want)
	}

	subs = rejoin(Sticky(), prev, 1, topics)
	subs[1].UserData = nil
	eager, err := Sticky().Assign(subs, parts)
	if err != nil || !reflect.DeepEqual(eager, want) {
		t.Fatalf("eager sticky %v (%v), want %v", eager, err, want)
	}
}

// TestStickyGenerations checks how claims of different generations are resolved (KIP-792,
// as the Java client does): the highest generation wins, and two claims in one generation
// cancel each other.
func TestStickyGenerations(t *testing.T) {
	parts := map[string]int32{"t": 4}
	both := []string{"t"}
	// A (generation 5) owns 0 and 1; B's claim on 0, 1, 2, 3 is from generation 4: stale.
	subs := []Subscription{
		{MemberID: "A", Topics: both, Owned: tps("t", 0, 1), Generation: 5},
		{MemberID: "B", Topics: both, Owned: tps("t", 0, 1, 2, 3), Generation: 4},
	}
	out, err := CooperativeSticky().Assign(subs, parts)
	if err != nil {
		t.Fatal(err)
	}
	// Only A's claim counts, so A keeps 0 and 1, B gets 2 and 3 at once (nobody valid
	// owned them).
	want := map[string]Assignment{"A": {Partitions: tps("t", 0, 1)}, "B": {Partitions: tps("t", 2, 3)}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("stale claim: %v, want %v", out, want)
	}

	// Same generation, both claim 1: neither owns it; cooperative holds it back from
	// everyone for one rebalance, eager assigns it.
	subs = []Subscription{
		{MemberID: "A", Topics: both, Owned: tps("t", 0, 1), Generation: 5},
		{MemberID: "B", Topics: both, Owned: tps("t", 1, 2, 3), Generation: 5},
	}
	out, err = CooperativeSticky().Assign(subs, parts)
	if err != nil {
		t.Fatal(err)
	}
	for id, a := range out {
		if slices.Contains(flatten(a.Partitions), topicPartition{"t", 1}) {
			t.Fatalf("contested t/1 given to %s: %v", id, out)
		}
	}
	if !slices.Contains(flatten(out["A"].Partitions), topicPartition{"t", 0}) {
		t.Fatalf("A lost t/0: %v", out)
	}
	// Eager sticky counts t/1 as nobody's: A keeps 0, B keeps 2 and 3, and t/1 is dealt
	// to A, the member below its quota.
	for i := range subs {
		subs[i].UserData = Sticky().UserData(subs[i].Owned, subs[i].Generation)
		subs[i].Owned = nil
	}
	out, err = Sticky().Assign(subs, parts)
	want = map[string]Assignment{"A": {Partitions: tps("t", 0, 1)}, "B": {Partitions: tps("t", 2, 3)}}
	if err != nil || !reflect.DeepEqual(out, want) {
		t.Fatalf("eager contested: %v (%v), want %v", out, err, want)
	}

	// The generation can come from cooperative user data (subscription v1 senders).
	subs = []Subscription{
		{MemberID: "A", Topics: both, Owned: tps("t", 0, 1, 2, 3), Generation: -1, UserData: CooperativeSticky().UserData(nil, 3)},
		{MemberID: "B", Topics: both, Owned: tps("t", 0, 1, 2, 3), Generation: -1, UserData: CooperativeSticky().UserData(nil, 9)},
	}
	out, err = CooperativeSticky().Assign(subs, parts)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Assignment{"A": {}, "B": {Partitions: tps("t", 0, 1)}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("generation from user data: %v, want %v", out, want)
	}
}

// claimInput is a group with claims drawn for its members.
type claimInput struct {
	groupInput
	owned map[string][]TopicPartitions
	gen   map[string]int32
}

// genClaims draws what each member claims to own: mostly a consistent previous assignment
// (each partition with one owner or none) at generation 4 or 5, sometimes with a second
// claim on a partition, claims of unknown topics or partitions, members that are new
// (generation -1), and members that only send the generation in the user data.
func genClaims(t *rapid.T, a Assignor, in groupInput) ([]Subscription, claimInput) {
	ci := claimInput{groupInput: in, owned: map[string][]TopicPartitions{}, gen: map[string]int32{}}
	if len(in.members) == 0 {
		return nil, ci
	}
	owners := make(map[string][]topicPartition)
	topics := slices.Sorted(maps.Keys(in.partitions))
	for _, topic := range append(topics, "unknown") {
		n := in.partitions[topic]
		if topic == "unknown" {
			n = 2
		}
		for p := range n + 1 { // one partition past the end, too
			if rapid.IntRange(0, 3).Draw(t, "owned?") == 0 {
				continue
			}
			m := rapid.IntRange(0, len(in.members)-1).Draw(t, "owner")
			id := in.members[m].MemberID
			owners[id] = append(owners[id], topicPartition{topic, p})
			if rapid.IntRange(0, 15).Draw(t, "double claim?") == 0 {
				m2 := rapid.IntRange(0, len(in.members)-1).Draw(t, "second owner")
				id2 := in.members[m2].MemberID
				owners[id2] = append(owners[id2], topicPartition{topic, p})
			}
		}
	}
	subs := slices.Clone(in.members)
	for i := range subs {
		s := &subs[i]
		gen := rapid.SampledFrom([]int32{-1, 4, 5, 5, 5}).Draw(t, "generation")
		var owned []TopicPartitions
		if gen >= 0 {
			owned = groupByTopic(owners[s.MemberID])
		}
		ci.owned[s.MemberID], ci.gen[s.MemberID] = owned, gen
		s.UserData = a.UserData(owned, gen)
		s.Generation = gen
		if a.Cooperative() {
			s.Owned = owned
			if rapid.IntRange(0, 4).Draw(t, "v1 member?") == 0 {
				s.Generation = -1 // generation in the user data only
			}
		}
	}
	return subs, ci
}

// validOwners is an independent model of the claims' resolution: the claims of the highest
// generation count; a partition (of a known, subscribed topic, within range) claimed there
// by exactly one member is owned by it; by two, contested.
func validOwners(ci claimInput) (owner map[topicPartition]string, contested map[topicPartition]bool) {
	maxGen := int32(-1)
	for _, g := range ci.gen {
		maxGen = max(maxGen, g)
	}
	subscribed := map[string]bool{}
	for _, m := range ci.members {
		for _, t := range m.Topics {
			subscribed[t] = true
		}
	}
	claimants := map[topicPartition]map[string]bool{}
	for id, owned := range ci.owned {
		if ci.gen[id] != maxGen {
			continue
		}
		for _, k := range flatten(owned) {
			if n, ok := ci.partitions[k.topic]; !ok || !subscribed[k.topic] || k.partition >= n {
				continue
			}
			if claimants[k] == nil {
				claimants[k] = map[string]bool{}
			}
			claimants[k][id] = true
		}
	}
	owner, contested = map[topicPartition]string{}, map[topicPartition]bool{}
	for k, ids := range claimants {
		if len(ids) > 1 {
			contested[k] = true
			continue
		}
		for id := range ids {
			owner[k] = id
		}
	}
	return owner, contested
}

// intended runs the sticky algorithm without the cooperative hold-back: the assignment the
// group converges to.
func intended(subs []Subscription, partitions map[string]int32, a Assignor) map[string]Assignment {
	ms, _ := checkAssignInput(subs, partitions)
	st := newStickyState(ms, partitions, a.(stickyAssignor).claim)
	st.assign()
	return st.assignments()
}

// checkBalanced checks the sticky balance: no member holds a partition that a subscriber
// of its topic with at least two fewer partitions could take (so with equal subscriptions,
// counts differ by at most one).
func checkBalanced(t *rapid.T, in groupInput, out map[string]Assignment) {
	c := counts(out)
	for _, from := range in.members {
		for _, tp := range out[from.MemberID].Partitions {
			for _, to := range in.members {
				if slices.Contains(to.Topics, tp.Topic) && c[to.MemberID] <= c[from.MemberID]-2 {
					t.Fatalf("%s (%d) holds %s, which %s (%d) could take: %v", from.MemberID, c[from.MemberID], tp.Topic, to.MemberID, c[to.MemberID], out)
				}
			}
		}
	}
}

func TestStickyProperties(t *testing.T) {
	for _, a := range []Assignor{Sticky(), CooperativeSticky()} {
		t.Run(a.Name(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				same := rapid.Bool().Draw(t, "same subscriptions")
				in := genGroup(t, same)
				subs, ci := genClaims(t, a, in)
				in.members = subs
				out, err := a.Assign(subs, in.partitions)
				if err != nil {
					t.Fatal(err)
				}
				checkDeterministic(t, a, in, out)
				full := intended(subs, in.partitions, a)
				checkComplete(t, in, full)
				checkBalanced(t, in, full)
				if same {
					if s := spread(counts(full)); s > 1 {
						t.Fatalf("same subscriptions, spread %d: %v", s, full)
					}
				}

				// Stickiness, with equal subscriptions: a member that gains a partition it
				// did not validly own keeps every partition it validly owned. (With
				// different subscriptions, balance can require a member to hand a
				// partition to a less loaded member and take instead one that only it
				// reads; the settled-group checks below cover stickiness there.)
				owner, contested := validOwners(ci)
				for _, m := range subs {
					if !same {
						break
					}
					got := flatten(full[m.MemberID].Partitions)
					gained := slices.ContainsFunc(got, func(k topicPartition) bool { return owner[k] != m.MemberID })
					if !gained {
						continue
					}
					for k, o := range owner {
						if o == m.MemberID && slices.Contains(m.Topics, k.topic) && !slices.Contains(got, k) {
							t.Fatalf("%s gained a partition but lost %v: %v", m.MemberID, k, full)
						}
					}
				}

				if a.Cooperative() {
					// Nothing goes to a member other than its valid owner, nothing
					// contested goes anywhere, and the rest is as intended.
					for _, m := range subs {
						var want []topicPartition
						for _, k := range flatten(full[m.MemberID].Partitions) {
							if o, ok := owner[k]; !contested[k] && (!ok || o == m.MemberID) {
								want = append(want, k)
							}
						}
						if got := flatten(out[m.MemberID].Partitions); !slices.Equal(got, want) {
							t.Fatalf("%s: got %v, want %v (intended %v, owners %v)", m.MemberID, got, want, full[m.MemberID], owner)
						}
					}
				} else if !reflect.DeepEqual(out, full) {
					t.Fatalf("eager sticky held something back: %v vs %v", out, full)
				}

				// Rebalance again and again, everyone reporting what it now owns, with
				// nothing else changing: the group settles, complete and balanced, within
				// a few rounds (eager sticky at once: its next assignment is the one it
				// settles on), and once settled it stays.
				topics := map[string][]string{}
				for _, m := range subs {
					topics[m.MemberID] = m.Topics
				}
				prev := out
				for round := int32(6); ; round++ {
					next, err := a.Assign(rejoin(a, prev, round, topics), in.partitions)
					if err != nil {
						t.Fatal(err)
					}
					if reflect.DeepEqual(next, prev) {
						checkComplete(t, in, next)
						checkBalanced(t, in, next)
						break
					}
					if !a.Cooperative() && round > 6 {
						t.Fatalf("eager sticky moved partitions of a settled group: %v then %v", prev, next)
					}
					if round > 12 {
						t.Fatalf("no settled assignment after %d rebalances: %v then %v", round-5, prev, next)
					}
					prev = next
				}
			})
		})
	}
}

// TestCooperativeUserDataGenerationFallback checks that a member sending subscription v1
// (no Generation field) has its generation read from the 4-byte user data.
func TestCooperativeUserDataGenerationFallback(t *testing.T) {
	ud := binary.BigEndian.AppendUint32(nil, 12)
	owned, gen := stickyAssignor{cooperative: true}.claim(&Subscription{Owned: tps("t", 1), Generation: -1, UserData: ud})
	if gen != 12 || !reflect.DeepEqual(owned, tps("t", 1)) {
		t.Fatalf("gen %d owned %v", gen, owned)
	}
	_, gen = stickyAssignor{cooperative: true}.claim(&Subscription{Generation: 3, UserData: ud})
	if gen != 3 {
		t.Fatalf("the subscription's generation should win: %d", gen)
	}
}
