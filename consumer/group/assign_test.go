package group

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// tps builds a []TopicPartitions from "topic", partitions... pairs: tps("t0", 0, 1, "t1", 2).
func tps(args ...any) []TopicPartitions {
	var out []TopicPartitions
	for _, a := range args {
		switch v := a.(type) {
		case string:
			out = append(out, TopicPartitions{Topic: v})
		case int:
			last := &out[len(out)-1]
			last.Partitions = append(last.Partitions, int32(v))
		}
	}
	return out
}

// groupInput is one assignor input drawn by genGroup.
type groupInput struct {
	members    []Subscription
	partitions map[string]int32
}

// genGroup draws a group: up to 5 topics of 0 to 12 partitions, up to 8 members each
// subscribed to some of them (sometimes to a topic the cluster does not know), some of
// them static. With same set, every member subscribes to the same topics.
func genGroup(t *rapid.T, same bool) groupInput {
	nTopics := rapid.IntRange(1, 5).Draw(t, "topics")
	partitions := make(map[string]int32)
	var topics []string
	for i := range nTopics {
		name := fmt.Sprintf("t%d", i)
		topics = append(topics, name)
		partitions[name] = int32(rapid.IntRange(0, 12).Draw(t, "partitions"))
	}
	all := rapid.SliceOfDistinct(rapid.SampledFrom(append(topics, "unknown")), rapid.ID[string]).Draw(t, "shared subscription")
	nMembers := rapid.IntRange(0, 8).Draw(t, "members")
	ids := rapid.Permutation([]int{0, 1, 2, 3, 4, 5, 6, 7}).Draw(t, "member ids")
	members := make([]Subscription, nMembers)
	for i := range members {
		members[i] = Subscription{MemberID: fmt.Sprintf("m%d", ids[i]), Generation: -1}
		if rapid.Bool().Draw(t, "static") {
			members[i].InstanceID = fmt.Sprintf("i%d", 7-ids[i])
		}
		if same {
			members[i].Topics = slices.Clone(all)
		} else {
			members[i].Topics = rapid.SliceOfDistinct(rapid.SampledFrom(append(topics, "unknown")), rapid.ID[string]).Draw(t, "subscription")
		}
	}
	return groupInput{members: members, partitions: partitions}
}

// checkComplete checks what every assignor guarantees: every member has an entry and
// nobody else does; every partition of every topic some member subscribes to (and the
// cluster knows) is given exactly once, to a subscriber; nothing else is given.
func checkComplete(t interface {
	Helper()
	Fatalf(string, ...any)
}, in groupInput, out map[string]Assignment) {
	t.Helper()
	if len(out) != len(in.members) {
		t.Fatalf("%d entries for %d members", len(out), len(in.members))
	}
	owner := make(map[topicPartition]string)
	for _, m := range in.members {
		a, ok := out[m.MemberID]
		if !ok {
			t.Fatalf("member %s has no entry", m.MemberID)
		}
		for _, tp := range a.Partitions {
			if !slices.Contains(m.Topics, tp.Topic) {
				t.Fatalf("member %s got topic %s it does not subscribe to", m.MemberID, tp.Topic)
			}
			for _, p := range tp.Partitions {
				if p < 0 || p >= in.partitions[tp.Topic] {
					t.Fatalf("member %s got %s/%d, which does not exist", m.MemberID, tp.Topic, p)
				}
				k := topicPartition{tp.Topic, p}
				if prev, dup := owner[k]; dup {
					t.Fatalf("%s/%d given to %s and %s", tp.Topic, p, prev, m.MemberID)
				}
				owner[k] = m.MemberID
			}
		}
	}
	for topic, n := range in.partitions {
		subscribed := false
		for _, m := range in.members {
			subscribed = subscribed || slices.Contains(m.Topics, topic)
		}
		for p := range n {
			if _, ok := owner[topicPartition{topic, p}]; subscribed && !ok {
				t.Fatalf("%s/%d is not assigned", topic, p)
			}
		}
	}
}

func counts(out map[string]Assignment) map[string]int {
	c := make(map[string]int, len(out))
	for id, a := range out {
		for _, tp := range a.Partitions {
			c[id] += len(tp.Partitions)
		}
	}
	return c
}

