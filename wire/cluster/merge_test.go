package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// md builds a metadata response: topic -> (id, partitions as leader/epoch pairs).
type tp struct {
	id     byte
	err    int16
	leader []int32
	epoch  []int32
}

func md(brokers []int32, topics map[string]tp) *api.MetadataResponse {
	r := &api.MetadataResponse{}
	r.Default()
	for _, b := range brokers {
		r.Brokers = append(r.Brokers, api.MetadataResponseBroker{NodeID: b, Host: "h", Port: 9000 + b})
	}
	for name, t := range topics {
		rt := api.MetadataResponseTopic{Name: &name, ErrorCode: t.err}
		rt.TopicID = codec.UUID{t.id}
		for i := range t.leader {
			rt.Partitions = append(rt.Partitions, api.MetadataResponsePartition{PartitionIndex: int32(i), LeaderID: t.leader[i], LeaderEpoch: t.epoch[i]})
		}
		r.Topics = append(r.Topics, rt)
	}
	return r
}

func TestMergeIgnoresStaleEpochsPerPartition(t *testing.T) {
	s1, _ := merge(nil, md([]int32{1, 2}, map[string]tp{"a": {id: 1, leader: []int32{1, 2}, epoch: []int32{5, 5}}}), false, time.Now())
	// Partition 0 comes back from a lagging broker with an older epoch; partition 1 moved.
	s2, ch := merge(s1, md([]int32{1, 2}, map[string]tp{"a": {id: 1, leader: []int32{2, 1}, epoch: []int32{4, 6}}}), false, time.Now())
	if len(ch) != 0 {
		t.Fatalf("changes %v", ch)
	}
	p := s2.Topic("a").Partitions
	if p[0].Leader != 1 || p[0].LeaderEpoch != 5 {
		t.Fatalf("stale description of partition 0 applied: %+v", p[0])
	}
	if p[1].Leader != 1 || p[1].LeaderEpoch != 6 {
		t.Fatalf("newer description of partition 1 ignored: %+v", p[1])
	}
	if s2.Generation != 2 || s1.Generation != 1 {
		t.Fatalf("generations %d %d", s1.Generation, s2.Generation)
	}
	if s1.Topic("a").Partitions[1].Leader != 2 {
		t.Fatal("merge modified the previous snapshot")
	}
	if b, epoch, err := s2.Leader("a", 1); err != nil || b.ID != 1 || epoch != 6 || b.Node().Addr != "h:9001" {
		t.Fatalf("Leader: %+v %d %v", b, epoch, err)
	}
}

func TestMergeReportsGrowthRecreationAndGone(t *testing.T) {
	s1, _ := merge(nil, md([]int32{1}, map[string]tp{
		"grow": {id: 1, leader: []int32{1}, epoch: []int32{0}},
		"re":   {id: 2, leader: []int32{1, 1}, epoch: []int32{9, 9}},
		"gone": {id: 3, leader: []int32{1}, epoch: []int32{0}},
	}), false, time.Now())
	s2, ch := merge(s1, md([]int32{1}, map[string]tp{
		"grow": {id: 1, leader: []int32{1, 1, 1}, epoch: []int32{0, 0, 0}},
		"re":   {id: 7, leader: []int32{1}, epoch: []int32{0}},
		"gone": {id: 3, err: errcode.UnknownTopicOrPartition.Code},
	}), false, time.Now())
	want := map[string]Change{
		"grow": PartitionsAdded{Topic: "grow", From: 1, To: 3},
		"re":   TopicRecreated{Topic: "re", OldID: codec.UUID{2}, NewID: codec.UUID{7}},
		"gone": TopicGone{Topic: "gone", ID: codec.UUID{3}},
	}
	if len(ch) != 3 {
		t.Fatalf("changes %v", ch)
	}
	for _, c := range ch {
		if want[c.TopicName()] != c {
			t.Fatalf("change %#v, want %#v", c, want[c.TopicName()])
		}
	}
	// A recreated topic takes its new partitions whatever their epochs.
	if re := s2.Topic("re"); len(re.Partitions) != 1 || re.Partitions[0].LeaderEpoch != 0 || s2.TopicByID(codec.UUID{7}) != re {
		t.Fatalf("recreated topic %+v", re)
	}
	if s2.TopicByID(codec.UUID{2}) != nil {
		t.Fatal("old topic ID still resolves")
	}
	if _, _, err := s2.Leader("gone", 0); !errors.Is(err, ErrNoLeader) || !errors.Is(err, errcode.UnknownTopicOrPartition) {
		t.Fatalf("leader of a gone topic: %v", err)
	}
}

func TestMergeKeepsUnaskedTopicsAndDropsUnlistedOnFullListing(t *testing.T) {
	s1, _ := merge(nil, md([]int32{1}, map[string]tp{"a": {id: 1, leader: []int32{1}, epoch: []int32{0}}, "b": {id: 2, leader: []int32{1}, epoch: []int32{0}}}), true, time.Now())
	s2, ch := merge(s1, md([]int32{1}, map[string]tp{"a": {id: 1, leader: []int32{1}, epoch: []int32{0}}}), false, time.Now())
	if s2.Topic("b") == nil || len(ch) != 0 {
		t.Fatal("a refresh of some topics forgot another")
	}
	s3, ch := merge(s2, md([]int32{1}, map[string]tp{"a": {id: 1, leader: []int32{1}, epoch: []int32{0}}}), true, time.Now())
	if s3.Topic("b") != nil || len(ch) != 1 {
		t.Fatalf("a full listing without b kept it: %v", ch)
	}
}

func TestMergeStaleShorterListingAndTransientErrors(t *testing.T) {
	s1, _ := merge(nil, md([]int32{1}, map[string]tp{"a": {id: 1, leader: []int32{1, 1, 1}, epoch: []int32{3, 3, 3}}}), false, time.Now())
	s2, ch := merge(s1, md([]int32{1}, map[string]tp{"a": {id: 1, leader: []int32{1}, epoch: []int32{3}}}), false, time.Now())
	if len(s2.Topic("a").Partitions) != 3 || len(ch) != 0 {
		t.Fatal("a lagging broker listing fewer partitions shrank the topic")
	}
	s3, _ := merge(s2, md([]int32{1}, map[string]tp{"a": {id: 1, err: errcode.LeaderNotAvailable.Code}}), false, time.Now())
	if a := s3.Topic("a"); !errors.Is(a.Err, errcode.LeaderNotAvailable) || len(a.Partitions) != 3 {
		t.Fatalf("transient topic error: %+v", a)
	}
	if !unresolved(s3.Topic("a")) || unresolved(s1.Topic("a")) || !unresolved(nil) {
		t.Fatal("unresolved")
	}
}

func TestMergeRefusesAbsurdPartitionIndexes(t *testing.T) {
	r := md([]int32{1}, map[string]tp{"a": {id: 1, leader: []int32{1}, epoch: []int32{0}}})
	r.Topics[0].Partitions[0].PartitionIndex = 1 << 30
	s, _ := merge(nil, r, false, time.Now())
	if len(s.Topic("a").Partitions) != 0 {
		t.Fatal("a huge partition index sized the partition list")
	}
}
