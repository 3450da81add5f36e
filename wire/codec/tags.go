package codec

import "math"

// RawTag is a tagged field kept as raw bytes: one the decoder did not recognise at the
// message version it read (a newer field, or one outside its tagged versions). Encoding
// writes it back unchanged, so unknown fields survive a decode/encode round trip.
type RawTag struct {
	// Tag is the field's tag number.
	Tag uint32
	// Data is the field's encoded value, without its tag and size prefix.
	Data []byte
}

// Tags holds a struct's unknown tagged fields in ascending tag order, as they came off the
// wire. Generated structs carry one in their UnknownTags field.
type Tags []RawTag

// AppendBefore appends the tags of t from index i whose number is below limit, each with
// its tag number and size prefix, and returns the extended slice and the index of the first
// tag not written. Generated code calls it between known tags to keep the wire order
// ascending.
func (t Tags) AppendBefore(dst []byte, i int, limit uint64) ([]byte, int) {
	for ; i < len(t) && uint64(t[i].Tag) < limit; i++ {
		dst = AppendUvarint(dst, t[i].Tag)
		dst = AppendUvarint(dst, uint32(len(t[i].Data)))
		dst = append(dst, t[i].Data...)
	}
	return dst, i
}

// AppendRest appends every tag of t from index i onwards.
func (t Tags) AppendRest(dst []byte, i int) []byte {
	dst, _ = t.AppendBefore(dst, i, math.MaxUint32+1)
	return dst
}

// AppendTagSection appends a complete tagged-field section holding only the raw tags of t:
// the count followed by each tag.
func (t Tags) AppendTagSection(dst []byte) []byte {
	dst = AppendUvarint(dst, uint32(len(t)))
	return t.AppendRest(dst, 0)
}

// TagCount reads the number of tagged fields that follow. Every tagged field takes at least
// two bytes (its tag and its size), so a count that cannot fit is rejected.
func (d *Decoder) TagCount() int {
	n := d.Uvarint()
	if d.err != nil {
		return 0
	}
	if int64(n)*2 > int64(len(d.src)-d.off) {
		d.fail("tag count", ErrInvalidLength)
		return 0
	}
	return int(n)
}

// Tag reads one tagged field's number and its data (aliasing the input).
func (d *Decoder) Tag() (tag uint32, data []byte) {
	tag = d.Uvarint()
	n := d.Uvarint()
	if d.err != nil {
		return 0, nil
	}
	if int64(n) > int64(len(d.src)-d.off) {
		d.fail("tagged field size", ErrInvalidLength)
		return 0, nil
	}
	return tag, d.take(int(n), "tagged field")
}

// SkipTags reads a tagged-field section and keeps every field in unknown, which it returns.
// It is for structs that define no tagged fields of their own.
func (d *Decoder) SkipTags(unknown Tags) Tags {
	for n := d.TagCount(); n > 0 && d.err == nil; n-- {
		tag, data := d.Tag()
		if d.err == nil {
			unknown = append(unknown, RawTag{Tag: tag, Data: data})
		}
	}
	return unknown
}
