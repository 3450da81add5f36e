package group

import (
	"errors"
	"fmt"

	"github.com/troupe-go/troupe/wire/codec"
)

// The member's own minimal codec for the "consumer" protocol's member metadata and
// assignments, used until the package's full codec (ConsumerProtocolSubscription and
// ConsumerProtocolAssignment, every version, in protocol.go) lands; then these four
// functions become calls to it. It writes version 0 — what an eager member needs: its
// topics and its assignor's user data — and reads any version, ignoring the fields a
// later version appends (owned partitions, generation, rack), as Kafka's protocol lets
// an older reader do.

// errMetadata is matched by the error of metadata or an assignment that cannot be read.
var errMetadata = errors.New("group: malformed consumer protocol metadata")

func encodeSubscriptionV0(topics []string, userData []byte) []byte {
	dst := codec.AppendInt16(nil, 0)
	dst = codec.AppendArrayLen(dst, len(topics), false)
	for _, t := range topics {
		dst = codec.AppendString(dst, t, false)
	}
	return codec.AppendNullableBytes(dst, userData, false)
}

func decodeSubscriptionAny(src []byte) (topics []string, userData []byte, err error) {
	d := codec.NewDecoder(src)
	if v := d.Int16(); v < 0 && d.Err() == nil {
		return nil, nil, fmt.Errorf("%w: subscription version %d", errMetadata, v)
	}
	if n := d.ArrayLen(false, 2); n > 0 {
		topics = make([]string, n)
		for i := range topics {
			topics[i] = d.String(false)
		}
	}
	userData = d.NullableBytes(false)
	if err := d.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: subscription: %w", errMetadata, err)
	}
	return topics, userData, nil
}

func encodeAssignmentV0(a Assignment) []byte {
	dst := codec.AppendInt16(nil, 0)
	dst = codec.AppendArrayLen(dst, len(a.Partitions), false)
	for _, tp := range a.Partitions {
		dst = codec.AppendString(dst, tp.Topic, false)
		dst = codec.AppendArrayLen(dst, len(tp.Partitions), false)
		for _, p := range tp.Partitions {
			dst = codec.AppendInt32(dst, p)
		}
	}
	return codec.AppendNullableBytes(dst, a.UserData, false)
}

// decodeAssignmentAny reads an assignment; an empty one (a member the leader gave
// nothing, which the coordinator may send as no bytes at all) is no partitions.
func decodeAssignmentAny(src []byte) (Assignment, error) {
	var a Assignment
	if len(src) == 0 {
		return a, nil
	}
	d := codec.NewDecoder(src)
	if v := d.Int16(); v < 0 && d.Err() == nil {
		return a, fmt.Errorf("%w: assignment version %d", errMetadata, v)
	}
	if n := d.ArrayLen(false, 6); n > 0 {
		a.Partitions = make([]TopicPartitions, n)
		for i := range a.Partitions {
			a.Partitions[i].Topic = d.String(false)
			if m := d.ArrayLen(false, 4); m > 0 {
				a.Partitions[i].Partitions = make([]int32, m)
				for j := range a.Partitions[i].Partitions {
					a.Partitions[i].Partitions[j] = d.Int32()
				}
			}
		}
	}
	a.UserData = d.NullableBytes(false)
	if err := d.Err(); err != nil {
		return Assignment{}, fmt.Errorf("%w: assignment: %w", errMetadata, err)
	}
	return a, nil
}
