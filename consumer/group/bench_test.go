package group

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// benchGroup is a leader's input: the members' encoded subscriptions and the partition
// counts. Topics are 100 with partitions/100 partitions each; with mixed set, member i
// subscribes to the topics whose index is not 1 mod (i%3+2), so subscriptions differ
// (member 0 subscribes to all of them in a scale-out).
type benchGroup struct {
	metas      [][]byte
	ids        []string
	partitions map[string]int32
}

// newBenchGroup builds the group after one member joins a settled group of members-1 (the
// common rebalance; with scaleOut, after members-1 join a group of one, which held every
// partition): the others report what troupe's assignor gave them.
func newBenchGroup(b *testing.B, a Assignor, members, partitions int, mixed, scaleOut bool) benchGroup {
	parts := make(map[string]int32)
	var all []string
	for i := range 100 {
		name := fmt.Sprintf("topic-%03d", i)
		parts[name] = int32(partitions / 100)
		all = append(all, name)
	}
	topics := make(map[string][]string)
	for i := range members {
		id := fmt.Sprintf("member-%04d", i)
		topics[id] = all
		if mixed {
			var some []string
			for j, t := range all {
				if j%(i%3+2) != 1 {
					some = append(some, t)
				}
			}
			topics[id] = some
		}
	}
	joining := func(id string) bool { return id == fmt.Sprintf("member-%04d", members-1) }
	if scaleOut {
		joining = func(id string) bool { return id != "member-0000" }
		topics["member-0000"] = all
	}
	settledTopics := make(map[string][]string)
	for id, ts := range topics {
		if !joining(id) {
			settledTopics[id] = ts
		}
	}
	settled, err := a.Assign(rejoin(a, nil, -1, settledTopics), parts)
	if err != nil {
		b.Fatal(err)
	}
	var g benchGroup
	g.partitions = parts
	for _, s := range rejoin(a, settled, 5, topics) {
		if joining(s.MemberID) {
			s.Owned, s.Generation, s.UserData = nil, -1, a.UserData(nil, -1)
		}
		meta, err := s.Encode(nil, SubscriptionVersion)
		if err != nil {
			b.Fatal(err)
		}
		g.metas = append(g.metas, meta)
		g.ids = append(g.ids, s.MemberID)
	}
	return g
}

// BenchmarkLeaderAssign measures a leader's whole work in one rebalance, troupe's and
// franz-go's in the same run: decode every member's subscription, assign, encode every
// member's assignment.
func BenchmarkLeaderAssign(b *testing.B) {
	cases := []struct {
		members, partitions int
		mixed, scaleOut     bool
	}{{10, 3000, false, false}, {10, 3000, true, false}, {100, 10000, false, false}, {100, 10000, true, false},
		{100, 10000, true, true}}
	for _, a := range allAssignors() {
		for _, c := range cases {
			shape := "same"
			if c.mixed {
				shape = "mixed"
			}
			if c.scaleOut {
				shape += "-scaleout"
			}
			name := fmt.Sprintf("%s/%dm-%dp-%s", a.Name(), c.members, c.partitions, shape)
			g := newBenchGroup(b, a, c.members, c.partitions, c.mixed, c.scaleOut)
			b.Run(name+"/troupe", func(b *testing.B) {
				b.ReportAllocs()
				var buf []byte
				for b.Loop() {
					subs := make([]Subscription, len(g.metas))
					for i, meta := range g.metas {
						subs[i].MemberID = g.ids[i]
						if _, err := subs[i].Decode(meta); err != nil {
							b.Fatal(err)
						}
					}
					out, err := a.Assign(subs, g.partitions)
					if err != nil {
						b.Fatal(err)
					}
					for _, as := range out {
						buf, _ = as.Encode(buf[:0], AssignmentVersion)
					}
				}
			})
			b.Run(name+"/kgo", func(b *testing.B) {
				b.ReportAllocs()
				members := make([]kmsg.JoinGroupResponseMember, len(g.metas))
				for i := range members {
					members[i] = kmsg.JoinGroupResponseMember{MemberID: g.ids[i], ProtocolMetadata: g.metas[i]}
				}
				slices.SortFunc(members, func(x, y kmsg.JoinGroupResponseMember) int {
					return cmpString(x.MemberID, y.MemberID)
				})
				bal := kgoBalancer(a.Name())
				for b.Loop() {
					mb, _, err := bal.MemberBalancer(members)
					if err != nil {
						b.Fatal(err)
					}
					plan, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(g.partitions)
					if err != nil {
						b.Fatal(err)
					}
					_ = plan.IntoSyncAssignment()
				}
			})
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
