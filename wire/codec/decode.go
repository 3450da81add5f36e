package codec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Decoder reads Kafka primitives from a byte slice. Its zero value reads from an empty
// input; [NewDecoder] starts it on a slice.
//
// The error is sticky: the first failed read latches it, and every later read returns a
// zero value without touching the input, so a caller decodes a whole message and checks
// [Decoder.Err] once. A Decoder never panics on any input, and checks every length and
// count against the remaining input before allocating anything.
type Decoder struct {
	src []byte
	off int
	err error
}

// NewDecoder returns a Decoder reading src from its start.
func NewDecoder(src []byte) *Decoder { return &Decoder{src: src} }

// Reset makes d read src from its start, clearing any error, so one Decoder can be reused.
func (d *Decoder) Reset(src []byte) { *d = Decoder{src: src} }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail latches err (wrapped with the current offset) unless an error is already latched.
// Generated code uses it to report values that are well-formed bytes but invalid.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = fmt.Errorf("at offset %d: %w", d.off, err)
	}
}

// Remaining returns the number of unread bytes (0 after an error).
func (d *Decoder) Remaining() int {
	if d.err != nil {
		return 0
	}
	return len(d.src) - d.off
}

// Offset returns how many bytes have been read.
func (d *Decoder) Offset() int { return d.off }

// Finish latches [ErrTrailingBytes] if unread bytes remain, and returns the latched error.
func (d *Decoder) Finish() error {
	if d.err == nil && d.off != len(d.src) {
		d.err = fmt.Errorf("%d bytes after offset %d: %w", len(d.src)-d.off, d.off, ErrTrailingBytes)
	}
	return d.err
}

func (d *Decoder) fail(what string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at offset %d: %w", what, d.off, err)
	}
}