func spread(c map[string]int) int {
	if len(c) == 0 {
		return 0
	}
	vs := slices.Collect(maps.Values(c))
	return slices.Max(vs) - slices.Min(vs)
}

// checkDeterministic checks that the assignment does not depend on the order in which
// the members are listed.
func checkDeterministic(t *rapid.T, a Assignor, in groupInput, out map[string]Assignment) {
	shuffled := rapid.Permutation(in.members).Draw(t, "member order")
	again, err := a.Assign(shuffled, in.partitions)
	if err != nil {
		t.Fatalf("assign shuffled: %v", err)
	}
	if !reflect.DeepEqual(out, again) {
		t.Fatalf("member order changed the assignment:\n%v\n%v", out, again)
	}
}

func TestEagerAssignorProperties(t *testing.T) {
	for _, a := range []Assignor{Range(), RoundRobin()} {
		t.Run(a.Name(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				same := rapid.Bool().Draw(t, "same subscriptions")
				in := genGroup(t, same)
				out, err := a.Assign(in.members, in.partitions)
				if err != nil {
					t.Fatal(err)
				}
				checkComplete(t, in, out)
				checkDeterministic(t, a, in, out)
				if !same {
					return
				}
				if a.Name() == "roundrobin" {
					if s := spread(counts(out)); s > 1 {
						t.Fatalf("same subscriptions, spread %d: %v", s, out)
					}
					return
				}
				// Range balances each topic on its own, in contiguous ranges, the larger
				// ranges first in member order.
				checkRangeShape(t, in, out)
			})
		})
	}
}

// checkRangeShape checks, for members with the same subscription, that each topic is split
// into contiguous ranges handed out in member order with sizes differing by at most one,
// larger first.
func checkRangeShape(t *rapid.T, in groupInput, out map[string]Assignment) {
	ms, _ := checkAssignInput(in.members, in.partitions)
	slices.SortFunc(ms, func(a, b assignMember) int { return compareMembers(&a, &b) })
	for topic, n := range in.partitions {
		if len(ms) == 0 || !ms[0].subscribes(topic) {
			continue
		}
		next, prevLen := int32(0), int(n)+1
		for _, m := range ms {
			var got []int32
			for _, tp := range out[m.sub.MemberID].Partitions {
				if tp.Topic == topic {
					got = tp.Partitions
				}
			}
			for _, p := range got {
				if p != next {
					t.Fatalf("%s: member %s got %v, expected a range starting at %d", topic, m.sub.MemberID, got, next)
				}
				next++
			}
			if len(got) > prevLen || prevLen-len(got) > 1 && prevLen != int(n)+1 {
				t.Fatalf("%s: range sizes not decreasing by at most one: %v", topic, out)
			}
			prevLen = len(got)
		}
	}
}

