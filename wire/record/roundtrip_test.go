package record

import (
	"errors"
	"testing"

	"github.com/troupe-go/troupe"
)

func TestRoundTripEveryCodec(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			want := sampleRecords()
			p := Producer{ID: 7, Epoch: 3, BaseSequence: 100}
			raw := build(t, codec, p, want)
			batches, got, tail := scanAll(t, raw, "topic", 4)
			if tail.Truncated() {
				t.Fatalf("tail %+v", tail)
			}
			if len(batches) != 1 {
				t.Fatalf("%d batches", len(batches))
			}
			b := batches[0]
			if b.Attributes.Codec() != codec || b.Attributes.LogAppendTime() || b.Attributes.Control() || b.Attributes.Transactional() {
				t.Errorf("attributes %#x", b.Attributes)
			}
			if b.ProducerID != 7 || b.ProducerEpoch != 3 || b.BaseSequence != 100 || b.LeaderEpoch != -1 || b.BaseOffset != 0 {
				t.Errorf("header %+v", b)
			}
			if b.NumRecords != int32(len(want)) || b.LastOffsetDelta != int32(len(want)-1) || b.NextOffset() != int64(len(want)) {
				t.Errorf("count %d last delta %d", b.NumRecords, b.LastOffsetDelta)
			}
			if b.BaseTimestamp != want[0].Timestamp.UnixMilli() || b.MaxTimestamp != want[3].Timestamp.UnixMilli() {
				t.Errorf("timestamps base %d max %d", b.BaseTimestamp, b.MaxTimestamp)
			}
			if len(got) != len(want) {
				t.Fatalf("%d records, want %d", len(got), len(want))
			}
			for i := range want {
				if err := sameRecord(&want[i], &got[i]); err != nil {
					t.Errorf("record %d: %v", i, err)
				}
				if got[i].Offset != int64(i) || got[i].Topic != "topic" || got[i].Partition != 4 || got[i].LeaderEpoch != -1 {
					t.Errorf("record %d: %s/%d@%d epoch %d", i, got[i].Topic, got[i].Partition, got[i].Offset, got[i].LeaderEpoch)
				}
			}
		})
	}
}

// TestDecodedSlicesAreCapped: keys, values and header slices alias shared storage, capped
// so that a user appending to one cannot overwrite its neighbour.
func TestDecodedSlicesAreCapped(t *testing.T) {
	for _, codec := range codecs {
		want := sampleRecords()
		_, got, _ := scanAll(t, build(t, codec, NoProducer(), want), "t", 0)
		for i := range got {
			_ = append(got[i].Key, "XXXXXXXX"...)
			_ = append(got[i].Value, "XXXXXXXX"...)
			_ = append(got[i].Headers, troupe.Header{Key: "X", Value: []byte("X")})
			for j := range got[i].Headers {
				_ = append(got[i].Headers[j].Value, "XXXXXXXX"...)
			}
		}
		for i := range want {
			if err := sameRecord(&want[i], &got[i]); err != nil {
				t.Fatalf("%s: record %d after appends to its neighbours: %v", codec, i, err)
			}
		}
	}
}

func TestSealEmptyBatch(t *testing.T) {
	b := NewBuilder(nil)
	if _, err := b.Seal(NoProducer()); !errors.Is(err, ErrEmptyBatch) {
		t.Fatalf("Seal of empty batch: %v", err)
	}
}

func TestBuilderReuse(t *testing.T) {
	// One builder, many batches, buffers handed back through Reset: every batch must
	// decode to exactly its own records, for every codec.
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			b := NewBuilder(mustCompressor(t, codec))
			var recycled []byte
			for round := range 6 {
				if round%2 == 0 {
					b.Reset(recycled)
				} // odd rounds append straight after Seal, without Reset

				want := make([]troupe.Record, round+1)
				for i := range want {
					want[i] = troupe.Record{Value: []byte{byte(round), byte(i)}}
				}
				for i := range want {
					b.Append(&want[i])
				}
				raw, err := b.Seal(NoProducer())
				if err != nil {
					t.Fatal(err)
				}
				_, got, _ := scanAll(t, raw, "t", 0)
				if len(got) != len(want) {
					t.Fatalf("round %d: %d records", round, len(got))
				}
				for i := range want {
					if err := sameRecord(&want[i], &got[i]); err != nil {
						t.Fatalf("round %d record %d: %v", round, i, err)
					}
				}
				recycled = raw
			}
		})
	}
}
