package group

import (
	"errors"
	"fmt"
	"math"

	"github.com/troupe-go/troupe/wire/codec"
)

// The consumer protocol's two "data" messages travel opaquely inside JoinGroup (a member's
// subscription, as its protocol metadata) and SyncGroup (the leader's assignment for each
// member). They are not flexible: each starts with an int16 version and then holds its
// fields in the classic encoding, every version a prefix of the next.

// Versions of the consumer protocol this package encodes and decodes.
const (
	// SubscriptionVersion is the ConsumerProtocolSubscription version a member sends: 3,
	// the highest there is, whether or not the member has a rack (a null RackId then).
	// It is what the Java client (3.x and later) sends, and it is safe with every peer a
	// group may mix in: each version only appends fields to the one before, and the Java
	// client, librdkafka and franz-go all parse a newer version than they know with the
	// layout they know, ignoring what follows. Version 1 carries Owned (which the
	// cooperative protocol needs) and version 2 the Generation (which KIP-792 needs to
	// discard stale claims), so sending less would cost correctness, not compatibility.
	SubscriptionVersion int16 = 3
	// AssignmentVersion is the ConsumerProtocolAssignment version a leader sends: 3, as
	// the Java client does. Versions 0 to 3 of the assignment have the same layout.
	AssignmentVersion int16 = 3
	// maxProtocolVersion is the highest version of either message whose layout is known.
	maxProtocolVersion int16 = 3
)

// Errors of the consumer protocol codec. Decoding errors also wrap the codec's own
// ([codec.ErrShortBuffer], [codec.ErrInvalidLength], ...), so both can be matched with
// [errors.Is].
var (
	// ErrMalformed means subscription, assignment or assignor user data bytes could not be
	// decoded: they end early, announce impossible lengths, or hold a null where none is
	// allowed.
	ErrMalformed = errors.New("group: malformed consumer protocol data")
	// ErrUnsupportedVersion means a consumer protocol version below 0 was read, or a
	// version outside 0 to 3 was asked to be encoded.
	ErrUnsupportedVersion = errors.New("group: unsupported consumer protocol version")
	// ErrTooLong means a value cannot be encoded because it exceeds what its length prefix
	// can say (a topic or rack name over 32767 bytes).
	ErrTooLong = errors.New("group: value too long to encode")
)

// Encode appends s as a ConsumerProtocolSubscription at version (0 to 3) to dst. MemberID
// and InstanceID are not part of the message (the coordinator carries them) and are not
// written. Fields the version lacks are left out, as the schema marks them ignorable: Owned
// before version 1, Generation before 2, Rack before 3. An empty Rack is written as null,
// and a nil UserData as null.
func (s *Subscription) Encode(dst []byte, version int16) ([]byte, error) {
	if version < 0 || version > maxProtocolVersion {
		return dst, fmt.Errorf("subscription version %d: %w", version, ErrUnsupportedVersion)
	}
	if err := checkNames(s.Topics, s.Owned, s.Rack); err != nil {
		return dst, fmt.Errorf("subscription: %w", err)
	}
	dst = codec.AppendInt16(dst, version)
	dst = codec.AppendArrayLen(dst, len(s.Topics), false)
	for _, t := range s.Topics {
		dst = codec.AppendString(dst, t, false)
	}
	dst = codec.AppendNullableBytes(dst, s.UserData, false)
	if version >= 1 {
		dst = appendTopicPartitions(dst, s.Owned)
	}
	if version >= 2 {
		dst = codec.AppendInt32(dst, s.Generation)
	}
	if version >= 3 {
		if s.Rack == "" {
			dst = codec.AppendNullableString(dst, nil, false)
		} else {
			dst = codec.AppendString(dst, s.Rack, false)
		}
	}
	return dst, nil
}

// Decode replaces the encoded fields of s (every field but MemberID and InstanceID, which
// it leaves alone) with the ConsumerProtocolSubscription in src, and returns the version
// read. Fields the version lacks get their defaults: no Owned, Generation -1, no Rack. A
// version above 3 is read with version 3's layout, and bytes after the last known field
// are ignored, as the schema asks (future versions only append fields) and as the Java
// client does. It never panics and allocates nothing beyond what src can hold; malformed
// input returns an error matching [ErrMalformed]. UserData is copied out of src.
func (s *Subscription) Decode(src []byte) (int16, error) {
	d := codec.NewDecoder(src)
	version := d.Int16()
	if err := d.Err(); err != nil {
		return 0, fmt.Errorf("subscription version: %w: %w", ErrMalformed, err)
	}
	if version < 0 {
		return version, fmt.Errorf("subscription version %d: %w", version, ErrUnsupportedVersion)
	}
	layout := min(version, maxProtocolVersion)
	var out Subscription
	out.MemberID, out.InstanceID = s.MemberID, s.InstanceID
	out.Generation = -1
	n := d.ArrayLen(false, 2)
	if n < 0 {
		d.Fail(fmt.Errorf("topics: %w", codec.ErrUnexpectedNull))
	}
	if n > 0 {
		out.Topics = make([]string, n)
		for i := range out.Topics {
			out.Topics[i] = d.String(false)
		}
	}
	if ud := d.NullableBytes(false); ud != nil {
		out.UserData = append(make([]byte, 0, len(ud)), ud...)
	}
	if layout >= 1 {
		out.Owned = readTopicPartitions(d, "owned partitions")
	}
	if layout >= 2 {
		out.Generation = d.Int32()
	}
	if layout >= 3 {
		if r := d.NullableString(false); r != nil {
			out.Rack = *r
		}
	}
	if err := d.Err(); err != nil {
		return version, fmt.Errorf("subscription v%d: %w: %w", version, ErrMalformed, err)
	}
	*s = out
	return version, nil
}

