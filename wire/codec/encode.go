package codec

import (
	"encoding/binary"
	"math"
)

// AppendInt8 appends v.
func AppendInt8(dst []byte, v int8) []byte { return append(dst, byte(v)) }

// AppendInt16 appends v big-endian.
func AppendInt16(dst []byte, v int16) []byte { return binary.BigEndian.AppendUint16(dst, uint16(v)) }

// AppendInt32 appends v big-endian.
func AppendInt32(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }

// AppendInt64 appends v big-endian.
func AppendInt64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

// AppendUint16 appends v big-endian.
func AppendUint16(dst []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(dst, v) }

// AppendUint32 appends v big-endian.
func AppendUint32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }

// AppendFloat64 appends the IEEE 754 bits of v big-endian.
func AppendFloat64(dst []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
}

// AppendBool appends 1 for true and 0 for false.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendUvarint appends v as an unsigned varint (7 bits a byte, low bits first).
func AppendUvarint(dst []byte, v uint32) []byte { return binary.AppendUvarint(dst, uint64(v)) }

// AppendVarint appends v zigzag-encoded as a varint, as record batches do.
func AppendVarint(dst []byte, v int32) []byte { return binary.AppendVarint(dst, int64(v)) }

// AppendVarlong appends v zigzag-encoded as a varint of up to 64 bits.
func AppendVarlong(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

// AppendUUID appends the 16 bytes of u.
func AppendUUID(dst []byte, u UUID) []byte { return append(dst, u[:]...) }

// AppendArrayLen appends the length prefix of an array of n elements: int32 in the classic
// encoding, unsigned varint n+1 in the compact one.
func AppendArrayLen(dst []byte, n int, compact bool) []byte {
	if compact {
		return AppendUvarint(dst, uint32(n)+1)
	}
	return AppendInt32(dst, int32(n))
}

// AppendNullArrayLen appends the length prefix of a null array: int32 -1 in the classic
// encoding, varint 0 in the compact one.
func AppendNullArrayLen(dst []byte, compact bool) []byte {
	if compact {
		return append(dst, 0)
	}
	return AppendInt32(dst, -1)
}

// AppendString appends s with an int16 length prefix, or with a compact length prefix when
// compact is set.
func AppendString(dst []byte, s string, compact bool) []byte {
	if compact {
		dst = AppendUvarint(dst, uint32(len(s))+1)
	} else {
		dst = AppendInt16(dst, int16(len(s)))
	}
	return append(dst, s...)
}

// AppendNullableString appends *s like [AppendString], or a null (length -1, or compact 0)
// when s is nil.
func AppendNullableString(dst []byte, s *string, compact bool) []byte {
	if s != nil {
		return AppendString(dst, *s, compact)
	}
	if compact {
		return append(dst, 0)
	}
	return AppendInt16(dst, -1)
}

// AppendBytes appends b with an int32 length prefix, or with a compact length prefix when
// compact is set. A nil b is written as empty, not null.
func AppendBytes(dst []byte, b []byte, compact bool) []byte {
	if compact {
		dst = AppendUvarint(dst, uint32(len(b))+1)
	} else {
		dst = AppendInt32(dst, int32(len(b)))
	}
	return append(dst, b...)
}

// AppendNullableBytes appends b like [AppendBytes], except that a nil b is written as null.
func AppendNullableBytes(dst []byte, b []byte, compact bool) []byte {
	if b != nil {
		return AppendBytes(dst, b, compact)
	}
	if compact {
		return append(dst, 0)
	}
	return AppendInt32(dst, -1)
}

// BeginSized reserves room for an unsigned-varint size prefix before a value of unknown
// length, such as a tagged field's data or a frame's body. It returns the extended slice
// and a mark to pass to [EndSized] once the value has been appended.
func BeginSized(dst []byte) ([]byte, int) {
	return append(dst, 0), len(dst)
}

// EndSized writes the size of everything appended since the matching [BeginSized] as an
// unsigned varint in front of it, moving the value when the size needs more than one byte.
func EndSized(dst []byte, mark int) []byte {
	size := len(dst) - mark - 1
	if size < 0x80 {
		dst[mark] = byte(size)
		return dst
	}
	var prefix [binary.MaxVarintLen32]byte
	n := binary.PutUvarint(prefix[:], uint64(size))
	dst = append(dst, prefix[:n-1]...) // grow by the extra prefix bytes
	copy(dst[mark+n:], dst[mark+1:mark+1+size])
	copy(dst[mark:], prefix[:n])
	return dst
}
