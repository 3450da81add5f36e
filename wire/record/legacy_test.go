package record

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// legacyMsg0 encodes a magic 0 message with kmsg, size and CRC filled in.
func legacyMsg0(offset int64, attrs int8, key, value []byte) []byte {
	m := kmsg.MessageV0{Offset: offset, Attributes: attrs, Key: key, Value: value}
	return sealLegacy(m.AppendTo(nil))
}

// legacyMsg1 encodes a magic 1 message with kmsg, size and CRC filled in.
func legacyMsg1(offset int64, attrs int8, ts int64, key, value []byte) []byte {
	m := kmsg.MessageV1{Offset: offset, Magic: 1, Attributes: attrs, Timestamp: ts, Key: key, Value: value}
	return sealLegacy(m.AppendTo(nil))
}

func sealLegacy(raw []byte) []byte {
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[12:], crc32.ChecksumIEEE(raw[16:]))
	return raw
}

func TestLegacyPlainMessages(t *testing.T) {
	var in []byte
	in = append(in, legacyMsg0(10, 0, nil, []byte("v0 null key"))...)
	in = append(in, legacyMsg0(11, 0, []byte{}, nil)...)
	in = append(in, legacyMsg1(12, 0, 1_600_000_000_000, []byte("k"), []byte("v1"))...)
	in = append(in, legacyMsg1(13, 0x08, 1_600_000_000_001, []byte("k"), []byte("append time"))...)
	v2 := build(t, None, NoProducer(), sampleRecords()[:1])
	binary.BigEndian.PutUint64(v2, 14) // a later segment in the current format
	in = append(in, v2...)

	batches, recs, tail := scanAll(t, in, "old", 2)
	if tail.Truncated() || len(batches) != 5 || len(recs) != 5 {
		t.Fatalf("%d batches, %d records, tail %+v", len(batches), len(recs), tail)
	}
	for i, r := range recs {
		if r.Offset != int64(10+i) || r.Topic != "old" || r.Partition != 2 || r.LeaderEpoch != -1 {
			t.Errorf("record %d: %s/%d@%d epoch %d", i, r.Topic, r.Partition, r.Offset, r.LeaderEpoch)
		}
		if batches[i].NextOffset() != int64(11+i) {
			t.Errorf("batch %d next offset %d", i, batches[i].NextOffset())
		}
	}
	if recs[0].Key != nil || string(recs[0].Value) != "v0 null key" || !recs[0].Timestamp.IsZero() {
		t.Errorf("record 0: %+v", recs[0])
	}
	if recs[1].Key == nil || len(recs[1].Key) != 0 || recs[1].Value != nil {
		t.Errorf("record 1: %+v", recs[1])
	}
	if recs[2].Timestamp.UnixMilli() != 1_600_000_000_000 || string(recs[2].Value) != "v1" {
		t.Errorf("record 2: %+v", recs[2])
	}
	if batches[0].Magic != 0 || batches[2].Magic != 1 || !batches[3].Attributes.LogAppendTime() || batches[0].ProducerID != -1 {
		t.Errorf("legacy batch fields: %+v %+v", batches[0], batches[3])
	}
}

func TestLegacyCompressedWrappers(t *testing.T) {
	type inner struct {
		ts    int64
		value string
	}
	inners := []inner{{100, "a"}, {200, "b"}, {150, "c"}}
	for _, tc := range []struct {
		magic     int8
		codec     Codec
		xerial    bool
		logAppend bool
	}{
		{0, Gzip, false, false}, {0, Snappy, true, false},
		{1, Gzip, false, false}, {1, Snappy, true, false}, {1, Snappy, false, false},
		{1, LZ4, false, false}, {1, Gzip, false, true},
	} {
		var set []byte
		for i, m := range inners {
			if tc.magic == 0 {
				set = append(set, legacyMsg0(500+int64(i), 0, nil, []byte(m.value))...) // absolute
			} else {
				set = append(set, legacyMsg1(int64(i), 0, m.ts, nil, []byte(m.value))...) // relative
			}
		}
		value := refCompress(t, tc.codec, tc.xerial, set)
		var wrapper []byte
		if tc.magic == 0 {
			wrapper = legacyMsg0(502, int8(tc.codec), nil, value)
		} else {
			attrs := int8(tc.codec)
			if tc.logAppend {
				attrs |= 0x08
			}
			wrapper = legacyMsg1(502, attrs, 999, nil, value)
		}
		batches, recs, _ := scanAll(t, wrapper, "t", 0)
		if len(batches) != 1 || batches[0].NextOffset() != 503 || len(recs) != 3 {
			t.Fatalf("%+v: %d batches, %d records", tc, len(batches), len(recs))
		}
		for i, r := range recs {
			if r.Offset != 500+int64(i) || string(r.Value) != inners[i].value {
				t.Errorf("%+v record %d: offset %d value %q", tc, i, r.Offset, r.Value)
			}
			want := inners[i].ts
			if tc.logAppend {
				want = 999
			}
			if tc.magic == 0 {
				if !r.Timestamp.IsZero() {
					t.Errorf("%+v record %d: magic 0 timestamp %v", tc, i, r.Timestamp)
				}
			} else if r.Timestamp.UnixMilli() != want {
				t.Errorf("%+v record %d: timestamp %d, want %d", tc, i, r.Timestamp.UnixMilli(), want)
			}
		}
	}
}

func TestLegacyErrors(t *testing.T) {
	good := legacyMsg1(1, 0, 5, []byte("k"), []byte("v"))
	bad := patch(good, len(good)-1, 'w')
	var s Scanner
	s.Reset(bad)
	if s.Next() || !errors.Is(s.Err(), ErrChecksum) {
		t.Fatalf("bad CRC: %v", s.Err())
	}

	// A wrapper holding a compressed message: nested compression is not allowed.
	nested := legacyMsg1(0, int8(Gzip), 5, nil, refCompress(t, Gzip, false, good))
	outer := legacyMsg1(0, int8(Gzip), 5, nil, refCompress(t, Gzip, false, nested))
	s.Reset(outer)
	if !s.Next() {
		t.Fatal(s.Err())
	}
	var d Decoder
	if _, err := d.Decode(nil, s.Batch(), "t", 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("nested compression: %v", err)
	}

	// Length fields that lie, inside a well-checksummed message.
	lying := sealLegacy(append(legacyMsg1(0, 0, 5, nil, nil)[:26], 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff))
	s.Reset(lying)
	if s.Next() || !errors.Is(s.Err(), ErrCorrupt) {
		t.Fatalf("lying key length: %v", s.Err())
	}

	// Truncation inside a legacy message is a tail like any other.
	s.Reset(good[:len(good)-2])
	if s.Next() || s.Err() != nil || s.Tail().Need != len(good) {
		t.Fatalf("cut legacy message: %v %+v", s.Err(), s.Tail())
	}
}
