package producer

import (
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
)

// A batch's answer is found where the batch was in its request, and by a search when the
// broker answered in another order, by name or by topic ID; a partition the response does
// not mention is not found (nil), even when the hinted place holds another partition.
func TestFindPartitionUsesTheRequestOrderAndFallsBack(t *testing.T) {
	id := codec.UUID{1}
	resp := &api.ProduceResponse{Responses: []api.ProduceResponseTopicProduceResponse{
		{Name: "b", PartitionResponses: []api.ProduceResponsePartitionProduceResponse{{Index: 4, BaseOffset: 40}}},
		{TopicID: id, PartitionResponses: []api.ProduceResponsePartitionProduceResponse{
			{Index: 2, BaseOffset: 20}, {Index: 0, BaseOffset: 0}, {Index: 1, BaseOffset: 10},
		}},
	}}
	batchOf := func(topic string, tid codec.UUID, part, ti, pi int32) *batch {
		return &batch{part: &partition{topic: topic, id: part}, topicID: tid, reqTopic: ti, reqPart: pi}
	}
	for _, c := range []struct {
		name string
		b    *batch
		want int64 // base offset, -1: not found
	}{
		{"at its place, by ID", batchOf("a", id, 0, 1, 1), 0},
		{"at its place, by name", batchOf("b", codec.UUID{}, 4, 0, 0), 40},
		{"answered elsewhere", batchOf("a", id, 1, 0, 0), 10},
		{"hint out of range", batchOf("a", id, 2, 7, 9), 20},
		{"not mentioned", batchOf("a", id, 3, 1, 0), -1},
		{"another topic at its place", batchOf("c", codec.UUID{2}, 4, 0, 0), -1},
	} {
		pr := findPartition(resp, c.b)
		switch {
		case c.want < 0 && pr != nil:
			t.Errorf("%s: found partition %d, want none", c.name, pr.Index)
		case c.want >= 0 && (pr == nil || pr.BaseOffset != c.want):
			t.Errorf("%s: got %+v, want base offset %d", c.name, pr, c.want)
		}
	}
}
