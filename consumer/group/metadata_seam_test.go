package group

import (
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The member's interim codec against kmsg's, as an oracle: what it writes kmsg reads, and
// it reads what kmsg writes at every version (later versions' fields ignored).

func TestSubscriptionAgainstKmsg(t *testing.T) {
	b := encodeSubscriptionV0([]string{"a", "b"}, []byte("ud"))
	var k kmsg.ConsumerMemberMetadata
	if err := k.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if k.Version != 0 || !reflect.DeepEqual(k.Topics, []string{"a", "b"}) || string(k.UserData) != "ud" {
		t.Errorf("kmsg read %+v", k)
	}
	for v := int16(0); v <= 3; v++ {
		k := kmsg.NewConsumerMemberMetadata()
		k.Version, k.Topics, k.UserData, k.Generation = v, []string{"x"}, []byte{1}, 7
		k.OwnedPartitions = []kmsg.ConsumerMemberMetadataOwnedPartition{{Topic: "x", Partitions: []int32{3}}}
		topics, ud, err := decodeSubscriptionAny(k.AppendTo(nil))
		if err != nil || !reflect.DeepEqual(topics, []string{"x"}) || !reflect.DeepEqual(ud, []byte{1}) {
			t.Errorf("v%d: %v %v %v", v, topics, ud, err)
		}
	}
}

func TestAssignmentAgainstKmsg(t *testing.T) {
	want := Assignment{Partitions: []TopicPartitions{{Topic: "a", Partitions: []int32{0, 2}}, {Topic: "b", Partitions: []int32{1}}}}
	var k kmsg.ConsumerMemberAssignment
	if err := k.ReadFrom(encodeAssignmentV0(want)); err != nil {
		t.Fatal(err)
	}
	if len(k.Topics) != 2 || k.Topics[0].Topic != "a" || !reflect.DeepEqual(k.Topics[0].Partitions, []int32{0, 2}) {
		t.Errorf("kmsg read %+v", k)
	}
	for v := int16(0); v <= 3; v++ {
		k := kmsg.NewConsumerMemberAssignment()
		k.Version = v
		k.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "a", Partitions: []int32{0, 2}}, {Topic: "b", Partitions: []int32{1}}}
		got, err := decodeAssignmentAny(k.AppendTo(nil))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("v%d: %+v %v", v, got, err)
		}
	}
	if got, err := decodeAssignmentAny(nil); err != nil || got.Partitions != nil {
		t.Errorf("empty: %+v %v", got, err)
	}
	for _, bad := range [][]byte{{0}, {0, 0, 0, 0, 0, 9}, {0xff, 0xff}} {
		if _, err := decodeAssignmentAny(bad); !errors.Is(err, errMetadata) {
			t.Errorf("%x: %v, want errMetadata", bad, err)
		}
		if _, _, err := decodeSubscriptionAny(bad); !errors.Is(err, errMetadata) {
			t.Errorf("subscription %x: %v, want errMetadata", bad, err)
		}
	}
}
