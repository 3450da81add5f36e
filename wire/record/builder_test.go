package record

import (
	"crypto/rand"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// TestSizeBoundsSealedBatch: Size (and SizeWith before each Append) must bound the sealed
// size for every codec, including random bytes, which no codec can shrink.
func TestSizeBoundsSealedBatch(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		codec := rapid.SampledFrom(codecs).Draw(t, "codec")
		b := NewBuilder(mustCompressor(t, codec))
		n := rapid.IntRange(1, 30).Draw(t, "records")
		incompressible := rapid.Bool().Draw(t, "random bytes")
		for i := range n {
			v := make([]byte, rapid.IntRange(0, 20000).Draw(t, "value size"))
			if incompressible {
				rand.Read(v)
			}
			r := troupe.Record{Value: v, Headers: genHeaders(t, "headers")}
			before := b.SizeWith(&r)
			b.Append(&r)
			if b.Size() != before {
				t.Fatalf("record %d: SizeWith %d, Size after Append %d", i, before, b.Size())
			}
		}
		bound := b.Size()
		raw, err := b.Seal(NoProducer())
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > bound {
			t.Fatalf("%s: sealed %d bytes, Size promised at most %d", codec, len(raw), bound)
		}
		if codec == None && len(raw) != bound {
			t.Fatalf("uncompressed: sealed %d bytes, Size %d", len(raw), bound)
		}
	})
}

// TestEncodedLenIsWhatAppendAdds: a producer sizes records with EncodedLen and
// TimestampMillis before it encodes them, and takes storage of that size; the two must
// agree with Append to the byte, for any keys, values, headers and timestamps (zero,
// before the first record's, far after it).
func TestEncodedLenIsWhatAppendAdds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs := genRecords(t)
		b := NewBuilder(nil)
		sum, firstTS := b.Size(), int64(0)
		for i := range recs {
			r := &recs[i]
			if i == 0 {
				firstTS = TimestampMillis(r)
			}
			sum += EncodedLen(r, int32(i), firstTS)
			b.Append(r)
			if b.Size() != sum {
				t.Fatalf("record %d: Size %d after Append, EncodedLen summed to %d", i, b.Size(), sum)
			}
		}
	})
}

func TestCompressorLevels(t *testing.T) {
	ok := []Compression{
		{None, 0}, {Gzip, 0}, {Gzip, 1}, {Gzip, 9}, {Snappy, 0}, {Snappy, 1},
		{LZ4, 0}, {LZ4, 1}, {LZ4, 9}, {Zstd, 0}, {Zstd, 1}, {Zstd, 3}, {Zstd, 7}, {Zstd, 22},
	}
	for _, c := range ok {
		z, err := NewCompressor(c)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if z.Compression() != c {
			t.Fatalf("Compression() = %+v", z.Compression())
		}
		recs := sampleRecords()
		b := NewBuilder(z)
		for i := range recs {
			b.Append(&recs[i])
		}
		raw, err := b.Seal(NoProducer())
		if err != nil {
			t.Fatal(err)
		}
		if _, got, _ := scanAll(t, raw, "t", 0); len(got) != len(recs) {
			t.Fatalf("%+v: %d records", c, len(got))
		}
	}
	bad := []Compression{{None, 1}, {Gzip, -1}, {Gzip, 10}, {Snappy, 2}, {LZ4, 10}, {Zstd, -1}, {Zstd, 23}, {Codec(5), 0}, {Codec(-1), 0}}
	for _, c := range bad {
		if _, err := NewCompressor(c); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestSnappyXerialManyChunks decodes a large records section in the Java client's xerial
// framing, which splits it into 32 KiB chunks.
func TestSnappyXerialManyChunks(t *testing.T) {
	recs := make([]troupe.Record, 300)
	for i := range recs {
		recs[i].Value = make([]byte, 1000)
		recs[i].Timestamp = time.UnixMilli(1e12) // withRecords' base timestamp
		rand.Read(recs[i].Value[:500])
	}
	plain := build(t, None, NoProducer(), recs)
	framed := refCompress(t, Snappy, true, plain[headerSize:])
	raw := withRecords(Attributes(Snappy), int32(len(recs)), framed)
	_, got, _ := scanAll(t, raw, "t", 0)
	if len(got) != len(recs) {
		t.Fatalf("%d records", len(got))
	}
	for i := range recs {
		if err := sameRecord(&recs[i], &got[i]); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

func TestControlKey(t *testing.T) {
	for _, typ := range []ControlType{ControlAbort, ControlCommit} {
		k := kmsg.ControlRecordKey{Version: 0, Type: kmsg.ControlRecordKeyType(typ)}
		got, err := ParseControlKey(k.AppendTo(nil))
		if err != nil || got.Type != typ || got.Version != 0 {
			t.Fatalf("%v: %+v %v", typ, got, err)
		}
	}
	if _, err := ParseControlKey([]byte{0, 0, 1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short key: %v", err)
	}
}

func TestAppendRefusesOversizedBatch(t *testing.T) {
	if math.MaxInt == math.MaxInt32 {
		t.Skip("needs 64-bit ints")
	}
	b := NewBuilder(nil)
	// White box: make recordsLen report almost 2 GiB without allocating them.
	b.start = headerSize - (math.MaxInt32 - 100)
	r := troupe.Record{Value: make([]byte, 100)}
	b.Append(&r)
	if _, err := b.Seal(NoProducer()); err == nil {
		t.Fatal("Seal accepted a batch past 2 GiB")
	}
}
