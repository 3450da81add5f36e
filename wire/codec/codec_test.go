package codec

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// TestEncodeKnownBytes pins each encoder to the bytes the Kafka protocol guide specifies.
func TestEncodeKnownBytes(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"int8", AppendInt8(nil, -2), []byte{0xfe}},
		{"int16", AppendInt16(nil, -2), []byte{0xff, 0xfe}},
		{"int32", AppendInt32(nil, 0x01020304), []byte{1, 2, 3, 4}},
		{"int64", AppendInt64(nil, -1), bytes.Repeat([]byte{0xff}, 8)},
		{"uint16", AppendUint16(nil, 0xbeef), []byte{0xbe, 0xef}},
		{"uint32", AppendUint32(nil, 0xdeadbeef), []byte{0xde, 0xad, 0xbe, 0xef}},
		{"float64", AppendFloat64(nil, 1.0), []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"bool true", AppendBool(nil, true), []byte{1}},
		{"bool false", AppendBool(nil, false), []byte{0}},
		{"uvarint 0", AppendUvarint(nil, 0), []byte{0}},
		{"uvarint 300", AppendUvarint(nil, 300), []byte{0xac, 0x02}},
		{"uvarint max", AppendUvarint(nil, math.MaxUint32), []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"varint -1", AppendVarint(nil, -1), []byte{1}},
		{"varint 1", AppendVarint(nil, 1), []byte{2}},
		{"varint -64", AppendVarint(nil, -64), []byte{0x7f}},
		{"varlong min", AppendVarlong(nil, math.MinInt64), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"uuid", AppendUUID(nil, UUID{15: 7}), append(make([]byte, 15), 7)},
		{"string", AppendString(nil, "ab", false), []byte{0, 2, 'a', 'b'}},
		{"compact string", AppendString(nil, "ab", true), []byte{3, 'a', 'b'}},
		{"null string", AppendNullableString(nil, nil, false), []byte{0xff, 0xff}},
		{"compact null string", AppendNullableString(nil, nil, true), []byte{0}},
		{"nullable string", AppendNullableString(nil, ptr(""), false), []byte{0, 0}},
		{"bytes", AppendBytes(nil, []byte{9}, false), []byte{0, 0, 0, 1, 9}},
		{"nil bytes is empty", AppendBytes(nil, nil, true), []byte{1}},
		{"null bytes", AppendNullableBytes(nil, nil, false), []byte{0xff, 0xff, 0xff, 0xff}},
		{"compact null bytes", AppendNullableBytes(nil, nil, true), []byte{0}},
		{"empty nullable bytes", AppendNullableBytes(nil, []byte{}, true), []byte{1}},
		{"array len", AppendArrayLen(nil, 2, false), []byte{0, 0, 0, 2}},
		{"compact array len", AppendArrayLen(nil, 2, true), []byte{3}},
		{"null array", AppendNullArrayLen(nil, false), []byte{0xff, 0xff, 0xff, 0xff}},
		{"compact null array", AppendNullArrayLen(nil, true), []byte{0}},
	}
	for _, c := range cases {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: got % x, want % x", c.name, c.got, c.want)
		}
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	dst := []byte("xy")
	dst = AppendString(dst, "z", true)
	if string(dst) != "xy\x02z" {
		t.Fatalf("got %q", dst)
	}
}

func TestEncodeDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	s := "topic"
	allocs := testing.AllocsPerRun(100, func() {
		b := buf[:0]
		b = AppendInt32(b, 1)
		b = AppendUvarint(b, 1000)
		b = AppendVarlong(b, -5)
		b = AppendString(b, s, true)
		b = AppendNullableString(b, &s, false)
		b = AppendBytes(b, buf[:3], false)
		b = AppendUUID(b, UUID{})
		b, m := BeginSized(b)
		b = AppendInt64(b, 7)
		b = EndSized(b, m)
		_ = b
	})
	if allocs != 0 {
		t.Fatalf("encoding allocated %v times per run", allocs)
	}
}