// Encode appends a as a ConsumerProtocolAssignment at version (0 to 3; all share one
// layout) to dst. A nil UserData is written as null.
func (a *Assignment) Encode(dst []byte, version int16) ([]byte, error) {
	if version < 0 || version > maxProtocolVersion {
		return dst, fmt.Errorf("assignment version %d: %w", version, ErrUnsupportedVersion)
	}
	if err := checkNames(nil, a.Partitions, ""); err != nil {
		return dst, fmt.Errorf("assignment: %w", err)
	}
	dst = codec.AppendInt16(dst, version)
	dst = appendTopicPartitions(dst, a.Partitions)
	dst = codec.AppendNullableBytes(dst, a.UserData, false)
	return dst, nil
}

// Decode replaces a with the ConsumerProtocolAssignment in src and returns the version
// read. As with [Subscription.Decode], a version above 3 is read with version 3's layout,
// trailing bytes are ignored, malformed input returns an error matching [ErrMalformed],
// and UserData is copied out of src.
//
// An empty src decodes as an empty assignment: it is what the coordinator sends a member
// the leader's SyncGroup did not name, and it means the member owns nothing.
func (a *Assignment) Decode(src []byte) (int16, error) {
	if len(src) == 0 {
		*a = Assignment{}
		return 0, nil
	}
	d := codec.NewDecoder(src)
	version := d.Int16()
	if err := d.Err(); err != nil {
		return 0, fmt.Errorf("assignment version: %w: %w", ErrMalformed, err)
	}
	if version < 0 {
		return version, fmt.Errorf("assignment version %d: %w", version, ErrUnsupportedVersion)
	}
	var out Assignment
	out.Partitions = readTopicPartitions(d, "assigned partitions")
	if ud := d.NullableBytes(false); ud != nil {
		out.UserData = append(make([]byte, 0, len(ud)), ud...)
	}
	if err := d.Err(); err != nil {
		return version, fmt.Errorf("assignment v%d: %w: %w", version, ErrMalformed, err)
	}
	*a = out
	return version, nil
}

// checkNames reports a topic or rack name too long for an int16 length prefix.
func checkNames(topics []string, tps []TopicPartitions, rack string) error {
	for _, t := range topics {
		if len(t) > math.MaxInt16 {
			return fmt.Errorf("topic name of %d bytes: %w", len(t), ErrTooLong)
		}
	}
	for _, tp := range tps {
		if len(tp.Topic) > math.MaxInt16 {
			return fmt.Errorf("topic name of %d bytes: %w", len(tp.Topic), ErrTooLong)
		}
	}
	if len(rack) > math.MaxInt16 {
		return fmt.Errorf("rack of %d bytes: %w", len(rack), ErrTooLong)
	}
	return nil
}

// appendTopicPartitions appends the schema's []TopicPartition: an array of (topic string,
// partitions []int32), classic encoding.
func appendTopicPartitions(dst []byte, tps []TopicPartitions) []byte {
	dst = codec.AppendArrayLen(dst, len(tps), false)
	for _, tp := range tps {
		dst = codec.AppendString(dst, tp.Topic, false)
		dst = codec.AppendArrayLen(dst, len(tp.Partitions), false)
		for _, p := range tp.Partitions {
			dst = codec.AppendInt32(dst, p)
		}
	}
	return dst
}

// readTopicPartitions reads what appendTopicPartitions writes. A null array (or a null
// inner array) is latched as an error: the schema allows none. Every count is checked
// against the remaining input before anything is allocated (an element takes at least 6
// bytes, a partition 4).
func readTopicPartitions(d *codec.Decoder, what string) []TopicPartitions {
	n := d.ArrayLen(false, 6)
	if n < 0 {
		d.Fail(fmt.Errorf("%s: %w", what, codec.ErrUnexpectedNull))
		return nil
	}
	if n == 0 {
		return nil
	}
	tps := make([]TopicPartitions, n)
	for i := range tps {
		tps[i].Topic = d.String(false)
		m := d.ArrayLen(false, 4)
		if m < 0 {
			d.Fail(fmt.Errorf("%s: partitions: %w", what, codec.ErrUnexpectedNull))
			return nil
		}
		if m > 0 {
			tps[i].Partitions = make([]int32, m)
			for j := range tps[i].Partitions {
				tps[i].Partitions[j] = d.Int32()
			}
		}
		if d.Err() != nil {
			return nil
		}
	}
	return tps
}
