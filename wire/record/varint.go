package record

import "math/bits"

// Records use the zig-zag varints of Protocol Buffers: int32 fields ("varint") take at most
// 5 bytes and int64 fields ("varlong") at most 10. Decoding rejects longer encodings and
// encodings whose value does not fit the field; it never reads past the slice it is given.

// zigzag32 maps a signed value to an unsigned one with small magnitudes near zero.
func zigzag32(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }

// zigzag64 is zigzag32 for 64-bit values.
func zigzag64(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// uvarintLen returns the number of bytes putUvarint writes for u.
func uvarintLen(u uint64) int { return (bits.Len64(u|1) + 6) / 7 }

// varintLen returns the number of bytes v takes as a zig-zag varint.
func varintLen(v int32) int { return uvarintLen(uint64(zigzag32(v))) }

// varlongLen returns the number of bytes v takes as a zig-zag varlong.
func varlongLen(v int64) int { return uvarintLen(zigzag64(v)) }

// putUvarint writes u at the start of w, which must have room for uvarintLen(u) bytes,
// and returns the number of bytes written.
func putUvarint(w []byte, u uint64) int {
	i := 0
	for u >= 0x80 {
		w[i] = byte(u) | 0x80
		u >>= 7
		i++
	}
	w[i] = byte(u)
	return i + 1
}

// readVarint decodes a zig-zag varint from the start of b. It returns the value and the
// number of bytes read, or n == 0 if b ends inside the varint or the encoding is longer
// than 5 bytes or overflows 32 bits. The one-byte case is small enough to be inlined.
func readVarint(b []byte) (v int32, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		return int32(b[0]>>1) ^ -int32(b[0]&1), 1
	}
	return readVarintSlow(b)
}

// readVarintSlow is readVarint for encodings of two bytes or more.
func readVarintSlow(b []byte) (v int32, n int) {
	if len(b) > 1 && b[1] < 0x80 {
		u := uint32(b[0]&0x7f) | uint32(b[1])<<7
		return int32(u>>1) ^ -int32(u&1), 2
	}
	var u uint32
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, 0
		}
		u |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), i + 1
		}
	}
	return 0, 0
}

// readVarlong decodes a zig-zag varlong from the start of b, like readVarint with a limit
// of 10 bytes and 64 bits.
func readVarlong(b []byte) (v int64, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint64(b[0])
		return int64(u>>1) ^ -int64(u&1), 1
	}
	var u uint64
	for i := 0; i < 10 && i < len(b); i++ {
		c := b[i]
		if i == 9 && c > 0x01 {
			return 0, 0
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
	}
	return 0, 0
}