func TestDecodeKnownBytes(t *testing.T) {
	d := NewDecoder([]byte{
		0xfe,       // int8 -2
		0xff, 0xfe, // int16 -2
		0, 0, 1, 0, // int32 256
		0xac, 0x02, // uvarint 300
		0x7f,        // varint -64
		3, 'a', 'b', // compact string "ab"
		0xff, 0xff, // null string
		0,          // compact null bytes
		0, 0, 0, 0, // empty bytes
		2,    // compact array of 1
		0x01, // bool true
	})
	if v := d.Int8(); v != -2 {
		t.Errorf("int8 %d", v)
	}
	if v := d.Int16(); v != -2 {
		t.Errorf("int16 %d", v)
	}
	if v := d.Int32(); v != 256 {
		t.Errorf("int32 %d", v)
	}
	if v := d.Uvarint(); v != 300 {
		t.Errorf("uvarint %d", v)
	}
	if v := d.Varint(); v != -64 {
		t.Errorf("varint %d", v)
	}
	if v := d.String(true); v != "ab" {
		t.Errorf("string %q", v)
	}
	if v := d.NullableString(false); v != nil {
		t.Errorf("nullable string %q", *v)
	}
	if v := d.NullableBytes(true); v != nil {
		t.Errorf("nullable bytes %v", v)
	}
	if v := d.Bytes(false); v == nil || len(v) != 0 {
		t.Errorf("empty bytes must be non-nil and empty: %v", v)
	}
	if v := d.ArrayLen(true, 1); v != 1 {
		t.Errorf("array len %d", v)
	}
	if v := d.Bool(); !v {
		t.Errorf("bool false")
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
}

// TestDecodeErrors checks that every malformed input latches the right error, returns zero
// values and never panics.
func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		read func(d *Decoder)
		want error
	}{
		{"short int8", nil, func(d *Decoder) { d.Int8() }, ErrShortBuffer},
		{"short int16", []byte{1}, func(d *Decoder) { d.Int16() }, ErrShortBuffer},
		{"short int32", []byte{1, 2, 3}, func(d *Decoder) { d.Int32() }, ErrShortBuffer},
		{"short int64", []byte{1, 2, 3}, func(d *Decoder) { d.Int64() }, ErrShortBuffer},
		{"short uint16", []byte{1}, func(d *Decoder) { d.Uint16() }, ErrShortBuffer},
		{"short uint32", []byte{1}, func(d *Decoder) { d.Uint32() }, ErrShortBuffer},
		{"short float64", []byte{1}, func(d *Decoder) { d.Float64() }, ErrShortBuffer},
		{"short bool", nil, func(d *Decoder) { d.Bool() }, ErrShortBuffer},
		{"short uuid", make([]byte, 15), func(d *Decoder) { d.UUID() }, ErrShortBuffer},
		{"short uvarint", []byte{0x80}, func(d *Decoder) { d.Uvarint() }, ErrShortBuffer},
		{"long uvarint", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0}, func(d *Decoder) { d.Uvarint() }, ErrVarintOverflow},
		{"uvarint over 32 bits", []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, func(d *Decoder) { d.Uvarint() }, ErrVarintOverflow},
		{"varint over 32 bits", []byte{0xff, 0xff, 0xff, 0xff, 0x7f}, func(d *Decoder) { d.Varint() }, ErrVarintOverflow},
		{"long varlong", bytes.Repeat([]byte{0x80}, 11), func(d *Decoder) { d.Varlong() }, ErrVarintOverflow},
		{"string too long", []byte{0, 5, 'a'}, func(d *Decoder) { d.String(false) }, ErrInvalidLength},
		{"compact string too long", []byte{9, 'a'}, func(d *Decoder) { d.String(true) }, ErrInvalidLength},
		{"string length -2", []byte{0xff, 0xfe}, func(d *Decoder) { d.String(false) }, ErrInvalidLength},
		{"null string", []byte{0xff, 0xff}, func(d *Decoder) { d.String(false) }, ErrUnexpectedNull},
		{"compact null string", []byte{0}, func(d *Decoder) { d.String(true) }, ErrUnexpectedNull},
		{"nullable string too long", []byte{0, 1}, func(d *Decoder) { d.NullableString(false) }, ErrInvalidLength},
		{"bytes too long", []byte{0x7f, 0xff, 0xff, 0xff}, func(d *Decoder) { d.Bytes(false) }, ErrInvalidLength},
		{"bytes length -5", []byte{0xff, 0xff, 0xff, 0xfb}, func(d *Decoder) { d.NullableBytes(false) }, ErrInvalidLength},
		{"null bytes", []byte{0xff, 0xff, 0xff, 0xff}, func(d *Decoder) { d.Bytes(false) }, ErrUnexpectedNull},
		{"compact bytes too long", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, func(d *Decoder) { d.NullableBytes(true) }, ErrInvalidLength},
		{"array count beyond input", []byte{0x7f, 0xff, 0xff, 0xff, 0}, func(d *Decoder) { d.ArrayLen(false, 1) }, ErrInvalidLength},
		{"array count times min size", []byte{0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, func(d *Decoder) { d.ArrayLen(false, 4) }, ErrInvalidLength},
		{"compact array count beyond input", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, func(d *Decoder) { d.ArrayLen(true, 1) }, ErrInvalidLength},
		{"array count -2", []byte{0xff, 0xff, 0xff, 0xfe}, func(d *Decoder) { d.ArrayLen(false, 1) }, ErrInvalidLength},
		{"tag count beyond input", []byte{5, 0, 0}, func(d *Decoder) { d.TagCount() }, ErrInvalidLength},
		{"tag size beyond input", []byte{0, 5, 1}, func(d *Decoder) { d.Tag() }, ErrInvalidLength},
		{"raw negative", nil, func(d *Decoder) { d.Raw(-1) }, ErrInvalidLength},
		{"raw short", []byte{1}, func(d *Decoder) { d.Raw(2) }, ErrShortBuffer},
		{"trailing", []byte{1, 2}, func(d *Decoder) { d.Int8(); d.Finish() }, ErrTrailingBytes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(c.in)
			c.read(d)
			if !errors.Is(d.Err(), c.want) {
				t.Fatalf("got error %v, want %v", d.Err(), c.want)
			}
			// The error is sticky: later reads return zero values and keep the first error.
			first := d.Err()
			if d.Int32() != 0 || d.String(true) != "" || d.Bytes(false) != nil || d.ArrayLen(false, 1) != 0 || d.Remaining() != 0 {
				t.Fatal("read after error returned a non-zero value")
			}
			if d.Err() != first {
				t.Fatalf("error changed from %v to %v", first, d.Err())
			}
		})
	}
}

