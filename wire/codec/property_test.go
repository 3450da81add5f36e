package codec

import (
	"bytes"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// value is one primitive with its encoder and a decoder that checks it.
type value struct {
	enc   func([]byte) []byte
	check func(*Decoder) error
}

func genValue(t *rapid.T) value {
	compact := rapid.Bool().Draw(t, "compact")
	switch rapid.IntRange(0, 14).Draw(t, "kind") {
	case 0:
		v := rapid.Int8().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendInt8(b, v) }, eq(v, (*Decoder).Int8)}
	case 1:
		v := rapid.Int16().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendInt16(b, v) }, eq(v, (*Decoder).Int16)}
	case 2:
		v := rapid.Int32().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendInt32(b, v) }, eq(v, (*Decoder).Int32)}
	case 3:
		v := rapid.Int64().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendInt64(b, v) }, eq(v, (*Decoder).Int64)}
	case 4:
		v := rapid.Uint16().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendUint16(b, v) }, eq(v, (*Decoder).Uint16)}
	case 5:
		v := rapid.Uint32().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendUint32(b, v) }, eq(v, (*Decoder).Uint32)}
	case 6:
		v := rapid.Uint32().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendUvarint(b, v) }, eq(v, (*Decoder).Uvarint)}
	case 7:
		v := rapid.Int32().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendVarint(b, v) }, eq(v, (*Decoder).Varint)}
	case 8:
		v := rapid.Int64().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendVarlong(b, v) }, eq(v, (*Decoder).Varlong)}
	case 9:
		v := rapid.Bool().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendBool(b, v) }, eq(v, (*Decoder).Bool)}
	case 10:
		v := rapid.Float64().Draw(t, "v")
		return value{func(b []byte) []byte { return AppendFloat64(b, v) }, func(d *Decoder) error {
			if got := d.Float64(); got != v && !(got != got && v != v) {
				return fmt.Errorf("float64 %v != %v", got, v)
			}
			return nil
		}}
	case 11:
		s := rapid.Ptr(rapid.String(), true).Draw(t, "s")
		return value{func(b []byte) []byte { return AppendNullableString(b, s, compact) }, func(d *Decoder) error {
			got := d.NullableString(compact)
			if (got == nil) != (s == nil) || (got != nil && *got != *s) {
				return fmt.Errorf("nullable string %v != %v", got, s)
			}
			return nil
		}}
	case 12:
		v := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "v")
		if rapid.Bool().Draw(t, "null") {
			v = nil
		}
		return value{func(b []byte) []byte { return AppendNullableBytes(b, v, compact) }, func(d *Decoder) error {
			got := d.NullableBytes(compact)
			if (got == nil) != (v == nil) || !bytes.Equal(got, v) {
				return fmt.Errorf("nullable bytes %v != %v", got, v)
			}
			return nil
		}}
	case 13:
		var u UUID
		copy(u[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "u"))
		return value{func(b []byte) []byte { return AppendUUID(b, u) }, eq(u, (*Decoder).UUID)}
	default:
		s := rapid.String().Draw(t, "s")
		return value{func(b []byte) []byte { return AppendString(b, s, compact) }, func(d *Decoder) error {
			if got := d.String(compact); got != s {
				return fmt.Errorf("string %q != %q", got, s)
			}
			return nil
		}}
	}
}

func eq[V comparable](want V, read func(*Decoder) V) func(*Decoder) error {
	return func(d *Decoder) error {
		if got := read(d); got != want {
			return fmt.Errorf("decoded %v, encoded %v", got, want)
		}
		return nil
	}
}

// TestRoundTripProperty encodes a random sequence of primitives into one buffer and decodes
// it back in order.
func TestRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		vals := rapid.SliceOfN(rapid.Custom(genValue), 0, 30).Draw(rt, "values")
		var buf []byte
		for _, v := range vals {
			buf = v.enc(buf)
		}
		d := NewDecoder(buf)
		for _, v := range vals {
			if err := v.check(d); err != nil {
				rt.Fatal(err)
			}
		}
		if err := d.Finish(); err != nil {
			rt.Fatal(err)
		}
	})
}

// TestTruncationProperty checks that any strict prefix of an encoding fails to decode
// rather than decoding garbage or panicking.
func TestTruncationProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		v := genValue(rt)
		buf := v.enc(nil)
		cut := rapid.IntRange(0, len(buf)-1).Draw(rt, "cut")
		d := NewDecoder(buf[:cut])
		_ = v.check(d) // the value read is garbage; only the latched error matters
		if d.Err() == nil {
			rt.Fatalf("prefix %d of %d bytes decoded without error", cut, len(buf))
		}
	})
}
