package group

import (
	"maps"
	"slices"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
)

// The reconciler's sets of partitions are maps from topic ID to the topic's partitions,
// sorted and distinct; a topic with none is left out.

func compareUUIDs(a, b codec.UUID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// targetFromWire reads an assignment, merging a topic named twice and dropping duplicate
// partitions; a topic with no partitions is left out.
func targetFromWire(tps []api.ConsumerGroupHeartbeatResponseTopicPartitions) map[codec.UUID][]int32 {
	out := map[codec.UUID][]int32{}
	for _, t := range tps {
		out[t.TopicID] = append(out[t.TopicID], t.Partitions...)
	}
	for id, ps := range out {
		if len(ps) == 0 {
			delete(out, id)
			continue
		}
		slices.Sort(ps)
		out[id] = slices.Compact(ps)
	}
	return out
}

// ownedToWire writes a set as TopicPartitions, sorted by topic ID; never nil, so an
// empty set is sent as an empty array (what a joining member must send), not as null.
func ownedToWire(set map[codec.UUID][]int32) []api.ConsumerGroupHeartbeatRequestTopicPartitions {
	out := make([]api.ConsumerGroupHeartbeatRequestTopicPartitions, 0, len(set))
	for id, ps := range set {
		out = append(out, api.ConsumerGroupHeartbeatRequestTopicPartitions{TopicID: id, Partitions: slices.Clone(ps)})
	}
	slices.SortFunc(out, func(a, b api.ConsumerGroupHeartbeatRequestTopicPartitions) int {
		return compareUUIDs(a.TopicID, b.TopicID)
	})
	return out
}

func cloneParts(set map[codec.UUID][]int32) map[codec.UUID][]int32 {
	out := make(map[codec.UUID][]int32, len(set))
	for id, ps := range set {
		out[id] = slices.Clone(ps)
	}
	return out
}

// subtractParts returns the partitions of a not in b (sorted sets).
func subtractParts(a, b map[codec.UUID][]int32) map[codec.UUID][]int32 {
	out := map[codec.UUID][]int32{}
	for id, ps := range a {
		var keep []int32
		for _, p := range ps {
			if _, found := slices.BinarySearch(b[id], p); !found {
				keep = append(keep, p)
			}
		}
		if len(keep) > 0 {
			out[id] = keep
		}
	}
	return out
}

// unionParts returns the partitions in a or b (sorted sets).
func unionParts(a, b map[codec.UUID][]int32) map[codec.UUID][]int32 {
	out := cloneParts(a)
	for id, ps := range b {
		merged := append(out[id], ps...)
		slices.Sort(merged)
		out[id] = slices.Compact(merged)
	}
	return out
}

func sameParts(a, b map[codec.UUID][]int32) bool {
	return maps.EqualFunc(nonEmptyParts(a), nonEmptyParts(b), slices.Equal[[]int32])
}

func nonEmptyParts(m map[codec.UUID][]int32) map[codec.UUID][]int32 {
	if m == nil {
		return map[codec.UUID][]int32{}
	}
	return m
}
