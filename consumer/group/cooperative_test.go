package group

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestCooperativeGroupLife drives a cooperative-sticky group through a random life —
// members joining, leaving, crashing and changing subscriptions, one rebalance after each
// change — the way members carry assignments out: each keeps what it is assigned and still
// holds, revokes what it is not, and takes what is new. It checks the KIP-429 promise
// across rebalances: a member is never given a partition another member still holds, so no
// partition is ever held twice. Once changes stop, the group settles, complete and
// balanced, within a few rebalances.
func TestCooperativeGroupLife(t *testing.T) {
	a := CooperativeSticky()
	rapid.Check(t, func(t *rapid.T) {
		partitions := map[string]int32{}
		var topics []string
		for i := range rapid.IntRange(1, 4).Draw(t, "topics") {
			name := fmt.Sprintf("t%d", i)
			topics = append(topics, name)
			partitions[name] = int32(rapid.IntRange(0, 10).Draw(t, "partitions"))
		}
		genTopics := rapid.SliceOfNDistinct(rapid.SampledFrom(topics), 1, len(topics), rapid.ID[string])

		type state struct {
			topics []string
			held   []TopicPartitions
			gen    int32 // the generation in which held was assigned; -1 for a new member
		}
		members := map[string]*state{}
		holder := func(k topicPartition) (string, bool) {
			for id, m := range members {
				if slices.Contains(flatten(m.held), k) {
					return id, true
				}
			}
			return "", false
		}
		generation := int32(0)
		rebalance := func() map[string]Assignment {
			generation++
			var subs []Subscription
			for _, id := range slices.Sorted(maps.Keys(members)) {
				m := members[id]
				subs = append(subs, Subscription{MemberID: id, Topics: m.topics, Owned: m.held, Generation: m.gen, UserData: a.UserData(m.held, m.gen)})
			}
			out, err := a.Assign(subs, partitions)
			if err != nil {
				t.Fatal(err)
			}
			// Every member's new partitions are free now, before anyone revokes.
			for id, as := range out {
				for _, k := range flatten(as.Partitions) {
					if h, ok := holder(k); ok && h != id {
						t.Fatalf("generation %d gives %v to %s while %s still holds it", generation, k, id, h)
					}
				}
			}
			for id, as := range out {
				members[id].held, members[id].gen = as.Partitions, generation
			}
			return out
		}

		next := 0
		for range rapid.IntRange(0, 12).Draw(t, "changes") {
			switch action := rapid.IntRange(0, 3).Draw(t, "action"); {
			case action == 0 || len(members) == 0:
				id := fmt.Sprintf("m%d", next)
				next++
				members[id] = &state{topics: genTopics.Draw(t, "subscription"), gen: -1}
			case action == 1: // leaves (or crashes: its partitions are released either way)
				delete(members, rapid.SampledFrom(slices.Sorted(maps.Keys(members))).Draw(t, "leaving"))
			case action == 2: // changes its subscription, keeping what it holds until told
				id := rapid.SampledFrom(slices.Sorted(maps.Keys(members))).Draw(t, "changing")
				members[id].topics = genTopics.Draw(t, "new subscription")
			default: // nothing changes; a rebalance anyway
			}
			rebalance()
		}

		in := groupInput{partitions: partitions}
		for _, id := range slices.Sorted(maps.Keys(members)) {
			in.members = append(in.members, Subscription{MemberID: id, Topics: members[id].topics})
		}
		prev := rebalance()
		for round := 0; ; round++ {
			out := rebalance()
			if reflect.DeepEqual(out, prev) {
				checkComplete(t, in, out)
				checkBalanced(t, in, out)
				return
			}
			if round > 6 {
				t.Fatalf("not settled after %d rebalances without changes: %v then %v", round+2, prev, out)
			}
			prev = out
		}
	})
}