// TestRangeJavaExamples checks the examples of the Java client's RangeAssignor javadoc.
func TestRangeJavaExamples(t *testing.T) {
	parts := map[string]int32{"t0": 3, "t1": 3}
	out, err := Range().Assign([]Subscription{
		{MemberID: "C1", Topics: []string{"t0", "t1"}},
		{MemberID: "C0", Topics: []string{"t0", "t1"}},
	}, parts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Assignment{
		"C0": {Partitions: tps("t0", 0, 1, "t1", 0, 1)},
		"C1": {Partitions: tps("t0", 2, "t1", 2)},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("got %v\nwant %v", out, want)
	}

	// Static members are ordered by instance ID, not member ID, so a static member that
	// restarts under a new member ID keeps its partitions (the javadoc's I0/I1 example).
	out, err = Range().Assign([]Subscription{
		{MemberID: "C0", InstanceID: "I0", Topics: []string{"t0", "t1"}},
		{MemberID: "C1", InstanceID: "I1", Topics: []string{"t0", "t1"}},
	}, parts)
	if err != nil {
		t.Fatal(err)
	}
	restarted, err := Range().Assign([]Subscription{
		{MemberID: "C2", InstanceID: "I0", Topics: []string{"t0", "t1"}}, // C0 restarted
		{MemberID: "C1", InstanceID: "I1", Topics: []string{"t0", "t1"}},
	}, parts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out["C0"], restarted["C2"]) || !reflect.DeepEqual(out["C1"], restarted["C1"]) {
		t.Fatalf("restart under a new member ID moved partitions: %v then %v", out, restarted)
	}
	if !reflect.DeepEqual(restarted["C2"].Partitions, tps("t0", 0, 1, "t1", 0, 1)) {
		t.Fatalf("I0 should come first: %v", restarted)
	}

	// Static members come before dynamic ones, whatever their IDs.
	out, _ = Range().Assign([]Subscription{
		{MemberID: "a", Topics: []string{"t0"}},
		{MemberID: "z", InstanceID: "static", Topics: []string{"t0"}},
	}, map[string]int32{"t0": 3})
	if !reflect.DeepEqual(out["z"].Partitions, tps("t0", 0, 1)) {
		t.Fatalf("static member should be first: %v", out)
	}
}

// TestRoundRobinJavaExamples checks the examples of the Java client's RoundRobinAssignor
// javadoc.
func TestRoundRobinJavaExamples(t *testing.T) {
	out, err := RoundRobin().Assign([]Subscription{
		{MemberID: "C0", Topics: []string{"t0", "t1"}},
		{MemberID: "C1", Topics: []string{"t1", "t0"}},
	}, map[string]int32{"t0": 3, "t1": 3})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Assignment{
		"C0": {Partitions: tps("t0", 0, 2, "t1", 1)},
		"C1": {Partitions: tps("t0", 1, "t1", 0, 2)},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("got %v\nwant %v", out, want)
	}

	// Different subscriptions: C0 reads t0, C1 t0 and t1, C2 t0, t1 and t2, of 1, 2 and
	// 3 partitions.
	out, err = RoundRobin().Assign([]Subscription{
		{MemberID: "C2", Topics: []string{"t0", "t1", "t2"}},
		{MemberID: "C0", Topics: []string{"t0"}},
		{MemberID: "C1", Topics: []string{"t0", "t1"}},
	}, map[string]int32{"t0": 1, "t1": 2, "t2": 3})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]Assignment{
		"C0": {Partitions: tps("t0", 0)},
		"C1": {Partitions: tps("t1", 0)},
		"C2": {Partitions: tps("t1", 1, "t2", 0, 1, 2)},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("got %v\nwant %v", out, want)
	}
}

// TestAssignInputErrors checks that every assignor refuses input it cannot assign from
// with an error, and gives members without subscribed topics an empty entry.
func TestAssignInputErrors(t *testing.T) {
	for _, a := range allAssignors() {
		t.Run(a.Name(), func(t *testing.T) {
			_, err := a.Assign([]Subscription{{MemberID: "a"}, {MemberID: "a"}}, nil)
			if !errors.Is(err, ErrInvalidAssignInput) {
				t.Errorf("duplicate member: %v", err)
			}
			_, err = a.Assign([]Subscription{{MemberID: ""}}, nil)
			if !errors.Is(err, ErrInvalidAssignInput) {
				t.Errorf("empty member ID: %v", err)
			}
			_, err = a.Assign([]Subscription{{MemberID: "a", Topics: []string{"t"}}}, map[string]int32{"t": -1})
			if !errors.Is(err, ErrInvalidAssignInput) {
				t.Errorf("negative partitions: %v", err)
			}
			out, err := a.Assign([]Subscription{
				{MemberID: "a", Topics: []string{"gone"}, Generation: -1},
				{MemberID: "b", Generation: -1},
				{MemberID: "c", Topics: []string{"t"}, Generation: -1},
			}, map[string]int32{"t": 2})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]Assignment{"a": {}, "b": {}, "c": {Partitions: tps("t", 0, 1)}}
			if !reflect.DeepEqual(out, want) {
				t.Errorf("got %v, want %v", out, want)
			}
			if out, err := a.Assign(nil, map[string]int32{"t": 3}); err != nil || len(out) != 0 {
				t.Errorf("no members: %v %v", out, err)
			}
		})
	}
}
