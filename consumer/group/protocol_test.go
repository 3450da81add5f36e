package group

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"

	"github.com/troupe-go/troupe/wire/codec"
)

// genTopicPartitions draws a list of topic-partitions as the schema allows them (nil and
// empty partition lists both encode as an empty array, so only nil is drawn for "none").
func genTopicPartitions(t *rapid.T, label string) []TopicPartitions {
	n := rapid.IntRange(0, 4).Draw(t, label+" count")
	if n == 0 {
		return nil
	}
	tps := make([]TopicPartitions, n)
	for i := range tps {
		tps[i].Topic = rapid.StringMatching(`[a-zA-Z0-9._-]{0,12}`).Draw(t, label+" topic")
		m := rapid.IntRange(0, 5).Draw(t, label+" partitions")
		for range m {
			tps[i].Partitions = append(tps[i].Partitions, rapid.Int32().Draw(t, label+" partition"))
		}
	}
	return tps
}

func genUserData(t *rapid.T) []byte {
	switch rapid.IntRange(0, 2).Draw(t, "user data kind") {
	case 0:
		return nil
	case 1:
		return []byte{}
	default:
		return rapid.SliceOfN(rapid.Byte(), 1, 40).Draw(t, "user data")
	}
}

func genSubscription(t *rapid.T, version int16) Subscription {
	s := Subscription{Generation: -1}
	if n := rapid.IntRange(0, 5).Draw(t, "topics"); n > 0 {
		for range n {
			s.Topics = append(s.Topics, rapid.StringMatching(`[a-z0-9._-]{0,12}`).Draw(t, "topic"))
		}
	}
	s.UserData = genUserData(t)
	if version >= 1 {
		s.Owned = genTopicPartitions(t, "owned")
	}
	if version >= 2 {
		s.Generation = rapid.Int32().Draw(t, "generation")
	}
	if version >= 3 {
		s.Rack = rapid.StringMatching(`[a-z0-9-]{0,8}`).Draw(t, "rack")
	}
	return s
}

func toKmsgOwned(tps []TopicPartitions) []kmsg.ConsumerMemberMetadataOwnedPartition {
	var out []kmsg.ConsumerMemberMetadataOwnedPartition
	for _, tp := range tps {
		out = append(out, kmsg.ConsumerMemberMetadataOwnedPartition{Topic: tp.Topic, Partitions: tp.Partitions})
	}
	return out
}

func toKmsgTopics(tps []TopicPartitions) []kmsg.ConsumerMemberAssignmentTopic {
	var out []kmsg.ConsumerMemberAssignmentTopic
	for _, tp := range tps {
		out = append(out, kmsg.ConsumerMemberAssignmentTopic{Topic: tp.Topic, Partitions: tp.Partitions})
	}
	return out
}

// normTPs makes nil and empty partition lists compare equal (the wire cannot tell them
// apart), for comparisons with kmsg, which decodes an empty array as an empty slice.
func normTPs(tps []TopicPartitions) []TopicPartitions {
	if len(tps) == 0 {
		return nil
	}
	out := make([]TopicPartitions, len(tps))
	for i, tp := range tps {
		out[i].Topic = tp.Topic
		if len(tp.Partitions) > 0 {
			out[i].Partitions = tp.Partitions
		}
	}
	return out
}

// TestSubscriptionAgainstKmsg checks the codec against kmsg.ConsumerMemberMetadata, both
// ways and at every version: what troupe encodes is byte for byte what kmsg encodes, and
// each decodes what the other wrote to the same values.
func TestSubscriptionCodecAgainstKmsg(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		version := int16(rapid.IntRange(0, 3).Draw(t, "version"))
		s := genSubscription(t, version)

		ours, err := s.Encode(nil, version)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		k := kmsg.ConsumerMemberMetadata{
			Version:         version,
			Topics:          s.Topics,
			UserData:        s.UserData,
			OwnedPartitions: toKmsgOwned(s.Owned),
			Generation:      s.Generation,
		}
		if version >= 3 && s.Rack != "" {
			k.Rack = &s.Rack
		}
		theirs := k.AppendTo(nil)
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("v%d encodings differ:\nours   %x\nkmsg   %x", version, ours, theirs)
		}

		// kmsg reads what we wrote.
		var back kmsg.ConsumerMemberMetadata
		if err := back.ReadFrom(ours); err != nil {
			t.Fatalf("kmsg cannot read ours: %v", err)
		}
		if back.Version != version || len(back.Topics) != len(s.Topics) || back.Generation != s.Generation ||
			!bytes.Equal(back.UserData, s.UserData) || (back.UserData == nil) != (s.UserData == nil) {
			t.Fatalf("kmsg read back %+v from %+v", back, s)
		}

		// We read what kmsg wrote, to the values we started from.
		var got Subscription
		got.MemberID = "kept"
		v, err := got.Decode(theirs)
		if err != nil {
			t.Fatalf("decode kmsg's bytes: %v", err)
		}
		if v != version || got.MemberID != "kept" {
			t.Fatalf("version %d, member %q", v, got.MemberID)
		}
		got.MemberID = ""
		want := s
		want.Owned = normTPs(want.Owned)
		got.Owned = normTPs(got.Owned)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
		}
	})
}

