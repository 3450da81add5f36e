package record

import (
	"testing"

	"github.com/troupe-go/troupe"
)

// multiBatch returns one batch per codec back to back, and the end offset of each.
func multiBatch(t tb) (in []byte, ends []int) {
	t.Helper()
	for i, codec := range codecs {
		recs := sampleRecords()
		for j := range recs {
			recs[j].Value = append(recs[j].Value, byte(i))
		}
		in = append(in, build(t, codec, NoProducer(), recs)...)
		ends = append(ends, len(in))
	}
	return in, ends
}

// TestTruncatedAtEveryCut cuts a real multi-batch encoding at every byte and checks that
// scanning never fails or panics, returns exactly the batches wholly present, decodes
// them, and reports the cut batch as a Tail with its declared size.
func TestTruncatedAtEveryCut(t *testing.T) {
	in, ends := multiBatch(t)
	var (
		s    Scanner
		d    Decoder
		recs []troupe.Record
	)
	for cut := 0; cut <= len(in); cut++ {
		s.Reset(in[:cut:cut]) // cap too, so nothing past the cut is reachable
		whole := 0
		for s.Next() {
			var err error
			if recs, err = d.Decode(recs[:0], s.Batch(), "t", 0); err != nil {
				t.Fatalf("cut %d batch %d: %v", cut, whole, err)
			}
			if len(recs) != len(sampleRecords()) {
				t.Fatalf("cut %d batch %d: %d records", cut, whole, len(recs))
			}
			whole++
		}
		if err := s.Err(); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		wantWhole, prevEnd := 0, 0
		for _, end := range ends {
			if end <= cut {
				wantWhole, prevEnd = wantWhole+1, end
			}
		}
		if whole != wantWhole || s.Consumed() != prevEnd {
			t.Fatalf("cut %d: %d whole batches consuming %d bytes, want %d and %d", cut, whole, s.Consumed(), wantWhole, prevEnd)
		}
		tail := s.Tail()
		wantTail := Tail{Have: cut - prevEnd, First: wantWhole == 0}
		if wantTail.Have == 0 {
			wantTail.First = false
		} else if wantTail.Have >= lengthPrefix {
			wantTail.Need = ends[wantWhole] - prevEnd
		}
		if tail != wantTail {
			t.Fatalf("cut %d: tail %+v, want %+v", cut, tail, wantTail)
		}
	}
}

// TestFirstBatchLargerThanFetch models a fetch whose size limit is below the first
// batch's size: the consumer must learn that it has to raise the limit, and to what.
func TestFirstBatchLargerThanFetch(t *testing.T) {
	in, ends := multiBatch(t)
	var s Scanner
	s.Reset(in[:ends[0]-1])
	if s.Next() || s.Err() != nil {
		t.Fatalf("Next on a cut first batch: err %v", s.Err())
	}
	if tail := s.Tail(); !tail.Truncated() || !tail.First || tail.Need != ends[0] {
		t.Fatalf("tail %+v, want first, need %d", tail, ends[0])
	}
	// The same cut after a whole batch is plain "fetch more".
	s.Reset(in[:ends[1]-1])
	if !s.Next() || s.Next() {
		t.Fatal("want exactly one whole batch")
	}
	if tail := s.Tail(); !tail.Truncated() || tail.First || tail.Need != ends[1]-ends[0] {
		t.Fatalf("tail %+v", tail)
	}
}