// take returns the next n bytes (n >= 0), or nil after latching ErrShortBuffer.
func (d *Decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.src)-d.off {
		d.fail(what, ErrShortBuffer)
		return nil
	}
	b := d.src[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// Raw returns the next n bytes unparsed (aliasing the input).
func (d *Decoder) Raw(n int) []byte {
	if n < 0 {
		d.fail("raw bytes", ErrInvalidLength)
		return nil
	}
	return d.take(n, "raw bytes")
}

// Int8 reads one signed byte.
func (d *Decoder) Int8() int8 {
	if b := d.take(1, "int8"); b != nil {
		return int8(b[0])
	}
	return 0
}

// Int16 reads a big-endian int16.
func (d *Decoder) Int16() int16 {
	if b := d.take(2, "int16"); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

// Int32 reads a big-endian int32.
func (d *Decoder) Int32() int32 {
	if b := d.take(4, "int32"); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

// Int64 reads a big-endian int64.
func (d *Decoder) Int64() int64 {
	if b := d.take(8, "int64"); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// Uint16 reads a big-endian uint16.
func (d *Decoder) Uint16() uint16 {
	if b := d.take(2, "uint16"); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

// Uint32 reads a big-endian uint32.
func (d *Decoder) Uint32() uint32 {
	if b := d.take(4, "uint32"); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// Float64 reads a big-endian IEEE 754 double.
func (d *Decoder) Float64() float64 {
	if b := d.take(8, "float64"); b != nil {
		return math.Float64frombits(binary.BigEndian.Uint64(b))
	}
	return 0
}

// Bool reads one byte; any non-zero value is true, as Kafka reads it.
func (d *Decoder) Bool() bool {
	if b := d.take(1, "bool"); b != nil {
		return b[0] != 0
	}
	return false
}

// UUID reads 16 bytes.
func (d *Decoder) UUID() UUID {
	var u UUID
	if b := d.take(16, "uuid"); b != nil {
		copy(u[:], b)
	}
	return u
}

// uvarint64 reads an unsigned varint of at most maxBytes bytes.
func (d *Decoder) uvarint64(maxBytes int, what string) uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < maxBytes; i++ {
		if d.off >= len(d.src) {
			d.fail(what, ErrShortBuffer)
			return 0
		}
		c := d.src[d.off]
		d.off++
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v
		}
	}
	d.fail(what, ErrVarintOverflow)
	return 0
}

// Uvarint reads an unsigned varint that must fit in 32 bits.
func (d *Decoder) Uvarint() uint32 {
	v := d.uvarint64(binary.MaxVarintLen32, "uvarint")
	if v > math.MaxUint32 {
		d.fail("uvarint", ErrVarintOverflow)
		return 0
	}
	return uint32(v)
}

// Varint reads a zigzag-encoded varint that must fit in 32 bits.
func (d *Decoder) Varint() int32 {
	u := d.uvarint64(binary.MaxVarintLen32, "varint")
	if u > math.MaxUint32 {
		d.fail("varint", ErrVarintOverflow)
		return 0
	}
	return int32(uint32(u)>>1) ^ -int32(u&1)
}

// Varlong reads a zigzag-encoded varint of up to 64 bits.
func (d *Decoder) Varlong() int64 {
	u := d.uvarint64(binary.MaxVarintLen64, "varlong")
	return int64(u>>1) ^ -int64(u&1)
}

// length reads a string, bytes or array length prefix: int16 or int32 in the classic
// encoding (width 2 or 4), or a compact unsigned varint. It returns -1 for a null, and
// latches ErrInvalidLength for any other negative length.
func (d *Decoder) length(compact bool, width int, what string) int {
	var n int64
	switch {
	case compact:
		n = int64(d.Uvarint()) - 1
	case width == 2:
		n = int64(d.Int16())
	default:
		n = int64(d.Int32())
	}
	if d.err != nil {
		return 0
	}
	if n < -1 {
		d.fail(what, ErrInvalidLength)
		return 0
	}
	return int(n)
}

// checkedLen reads a length prefix that announces n bytes of payload.
func (d *Decoder) checkedLen(compact bool, width int, what string) int {
	n := d.length(compact, width, what)
	if n > len(d.src)-d.off {
		d.fail(what, ErrInvalidLength)
		return 0
	}
	return n
}

// String reads a string with an int16 (or, when compact, varint) length prefix. A null is
// an error ([ErrUnexpectedNull]).
func (d *Decoder) String(compact bool) string {
	n := d.checkedLen(compact, 2, "string")
	if n < 0 {
		d.fail("string", ErrUnexpectedNull)
		return ""
	}
	return string(d.take(n, "string"))
}

// NullableString reads a string like [Decoder.String], returning nil for a null.
func (d *Decoder) NullableString(compact bool) *string {
	n := d.checkedLen(compact, 2, "nullable string")
	if n < 0 || d.err != nil {
		return nil
	}
	s := string(d.take(n, "nullable string"))
	return &s
}

// Bytes reads bytes with an int32 (or, when compact, varint) length prefix. A null is an
// error ([ErrUnexpectedNull]). The result aliases the input and is never nil, so an empty
// value stays distinct from a null one.
func (d *Decoder) Bytes(compact bool) []byte {
	n := d.checkedLen(compact, 4, "bytes")
	if n < 0 {
		d.fail("bytes", ErrUnexpectedNull)
		return nil
	}
	return d.take(n, "bytes")
}

// NullableBytes reads bytes like [Decoder.Bytes], returning nil for a null.
func (d *Decoder) NullableBytes(compact bool) []byte {
	n := d.checkedLen(compact, 4, "nullable bytes")
	if n < 0 || d.err != nil {
		return nil
	}
	return d.take(n, "nullable bytes")
}

// ArrayLen reads an array's element count: int32, or a compact varint. It returns -1 for a
// null array, which the caller rejects if the array is not nullable. Every element takes
// at least minElemSize bytes (at least 1 is assumed), so a count that cannot fit in the
// remaining input is rejected with [ErrInvalidLength] before the caller allocates for it.
func (d *Decoder) ArrayLen(compact bool, minElemSize int) int {
	n := d.length(compact, 4, "array length")
	if n <= 0 {
		return n
	}
	if minElemSize < 1 {
		minElemSize = 1
	}
	if int64(n)*int64(minElemSize) > int64(len(d.src)-d.off) {
		d.fail("array length", ErrInvalidLength)
		return 0
	}
	return n
}
