package record

import (
	"bytes"
	"errors"
	"testing"

	"pgregory.net/rapid"
)

// Records encoded one by one into storage the caller keeps (AppendRecord) and sealed with
// SealRecords are byte for byte the batch a Builder makes of the same records and stamp,
// for every codec, whatever room the caller's buffer starts with; and each append takes
// exactly EncodedLen bytes. Sizing each record first (Size) and appending what it sized
// (AppendSized) writes the same bytes.
func TestSealRecordsIsWhatTheBuilderMakes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		codec := rapid.SampledFrom([]Codec{None, Gzip, Snappy, LZ4, Zstd}).Draw(t, "codec")
		var c *Compressor
		if codec != None {
			c = mustCompressor(t, codec)
		}
		recs := genRecords(t)
		p := Producer{ID: rapid.Int64Range(-1, 1<<40).Draw(t, "id"), Epoch: int16(rapid.IntRange(-1, 100).Draw(t, "epoch")), BaseSequence: int32(rapid.IntRange(-1, 1<<30).Draw(t, "seq"))}
		want := build(t, codec, p, recs)

		buf := make([]byte, BatchHeaderSize, BatchHeaderSize+rapid.IntRange(0, 200).Draw(t, "room"))
		firstTS, maxTS := TimestampMillis(&recs[0]), TimestampMillis(&recs[0])
		sized := rapid.Bool().Draw(t, "sized")
		for i := range recs {
			n := EncodedLen(&recs[i], int32(i), firstTS)
			before := len(buf)
			if sized {
				sz := Size(&recs[i], int32(i), TimestampMillis(&recs[i]), firstTS)
				if sz.Len != n {
					t.Fatalf("record %d: Size says %d bytes, EncodedLen %d", i, sz.Len, n)
				}
				buf = AppendSized(buf, &recs[i], sz)
			} else {
				buf = AppendRecord(buf, &recs[i], int32(i), firstTS)
			}
			if len(buf)-before != n {
				t.Fatalf("record %d: %d bytes written, EncodedLen says %d", i, len(buf)-before, n)
			}
			maxTS = max(maxTS, TimestampMillis(&recs[i]))
		}
		got, err := SealRecords(c, nil, buf, int32(len(recs)), firstTS, maxTS, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: SealRecords made %d bytes that differ from the Builder's %d", codec, len(got), len(want))
		}
	})
}

// SealRecords refuses an empty batch and a buffer without room for the header.
func TestSealRecordsRefusesBadInput(t *testing.T) {
	if _, err := SealRecords(nil, nil, make([]byte, BatchHeaderSize), 0, 0, 0, NoProducer()); !errors.Is(err, ErrEmptyBatch) {
		t.Fatalf("no records: %v, want ErrEmptyBatch", err)
	}
	if _, err := SealRecords(nil, nil, make([]byte, BatchHeaderSize-1), 1, 0, 0, NoProducer()); err == nil {
		t.Fatal("a buffer shorter than a header was sealed")
	}
}
