package record

import (
	"encoding/binary"
	"math"
	"testing"

	"pgregory.net/rapid"
)

// TestVarintsMatchProtobuf: the encodings are the zig-zag varints encoding/binary writes,
// lengths are predicted exactly, and decoding inverts them.
func TestVarintsMatchProtobuf(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := rapid.Int64().Draw(t, "v")
		var ref [binary.MaxVarintLen64]byte
		n := binary.PutVarint(ref[:], v)
		var got [10]byte
		if m := putUvarint(got[:], zigzag64(v)); m != n || string(got[:m]) != string(ref[:n]) || varlongLen(v) != n {
			t.Fatalf("varlong %d: % x, want % x", v, got[:m], ref[:n])
		}
		if back, m := readVarlong(ref[:n]); m != n || back != v {
			t.Fatalf("readVarlong(% x) = %d, %d", ref[:n], back, m)
		}
		v32 := int32(v)
		n = binary.PutVarint(ref[:], int64(v32))
		if varintLen(v32) != n {
			t.Fatalf("varintLen(%d) = %d, want %d", v32, varintLen(v32), n)
		}
		if back, m := readVarint(ref[:n]); m != n || back != v32 {
			t.Fatalf("readVarint(% x) = %d, %d", ref[:n], back, m)
		}
		if _, m := readVarint(ref[:n-1]); m != 0 {
			t.Fatalf("readVarint of a cut varint read %d bytes", m)
		}
	})
}

func TestVarintRejects(t *testing.T) {
	var b [11]byte
	n := binary.PutUvarint(b[:], math.MaxUint32+1) // needs 33 bits
	if _, m := readVarint(b[:n]); m != 0 {
		t.Error("33-bit varint accepted")
	}
	if _, m := readVarint([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}); m != 0 {
		t.Error("6-byte varint accepted")
	}
	if _, m := readVarlong([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}); m != 0 {
		t.Error("65-bit varlong accepted")
	}
	if v, m := readVarint([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}); m != 5 || v != math.MinInt32 {
		t.Errorf("largest varint: %d, %d", v, m)
	}
}
