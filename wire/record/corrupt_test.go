package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/troupe-go/troupe"
)

// withRecords wraps an arbitrary records section in a v2 header with a correct CRC, so
// tests and fuzzers reach the record decoder with bytes of their choosing.
func withRecords(attrs Attributes, count int32, records []byte) []byte {
	raw := make([]byte, headerSize, headerSize+len(records))
	binary.BigEndian.PutUint64(raw[offBaseOffset:], 1000)
	binary.BigEndian.PutUint32(raw[offLength:], uint32(headerSize-lengthPrefix+len(records)))
	binary.BigEndian.PutUint32(raw[offLeaderEpoch:], 5)
	raw[offMagic] = 2
	binary.BigEndian.PutUint16(raw[offAttributes:], uint16(attrs))
	binary.BigEndian.PutUint32(raw[offLastOffsetDelta:], uint32(max(count-1, 0)))
	binary.BigEndian.PutUint64(raw[offBaseTimestamp:], 1e12)
	binary.BigEndian.PutUint64(raw[offMaxTimestamp:], 1e12)
	binary.BigEndian.PutUint64(raw[offProducerID:], ^uint64(0))
	binary.BigEndian.PutUint16(raw[offProducerEpoch:], 0xffff)
	binary.BigEndian.PutUint32(raw[offBaseSequence:], ^uint32(0))
	binary.BigEndian.PutUint32(raw[offRecordCount:], uint32(count))
	raw = append(raw, records...)
	binary.BigEndian.PutUint32(raw[offCRC:], crc32.Checksum(raw[offAttributes:], castagnoli))
	return raw
}

// decodeOne scans raw, which must hold one whole batch, and decodes it into a slice
// holding one sentinel record, which must survive a failed decode untouched.
func decodeOne(t *testing.T, d *Decoder, raw []byte) ([]troupe.Record, error) {
	t.Helper()
	var s Scanner
	s.Reset(raw)
	if !s.Next() {
		t.Fatalf("scan: err %v tail %+v", s.Err(), s.Tail())
	}
	sentinel := []troupe.Record{{Topic: "sentinel"}}
	out, err := d.Decode(sentinel, s.Batch(), "t", 0)
	if err != nil && (len(out) != 1 || out[0].Topic != "sentinel") {
		t.Fatalf("failed decode changed dst: %+v", out)
	}
	return out, err
}

func TestChecksumCoversAttributesToEnd(t *testing.T) {
	for _, codec := range codecs {
		raw := build(t, codec, NoProducer(), sampleRecords())
		var s Scanner
		for i := offCRC; i < len(raw); i++ {
			bad := bytes.Clone(raw)
			bad[i] ^= 0x10
			s.Reset(bad)
			if s.Next() {
				t.Fatalf("%s: flipped byte %d went unnoticed", codec, i)
			}
			if err := s.Err(); !errors.Is(err, ErrChecksum) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%s: flipped byte %d: %v", codec, i, err)
			}
		}
		// The leader epoch is outside the CRC: brokers set it on every batch they store.
		ok := bytes.Clone(raw)
		binary.BigEndian.PutUint32(ok[offLeaderEpoch:], 77)
		if _, recs, _ := scanAll(t, ok, "t", 0); recs[0].LeaderEpoch != 77 {
			t.Fatalf("%s: leader epoch %d", codec, recs[0].LeaderEpoch)
		}
	}
}

func TestCorruptRecordsSection(t *testing.T) {
	good := func() []byte { // one record: key "k", value "v", one header "h":"x"
		r := []byte{0, 0, 0}             // attributes, timestamp delta, offset delta
		r = append(r, 2, 'k', 2, 'v', 2) // key, value, 1 header
		r = append(r, 2, 'h', 2, 'x')    // header
		return append([]byte{byte(2 * len(r))}, r...)
	}
	if _, err := decodeOne(t, new(Decoder), withRecords(0, 1, good())); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	cases := map[string]struct {
		count int32
		data  []byte
	}{
		"count above bytes":           {1 << 30, good()},
		"count one too many":          {2, good()},
		"count one too few":           {0, good()},
		"trailing byte":               {1, append(good(), 0)},
		"negative record length":      {1, append([]byte{1}, good()[1:]...)},
		"record length too long":      {1, append([]byte{byte(good()[0] + 2)}, good()[1:]...)},
		"key length -2":               {1, patch(good(), 4, 3)},
		"key length past record":      {1, patch(good(), 4, 40)},
		"header count huge":           {1, patch(good(), 8, 0x7e)},
		"header count negative":       {1, patch(good(), 8, 3)},
		"null header key":             {1, patch(good(), 9, 1)},
		"varint too long":             {1, append([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, good()[1:]...)},
		"record shorter than a field": {1, []byte{2, 0}},
		"empty record":                {1, []byte{0, 0, 0, 0, 0, 0, 0}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeOne(t, new(Decoder), withRecords(0, c.count, c.data))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v, want ErrCorrupt", err)
			}
		})
	}
}

// patch returns b with b[i] set to v.
func patch(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

func TestScannerRejects(t *testing.T) {
	good := build(t, None, NoProducer(), sampleRecords())
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"negative length":         {setU32(good, offLength, 0xffffffff), ErrCorrupt},
		"length below v0 minimum": {setU32(good, offLength, 3), ErrCorrupt},
		"v2 length below header":  {withMagic(setU32(good[:lengthPrefix+30], offLength, 30), 2), ErrCorrupt},
		"magic 3":                 {withMagic(good, 3), ErrUnsupported},
		"magic 3, cut":            {withMagic(good, 3)[:40], ErrUnsupported},
		"magic -1":                {withMagic(good, 0xff), ErrUnsupported},
		"negative record count":   {withCRC(setU32(good, offRecordCount, 0xffffffff)), ErrCorrupt},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var s Scanner
			s.Reset(c.in)
			if s.Next() {
				t.Fatal("Next accepted it")
			}
			if err := s.Err(); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if s.Tail().Truncated() {
				t.Fatalf("tail %+v alongside an error", s.Tail())
			}
		})
	}
}

func setU32(b []byte, off int, v uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[off:], v)
	return b
}

func withMagic(b []byte, m byte) []byte { return patch(b, offMagic, m) }

func withCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func TestUnknownCodec(t *testing.T) {
	raw := withRecords(5, 1, []byte{1, 2, 3, 4, 5, 6, 7})
	if _, err := decodeOne(t, new(Decoder), raw); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("codec 5: %v", err)
	}
}

// TestDecodeHandMadeBatch: a Batch built by hand rather than by the Scanner must not
// make Decode panic whatever its fields say.
func TestDecodeHandMadeBatch(t *testing.T) {
	var d Decoder
	for _, b := range []Batch{
		{Magic: 2, NumRecords: -1},
		{Magic: 2, NumRecords: 1 << 30, Records: []byte{1, 2, 3}},
		{Magic: 2, NumRecords: 1, Attributes: Attributes(Gzip), Records: []byte{0x1f, 0x8b}},
		{Magic: 1, Records: []byte{1}},
		{Magic: 0},
		{Magic: -1},
		{Magic: 3},
	} {
		if _, err := d.Decode(nil, &b, "t", 0); err == nil {
			t.Errorf("%+v decoded", b)
		}
	}
}
