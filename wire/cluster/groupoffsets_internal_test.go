package cluster

import (
	"errors"
	"fmt"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// TestClassifyGroupErr: the table of what a group request does about each error.
func TestClassifyGroupErr(t *testing.T) {
	netErr := &broker.Error{Broker: "node 1", Key: api.OffsetCommit, Sent: true, Err: broker.ErrNetwork}
	for _, c := range []struct {
		err  error
		want groupAction
	}{
		{nil, actDone},
		{errcode.NotCoordinator, actRefind},
		{fmt.Errorf("commit: %w", errcode.CoordinatorNotAvailable), actRefind},
		{netErr, actRefind},
		{broker.Permanent(netErr), actDone}, // a refused credential is not a moved coordinator
		{errcode.CoordinatorLoadInProgress, actRetry},
		{errcode.RequestTimedOut, actRetry},
		{errcode.UnstableOffsetCommit, actRetry},
		{errcode.IllegalGeneration, actDone},
		{errcode.UnknownMemberID, actDone},
		{errcode.RebalanceInProgress, actDone},
		{errcode.GroupAuthorizationFailed, actDone},
		{errcode.UnknownTopicOrPartition, actDone},
	} {
		if got := classifyGroupErr(c.err); got != c.want {
			t.Errorf("%v: action %d, want %d", c.err, got, c.want)
		}
	}
	// A round with partitions of both kinds finds the coordinator again.
	if max(actRetry, actRefind) != actRefind || max(actDone, actRetry) != actRetry {
		t.Error("a refind must outweigh a retry, and a retry nothing")
	}
	if err := refusedGroup(fmt.Errorf("x: %w", errcode.GroupAuthorizationFailed)); !errors.Is(err, broker.ErrPermanent) || !errors.Is(err, errcode.GroupAuthorizationFailed) {
		t.Errorf("group authorization failure not permanent: %v", err)
	}
	if err := refusedGroup(errcode.IllegalGeneration); errors.Is(err, broker.ErrPermanent) {
		t.Errorf("ILLEGAL_GENERATION marked permanent")
	}
}

// TestFindCoordinatorShapes: one key below v4, all keys from v4; unanswered keys left
// out; error codes and impossible addresses per key.
func TestFindCoordinatorShapes(t *testing.T) {
	keys := []string{"a", "b", "c"}
	if r := findCoordinatorRequest(keys, 3); r.Key != "a" || len(r.CoordinatorKeys) != 0 {
		t.Fatalf("v3 request %+v", r)
	}
	if r := findCoordinatorRequest(keys, 4); r.Key != "" || len(r.CoordinatorKeys) != 3 {
		t.Fatalf("v4 request %+v", r)
	}
	for _, v := range []int16{1, 3, 4, 6} {
		if err := findCoordinatorRequest(keys, v).Validate(v); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
	}

	v3 := &api.FindCoordinatorResponse{NodeID: 2, Host: "h", Port: 9092}
	got := parseFindCoordinator(v3, 3, keys)
	if len(got) != 1 || got["a"].err != nil || got["a"].node != (broker.Node{ID: 2, Addr: "h:9092"}) {
		t.Fatalf("v3 answer %+v", got)
	}
	msg := "loading"
	v4 := &api.FindCoordinatorResponse{Coordinators: []api.FindCoordinatorResponseCoordinator{
		{Key: "a", NodeID: 1, Host: "h1", Port: 1},
		{Key: "b", ErrorCode: errcode.CoordinatorLoadInProgress.Code, ErrorMessage: &msg},
		{Key: "zz", NodeID: 1, Host: "h1", Port: 1}, // not asked: ignored
		{Key: "c", NodeID: 3, Host: "", Port: 1},    // no host: not a usable answer
	}}
	got = parseFindCoordinator(v4, 4, keys)
	if got["a"].node.ID != 1 || got["a"].err != nil {
		t.Fatalf("a: %+v", got["a"])
	}
	if !errors.Is(got["b"].err, errcode.CoordinatorLoadInProgress) {
		t.Fatalf("b: %+v", got["b"])
	}
	if !errors.Is(got["c"].err, broker.ErrProtocol) {
		t.Fatalf("c: %+v", got["c"])
	}
	if _, ok := got["zz"]; ok {
		t.Fatal("an unasked key answered")
	}
	got = parseFindCoordinator(&api.FindCoordinatorResponse{}, 4, keys)
	if len(got) != 0 {
		t.Fatalf("an empty v4 response answered %+v", got)
	}
}

// TestOffsetCommitRequestByVersion: topics by name below v10 and by ID at v10; the
// leader epoch only from v6; the instance ID only from v7; every version validates.
func TestOffsetCommitRequestByVersion(t *testing.T) {
	id := codec.UUID{1, 2, 3}
	ids := map[string]codec.UUID{"t": id, "u": {9}}
	items := []OffsetCommit{
		OffsetCommit{Topic: "t", Partition: 0, Offset: 10, Metadata: "m"}.WithLeaderEpoch(4),
		{Topic: "u", Partition: 2, Offset: 7}, // no epoch: -1 on the wire
		OffsetCommit{Topic: "t", Partition: 1, Offset: 11}.WithLeaderEpoch(5),
	}
	member := &GroupMember{Generation: 3, MemberID: "m-1", InstanceID: "i-1"}
	for v := int16(2); v <= 10; v++ {
		req := offsetCommitRequest("g", member, items, ids, v)
		if err := req.Validate(v); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if req.GroupID != "g" || req.GenerationIDOrMemberEpoch != 3 || req.MemberID != "m-1" {
			t.Fatalf("v%d: identity %+v", v, req)
		}
		if (req.GroupInstanceID != nil) != (v >= 7) {
			t.Fatalf("v%d: instance ID %v", v, req.GroupInstanceID)
		}
		if len(req.Topics) != 2 || len(req.Topics[0].Partitions) != 2 {
			t.Fatalf("v%d: topics %+v", v, req.Topics)
		}
		t0 := req.Topics[0]
		if v >= 10 && (t0.TopicID != id || t0.Name != "") || v < 10 && (t0.Name != "t" || !t0.TopicID.IsZero()) {
			t.Fatalf("v%d: topic named %q id %v", v, t0.Name, t0.TopicID)
		}
		p := t0.Partitions[0]
		if p.CommittedOffset != 10 || *p.CommittedMetadata != "m" {
			t.Fatalf("v%d: partition %+v", v, p)
		}
		if want := map[bool]int32{true: 4, false: -1}[v >= 6]; p.CommittedLeaderEpoch != want {
			t.Fatalf("v%d: epoch %d, want %d", v, p.CommittedLeaderEpoch, want)
		}
		if req.Topics[1].Partitions[0].CommittedMetadata != nil {
			t.Fatalf("v%d: empty metadata sent as a string", v)
		}
		if e := req.Topics[1].Partitions[0].CommittedLeaderEpoch; e != -1 {
			t.Fatalf("v%d: a commit without an epoch sent epoch %d, want -1 (unknown)", v, e)
		}
	}
	manual := offsetCommitRequest("g", nil, items[:1], ids, 9)
	if manual.GenerationIDOrMemberEpoch != -1 || manual.MemberID != "" || manual.GroupInstanceID != nil {
		t.Fatalf("manual commit identity %+v", manual)
	}
}

// TestOffsetCommitLeaderEpoch: an OffsetCommit's zero value carries no epoch (-1, not
// epoch 0); WithLeaderEpoch sets one, 0 included, and a negative one is unknown.
func TestOffsetCommitLeaderEpoch(t *testing.T) {
	o := OffsetCommit{Topic: "t", Offset: 5}
	if e := o.LeaderEpoch(); e != UnknownEpoch || UnknownEpoch != -1 {
		t.Fatalf("zero value's epoch %d, want UnknownEpoch (-1)", e)
	}
	for _, c := range []struct{ set, want int32 }{{0, 0}, {7, 7}, {1<<31 - 1, 1<<31 - 1}, {-1, -1}, {-5, -1}} {
		w := o.WithLeaderEpoch(c.set)
		if w.LeaderEpoch() != c.want || w.Offset != 5 || w.Topic != "t" {
			t.Errorf("WithLeaderEpoch(%d): %+v epoch %d, want %d", c.set, w, w.LeaderEpoch(), c.want)
		}
	}
	if o.WithLeaderEpoch(3).WithLeaderEpoch(-1) != o {
		t.Error("an epoch set and then unset is not the zero value's")
	}
	req := offsetCommitRequest("g", nil, []OffsetCommit{o, o.WithLeaderEpoch(0)}, nil, 9)
	if got := req.Topics[0].Partitions; got[0].CommittedLeaderEpoch != -1 || got[1].CommittedLeaderEpoch != 0 {
		t.Fatalf("sent epochs %d and %d, want -1 and 0", got[0].CommittedLeaderEpoch, got[1].CommittedLeaderEpoch)
	}
}

// TestParseOffsetCommit: each partition's error, by name, or by ID at v10.
func TestParseOffsetCommit(t *testing.T) {
	id := codec.UUID{7}
	resp := &api.OffsetCommitResponse{Topics: []api.OffsetCommitResponseTopic{{TopicID: id, Partitions: []api.OffsetCommitResponsePartition{
		{PartitionIndex: 0}, {PartitionIndex: 1, ErrorCode: errcode.IllegalGeneration.Code},
	}}}}
	var keys partKeys
	k0, k1, kn := keys.key("t", 0), keys.key("t", 1), keys.key("n", 1)
	got := parseOffsetCommit(resp, 10, map[codec.UUID]string{id: "t"}, &keys)
	if err, ok := got[k0]; !ok || err != nil {
		t.Fatalf("t[0]: %v %v", ok, err)
	}
	if !errors.Is(got[k1], errcode.IllegalGeneration) {
		t.Fatalf("t[1]: %v", got[k1])
	}
	resp.Topics[0].Name = "n"
	if _, ok := parseOffsetCommit(resp, 9, nil, &keys)[kn]; !ok {
		t.Fatal("v9 answer not by name")
	}
}

// TestOffsetFetchRequestAndAnswer: the group at the top level below v8 and in Groups from
// v8; RequireStable only from v7; a member's ID and epoch only from v9 (none for an
// admin's fetch); topics by ID at v10; errors per group and per
// partition; a partition without a commit reads -1.
func TestOffsetFetchRequestAndAnswer(t *testing.T) {
	id := codec.UUID{5}
	parts := []TopicPartition{{"t", 0}, {"t", 2}, {"u", 1}}
	ids := map[string]codec.UUID{"t": id, "u": {6}}
	for v := int16(1); v <= 10; v++ {
		req := offsetFetchRequest("g", nil, parts, true, ids, v)
		if err := req.Validate(v); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if req.RequireStable != (v >= 7) {
			t.Fatalf("v%d: RequireStable %v", v, req.RequireStable)
		}
		if v < 8 {
			if req.GroupID != "g" || len(req.Topics) != 2 || len(req.Topics[0].PartitionIndexes) != 2 {
				t.Fatalf("v%d: %+v", v, req)
			}
			continue
		}
		if len(req.Groups) != 1 || req.Groups[0].GroupID != "g" || req.Groups[0].MemberEpoch != -1 || req.Groups[0].MemberID != nil {
			t.Fatalf("v%d: groups %+v", v, req.Groups)
		}
		as := offsetFetchRequest("g", &GroupMember{MemberID: "m-1", Generation: 4}, parts, true, ids, v).Groups[0]
		if v >= 9 && (as.MemberID == nil || *as.MemberID != "m-1" || as.MemberEpoch != 4) || v < 9 && (as.MemberID != nil || as.MemberEpoch != -1) {
			t.Fatalf("v%d: a member's fetch sent member %v epoch %d", v, as.MemberID, as.MemberEpoch)
		}
		tt := req.Groups[0].Topics[0]
		if v == 10 && (tt.TopicID != id || tt.Name != "") || v < 10 && tt.Name != "t" {
			t.Fatalf("v%d: topic %+v", v, tt)
		}
	}

	md := "meta"
	v7 := &api.OffsetFetchResponse{Topics: []api.OffsetFetchResponseTopic{{Name: "t", Partitions: []api.OffsetFetchResponsePartition{
		{PartitionIndex: 0, CommittedOffset: 42, CommittedLeaderEpoch: 3, Metadata: &md},
		{PartitionIndex: 2, CommittedOffset: -1, CommittedLeaderEpoch: -1},
		{PartitionIndex: 3, CommittedOffset: 5, ErrorCode: errcode.UnstableOffsetCommit.Code},
	}}}}
	var keys partKeys
	k0, k2, k3 := keys.key("t", 0), keys.key("t", 2), keys.key("t", 3)
	got, err := parseOffsetFetch(v7, 7, "g", nil, &keys)
	if err != nil {
		t.Fatal(err)
	}
	if c := got[k0]; c.Offset != 42 || c.LeaderEpoch != 3 || c.Metadata != "meta" || c.Err != nil {
		t.Fatalf("t[0] %+v", c)
	}
	if c := got[k2]; c.Offset != -1 || c.Err != nil {
		t.Fatalf("t[2] %+v", c)
	}
	if c := got[k3]; c.Offset != -1 || !errors.Is(c.Err, errcode.UnstableOffsetCommit) {
		t.Fatalf("t[3] %+v", c)
	}
	v7.ErrorCode = errcode.NotCoordinator.Code
	if _, err := parseOffsetFetch(v7, 7, "g", nil, &keys); !errors.Is(err, errcode.NotCoordinator) {
		t.Fatalf("v7 group error %v", err)
	}

	v10 := &api.OffsetFetchResponse{Groups: []api.OffsetFetchResponseGroup{
		{GroupID: "other", ErrorCode: errcode.GroupAuthorizationFailed.Code},
		{GroupID: "g", Topics: []api.OffsetFetchResponseTopics{{TopicID: id, Partitions: []api.OffsetFetchResponsePartitions{{PartitionIndex: 2, CommittedOffset: 9, CommittedLeaderEpoch: 1}}}}},
	}}
	got, err = parseOffsetFetch(v10, 10, "g", map[codec.UUID]string{id: "t"}, &keys)
	if err != nil || got[k2].Offset != 9 {
		t.Fatalf("v10: %v %+v", err, got)
	}
	if _, err := parseOffsetFetch(v10, 10, "missing", nil, &keys); !errors.Is(err, broker.ErrProtocol) {
		t.Fatalf("a response without the group: %v", err)
	}
}

// TestCoordinatorCacheForgetsOnlyItsNode: forgetting a node that is no longer the cached
// one keeps the newer answer.
func TestCoordinatorCacheForgetsOnlyItsNode(t *testing.T) {
	var cs coordinators
	a, b := broker.Node{ID: 1, Addr: "a:1"}, broker.Node{ID: 2, Addr: "b:1"}
	cs.set("g", a)
	cs.set("g", b)
	cs.forget("g", a)
	if n, ok := cs.get("g"); !ok || n != b {
		t.Fatalf("cached %v %v after forgetting a stale node", n, ok)
	}
	cs.forget("g", b)
	if _, ok := cs.get("g"); ok {
		t.Fatal("still cached")
	}
}

// TestPartKeys: a key per (topic, partition), the same whatever order topics come in;
// find knows only numbered topics.
func TestPartKeys(t *testing.T) {
	var k partKeys
	a0, b0, a1 := k.key("a", 0), k.key("b", 0), k.key("a", 1)
	if a0 == b0 || a0 == a1 || b0 == a1 {
		t.Fatalf("keys collide: %x %x %x", a0, b0, a1)
	}
	if got := k.key("a", 0); got != a0 {
		t.Fatalf("a[0] again: %x, first %x", got, a0)
	}
	if got, ok := k.find("b", 0); !ok || got != b0 {
		t.Fatalf("find b[0]: %x %v", got, ok)
	}
	if _, ok := k.find("c", 0); ok {
		t.Fatal("found a topic never numbered")
	}
	if got, _ := k.find("a", 1<<31-1); got == a0 || got>>32 != a0>>32 {
		t.Fatalf("a's largest partition: %x", got)
	}
	if got := k.key("a", -1); got>>32 != a0>>32 || got == a0 {
		t.Fatalf("a negative partition keeps its topic: %x", got)
	}
}
