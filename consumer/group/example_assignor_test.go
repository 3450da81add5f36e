package group_test

import (
	"fmt"

	"github.com/troupe-go/troupe/consumer/group"
)

// The leader of a classic group runs the group's assignor over every member's
// subscription. With cooperative-sticky, a partition moving between members takes two
// rebalances: the first takes it from its owner, the second gives it to the new one.
func ExampleCooperativeSticky() {
	a := group.CooperativeSticky()
	partitions := map[string]int32{"orders": 4}

	// c1 read all four partitions in generation 1; c2 has just joined.
	owned := []group.TopicPartitions{{Topic: "orders", Partitions: []int32{0, 1, 2, 3}}}
	members := []group.Subscription{
		{MemberID: "c1", Topics: []string{"orders"}, Owned: owned, Generation: 1, UserData: a.UserData(owned, 1)},
		{MemberID: "c2", Topics: []string{"orders"}, Generation: -1, UserData: a.UserData(nil, -1)},
	}
	first, _ := a.Assign(members, partitions)
	fmt.Println("generation 2: c1", first["c1"].Partitions, "c2", first["c2"].Partitions)

	// c1 revokes partitions 2 and 3 and rejoins; both report what they own now.
	for i := range members {
		members[i].Owned = first[members[i].MemberID].Partitions
		members[i].Generation = 2
		members[i].UserData = a.UserData(members[i].Owned, 2)
	}
	second, _ := a.Assign(members, partitions)
	fmt.Println("generation 3: c1", second["c1"].Partitions, "c2", second["c2"].Partitions)

	// What a member sends in JoinGroup, and what the leader reads back.
	b, _ := members[0].Encode(nil, group.SubscriptionVersion)
	var s group.Subscription
	v, _ := s.Decode(b)
	fmt.Println("subscription v", v, s.Topics, s.Owned, s.Generation)
	// Output:
	// generation 2: c1 [{orders [0 1]}] c2 []
	// generation 3: c1 [{orders [0 1]}] c2 [{orders [2 3]}]
	// subscription v 3 [orders] [{orders [0 1]}] 2
}

// Range and round robin differ when members read several topics: range keeps the same
// partition numbers of different topics together, round robin deals them out.
func ExampleRange() {
	members := []group.Subscription{
		{MemberID: "c0", Topics: []string{"t0", "t1"}},
		{MemberID: "c1", Topics: []string{"t0", "t1"}},
	}
	partitions := map[string]int32{"t0": 3, "t1": 3}
	for _, a := range []group.Assignor{group.Range(), group.RoundRobin()} {
		out, _ := a.Assign(members, partitions)
		fmt.Println(a.Name(), "c0", out["c0"].Partitions, "c1", out["c1"].Partitions)
	}
	// Output:
	// range c0 [{t0 [0 1]} {t1 [0 1]}] c1 [{t0 [2]} {t1 [2]}]
	// roundrobin c0 [{t0 [0 2]} {t1 [1]}] c1 [{t0 [1]} {t1 [0 2]}]
}