func TestDecoderReset(t *testing.T) {
	var d Decoder
	d.Int8()
	if d.Err() == nil {
		t.Fatal("zero Decoder read a byte from nothing")
	}
	d.Reset([]byte{7})
	if v := d.Int8(); v != 7 || d.Err() != nil {
		t.Fatalf("after Reset: %d, %v", v, d.Err())
	}
	d.Fail(ErrUnexpectedNull)
	d.Fail(ErrShortBuffer)
	if !errors.Is(d.Err(), ErrUnexpectedNull) {
		t.Fatalf("Fail did not keep the first error: %v", d.Err())
	}
}

func TestSizedPrefix(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		dst := []byte{0xaa}
		dst, m := BeginSized(dst)
		body := bytes.Repeat([]byte{0x5a}, n)
		dst = append(dst, body...)
		dst = EndSized(dst, m)
		d := NewDecoder(dst[1:])
		if got := d.Uvarint(); int(got) != n {
			t.Fatalf("size %d: prefix says %d", n, got)
		}
		if got := d.Raw(n); !bytes.Equal(got, body) || d.Finish() != nil || dst[0] != 0xaa {
			t.Fatalf("size %d: body corrupted (%v)", n, d.Err())
		}
	}
}

func TestTags(t *testing.T) {
	tags := Tags{{Tag: 1, Data: []byte{1}}, {Tag: 5, Data: []byte{5, 5}}, {Tag: 200, Data: nil}}
	// A known tag 3 is written between the unknown ones, keeping ascending order.
	dst := AppendUvarint(nil, uint32(len(tags)+1))
	dst, i := tags.AppendBefore(dst, 0, 3)
	dst = AppendUvarint(dst, 3)
	dst = AppendUvarint(dst, 1)
	dst = append(dst, 3)
	dst = tags.AppendRest(dst, i)
	d := NewDecoder(dst)
	var order []uint32
	for n := d.TagCount(); n > 0; n-- {
		tag, _ := d.Tag()
		order = append(order, tag)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if want := []uint32{1, 3, 5, 200}; !equalU32(order, want) {
		t.Fatalf("tag order %v, want %v", order, want)
	}
	// SkipTags keeps them all.
	d.Reset(tags.AppendTagSection(nil))
	got := d.SkipTags(nil)
	if d.Finish() != nil || len(got) != 3 || got[2].Tag != 200 || !bytes.Equal(got[1].Data, []byte{5, 5}) {
		t.Fatalf("SkipTags: %v %v", got, d.Err())
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUUIDString(t *testing.T) {
	u := UUID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	if got := u.String(); got != "01234567-89ab-cdef-0123-456789abcdef" {
		t.Fatal(got)
	}
	if u.IsZero() || !(UUID{}).IsZero() {
		t.Fatal("IsZero wrong")
	}
}

func TestHeaders(t *testing.T) {
	client := "troupe"
	for hv := int16(0); hv <= 2; hv++ {
		h := RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 99, ClientID: &client}
		b := h.AppendTo(nil, hv)
		var got RequestHeader
		d := NewDecoder(b)
		got.ReadFrom(d, hv)
		if err := d.Finish(); err != nil {
			t.Fatalf("v%d: %v", hv, err)
		}
		if got.APIKey != 3 || got.APIVersion != 12 || got.CorrelationID != 99 {
			t.Fatalf("v%d: %+v", hv, got)
		}
		if (hv >= 1) != (got.ClientID != nil && *got.ClientID == client) {
			t.Fatalf("v%d: client id %v", hv, got.ClientID)
		}
	}
	// Header v2 keeps the client ID as a classic (non-compact) string.
	b := (&RequestHeader{ClientID: &client}).AppendTo(nil, 2)
	if want := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 't', 'r', 'o', 'u', 'p', 'e', 0}; !bytes.Equal(b, want) {
		t.Fatalf("header v2 % x", b)
	}
	for hv := int16(0); hv <= 1; hv++ {
		h := ResponseHeader{CorrelationID: -7, UnknownTags: Tags{{Tag: 4, Data: []byte{1}}}}
		b := h.AppendTo(nil, hv)
		if len(b) != map[int16]int{0: 4, 1: 8}[hv] {
			t.Fatalf("response header v%d: % x", hv, b)
		}
		var got ResponseHeader
		d := NewDecoder(b)
		got.ReadFrom(d, hv)
		if d.Finish() != nil || got.CorrelationID != -7 || (hv == 1) != (len(got.UnknownTags) == 1) {
			t.Fatalf("response header v%d: %+v %v", hv, got, d.Err())
		}
	}
}