// TestAssignmentAgainstKmsg does the same for kmsg.ConsumerMemberAssignment.
func TestAssignmentCodecAgainstKmsg(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		version := int16(rapid.IntRange(0, 3).Draw(t, "version"))
		a := Assignment{Partitions: genTopicPartitions(t, "assigned"), UserData: genUserData(t)}
		ours, err := a.Encode(nil, version)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		k := kmsg.ConsumerMemberAssignment{Version: version, Topics: toKmsgTopics(a.Partitions), UserData: a.UserData}
		theirs := k.AppendTo(nil)
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("v%d encodings differ:\nours   %x\nkmsg   %x", version, ours, theirs)
		}
		var back kmsg.ConsumerMemberAssignment
		if err := back.ReadFrom(ours); err != nil || back.Version != version || len(back.Topics) != len(a.Partitions) {
			t.Fatalf("kmsg read back %+v, %v", back, err)
		}
		var got Assignment
		v, err := got.Decode(theirs)
		if err != nil || v != version {
			t.Fatalf("decode kmsg's bytes: v%d %v", v, err)
		}
		got.Partitions, a.Partitions = normTPs(got.Partitions), normTPs(a.Partitions)
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("decoded\n%+v\nwant\n%+v", got, a)
		}
	})
}

// TestSubscriptionKnownBytes pins one encoding written out by hand from the schema, so a
// change that kmsg and troupe made alike would still be caught.
func TestSubscriptionKnownBytes(t *testing.T) {
	s := Subscription{
		Topics:     []string{"t"},
		Owned:      []TopicPartitions{{Topic: "t", Partitions: []int32{2}}},
		Generation: 7,
		Rack:       "r",
	}
	got, err := s.Encode(nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0, 3, // version
		0, 0, 0, 1, 0, 1, 't', // topics
		0xff, 0xff, 0xff, 0xff, // user data: null
		0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, // owned
		0, 0, 0, 7, // generation
		0, 1, 'r', // rack
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	// Without a rack, v3 writes a null RackId; the Java client reads null (and empty) as
	// no rack.
	s.Rack = ""
	got, _ = s.Encode(nil, 3)
	if tail := got[len(got)-2:]; !bytes.Equal(tail, []byte{0xff, 0xff}) {
		t.Fatalf("rack without a value encodes as %x, want null", tail)
	}
}

// TestDecodeNewerVersion checks the schema's forward-compatibility rule: a version above 3
// is read with version 3's layout and what follows is ignored.
func TestDecodeNewerVersion(t *testing.T) {
	s := Subscription{Topics: []string{"a", "b"}, Generation: 4, Rack: "r1",
		Owned: []TopicPartitions{{Topic: "a", Partitions: []int32{0, 1}}}}
	b, err := s.Encode(nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	b[1] = 9                                  // version 9
	b = append(b, 0xde, 0xad, 0xbe, 0xef, 42) // a field version 9 added
	var got Subscription
	v, err := got.Decode(b)
	if err != nil || v != 9 {
		t.Fatalf("v%d, %v", v, err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatalf("got %+v want %+v", got, s)
	}

	a := Assignment{Partitions: []TopicPartitions{{Topic: "a", Partitions: []int32{3}}}, UserData: []byte{1}}
	ab, _ := a.Encode(nil, 0)
	ab[1] = 5
	ab = append(ab, 1, 2, 3)
	var gotA Assignment
	if v, err := gotA.Decode(ab); err != nil || v != 5 || !reflect.DeepEqual(gotA, a) {
		t.Fatalf("v%d %v: %+v", v, err, gotA)
	}
}

func TestProtocolErrors(t *testing.T) {
	var s Subscription
	if _, err := s.Encode(nil, 4); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("encode v4: %v", err)
	}
	if _, err := s.Encode(nil, -1); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("encode v-1: %v", err)
	}
	long := strings.Repeat("x", 1<<15)
	if _, err := (&Subscription{Topics: []string{long}}).Encode(nil, 0); !errors.Is(err, ErrTooLong) {
		t.Errorf("long topic: %v", err)
	}
	if _, err := (&Subscription{Rack: long}).Encode(nil, 3); !errors.Is(err, ErrTooLong) {
		t.Errorf("long rack: %v", err)
	}
	if _, err := (&Assignment{Partitions: []TopicPartitions{{Topic: long}}}).Encode(nil, 0); !errors.Is(err, ErrTooLong) {
		t.Errorf("long assigned topic: %v", err)
	}
	if _, err := (&Assignment{}).Encode(nil, 7); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("assignment v7: %v", err)
	}

	good, _ := (&Subscription{Topics: []string{"abc"}, Owned: []TopicPartitions{{Topic: "abc", Partitions: []int32{1, 2}}}, Generation: 3}).Encode(nil, 3)
	// Every strict prefix of a valid subscription is malformed, and the subscription it
	// was decoded into is left as it was.
	for i := range len(good) {
		got := Subscription{MemberID: "m", Topics: []string{"before"}}
		if _, err := got.Decode(good[:i]); !errors.Is(err, ErrMalformed) || !errors.Is(err, codec.ErrShortBuffer) && !errors.Is(err, codec.ErrInvalidLength) {
			t.Errorf("prefix of %d bytes: %v", i, err)
		}
		if got.MemberID != "m" || len(got.Topics) != 1 || got.Topics[0] != "before" {
			t.Errorf("prefix of %d bytes changed the subscription to %+v", i, got)
		}
	}
	if _, err := s.Decode([]byte{0xff, 0xfe}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("negative version: %v", err)
	}
	// A null topics array, and a null owned-partitions array, are malformed.
	if _, err := s.Decode([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); !errors.Is(err, codec.ErrUnexpectedNull) {
		t.Errorf("null topics: %v", err)
	}
	if _, err := s.Decode([]byte{0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); !errors.Is(err, codec.ErrUnexpectedNull) {
		t.Errorf("null owned: %v", err)
	}
	// A count that the input cannot hold is refused before anything is allocated.
	huge := []byte{0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'}
	if _, err := s.Decode(huge); !errors.Is(err, codec.ErrInvalidLength) {
		t.Errorf("huge topic count: %v", err)
	}
	var a Assignment
	if _, err := a.Decode([]byte{0, 0, 0x7f, 0xff, 0xff, 0xff}); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge assignment count: %v", err)
	}
	if _, err := a.Decode([]byte{0}); !errors.Is(err, ErrMalformed) {
		t.Errorf("one byte: %v", err)
	}
	if v, err := a.Decode(nil); err != nil || v != 0 || a.Partitions != nil || a.UserData != nil {
		t.Errorf("empty assignment: v%d %v %+v", v, err, a)
	}
}

// TestDecodeCopiesUserData checks that a decoded value does not alias the bytes it came
// from: the member may reuse its read buffer as soon as Decode returns.
func TestDecodeCopiesUserData(t *testing.T) {
	b, _ := (&Subscription{UserData: []byte{1, 2, 3}}).Encode(nil, 0)
	var s Subscription
	if _, err := s.Decode(b); err != nil {
		t.Fatal(err)
	}
	clear(b)
	if !bytes.Equal(s.UserData, []byte{1, 2, 3}) {
		t.Fatalf("user data aliases the input: %v", s.UserData)
	}
}

// FuzzSubscriptionDecode feeds arbitrary bytes to both decoders: they must not panic, must
// return an error matching ErrMalformed or ErrUnsupportedVersion when they fail, and what
// they accept must re-encode to bytes that decode to the same value.
func FuzzSubscriptionDecode(f *testing.F) {
	seeds := []Subscription{
		{},
		{Topics: []string{"a", "bb"}, UserData: []byte{0, 1}},
		{Topics: []string{"t"}, Owned: []TopicPartitions{{Topic: "t", Partitions: []int32{0, 5}}}, Generation: 9, Rack: "z"},
	}
	for _, s := range seeds {
		for v := int16(0); v <= 3; v++ {
			b, _ := s.Encode(nil, v)
			f.Add(b)
		}
	}
	a, _ := (&Assignment{Partitions: []TopicPartitions{{Topic: "x", Partitions: []int32{1}}}, UserData: []byte{7}}).Encode(nil, 3)
	f.Add(a)
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Subscription
		if v, err := s.Decode(b); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unmatched error %v", err)
			}
		} else {
			again, err := s.Encode(nil, min(v, 3))
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			var s2 Subscription
			if _, err := s2.Decode(again); err != nil {
				t.Fatalf("decode re-encoded: %v", err)
			}
			if !reflect.DeepEqual(normSub(s), normSub(s2)) {
				t.Fatalf("round trip changed %+v to %+v", s, s2)
			}
		}
		var as Assignment
		if v, err := as.Decode(b); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unmatched error %v", err)
			}
		} else {
			again, err := as.Encode(nil, min(v, 3))
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			var as2 Assignment
			if _, err := as2.Decode(again); err != nil || !reflect.DeepEqual(as, as2) {
				t.Fatalf("round trip changed %+v to %+v (%v)", as, as2, err)
			}
		}
	})
}

// normSub drops what a re-encode cannot keep: a rack given as an empty string is null on
// the wire either way.
func normSub(s Subscription) Subscription {
	s.Owned = normTPs(s.Owned)
	return s
}
