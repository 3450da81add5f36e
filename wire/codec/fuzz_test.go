package codec

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecoder runs a little program of reads over arbitrary input: the first byte says how
// many of the following bytes are opcodes, the rest is the input. Whatever the bytes, no read
// may panic, an error once latched must stay, and no successful read may consume more input
// than exists.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte{3, 14, 2, 12, 0, 2, 'h', 'i', 0, 0, 0, 0})
	f.Add([]byte{2, 15, 16, 3, 1, 2})
	f.Add(append([]byte{4, 17, 18, 18, 8}, (&RequestHeader{APIKey: 18, ClientID: new(string)}).AppendTo(nil, 2)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		nops := min(int(data[0]), len(data)-1)
		ops, input := data[1:1+nops], data[1+nops:]
		d := NewDecoder(input)
		var latched error
		for _, op := range ops {
			before := d.Remaining()
			switch op % 20 {
			case 0:
				d.Int8()
			case 1:
				d.Int16()
			case 2:
				d.Int32()
			case 3:
				d.Int64()
			case 4:
				d.Uint16()
			case 5:
				d.Uint32()
			case 6:
				d.Float64()
			case 7:
				d.Bool()
			case 8:
				d.UUID()
			case 9:
				d.Uvarint()
			case 10:
				d.Varint()
			case 11:
				d.Varlong()
			case 12:
				d.String(op >= 100)
			case 13:
				d.NullableString(op >= 100)
			case 14:
				d.Bytes(op >= 100)
			case 15:
				if b := d.NullableBytes(op >= 100); len(b) > before {
					t.Fatal("bytes longer than the input")
				}
			case 16:
				if n := d.ArrayLen(op >= 100, int(op%7)); n > before {
					t.Fatalf("array count %d with %d bytes left", n, before)
				}
			case 17:
				if n := d.TagCount(); 2*n > before {
					t.Fatalf("tag count %d with %d bytes left", n, before)
				}
			case 18:
				var h RequestHeader
				h.ReadFrom(d, int16(op%3))
			case 19:
				var h ResponseHeader
				h.ReadFrom(d, int16(op%2))
			}
			if latched != nil && d.Err() != latched {
				t.Fatalf("latched error %v replaced by %v", latched, d.Err())
			}
			latched = d.Err()
			if d.Remaining() > before || d.Offset() > len(input) {
				t.Fatal("decoder moved backwards or past its input")
			}
		}
	})
}

// FuzzReadFrame checks that framing never panics, never returns more than the maximum, and
// reports oversized frames as ErrFrameTooLarge.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 1, 2}, 16)
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, 16)
	f.Fuzz(func(t *testing.T, data []byte, maxSize int) {
		if maxSize < 0 || maxSize > 1<<16 {
			return
		}
		body, err := ReadFrame(bytes.NewReader(data), nil, maxSize)
		if err == nil && len(body) > maxSize {
			t.Fatalf("frame of %d bytes above maximum %d", len(body), maxSize)
		}
		if len(data) >= 4 && int(int32(uint32(data[0])<<24|uint32(data[1])<<16|uint32(data[2])<<8|uint32(data[3]))) > maxSize && !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("oversized frame not rejected: %v", err)
		}
	})
}
