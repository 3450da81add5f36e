package record

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRestampChangesOnlyStampAndCRC(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			raw := build(t, codec, Producer{ID: 1, Epoch: 2, BaseSequence: 3}, sampleRecords())
			before := bytes.Clone(raw)
			p := Producer{ID: 0x0102030405060708, Epoch: 0x0a0b, BaseSequence: 0x0c0d0e0f}
			if err := Restamp(raw, p); err != nil {
				t.Fatal(err)
			}
			for i := range raw {
				inField := (i >= offCRC && i < offCRC+4) || (i >= offProducerID && i < offBaseSequence+4)
				if raw[i] != before[i] && !inField {
					t.Fatalf("byte %d changed", i)
				}
			}
			var s Scanner
			s.Reset(raw)
			if !s.Next() {
				t.Fatalf("restamped batch does not scan: %v", s.Err())
			}
			b := s.Batch()
			if b.ProducerID != p.ID || b.ProducerEpoch != p.Epoch || b.BaseSequence != p.BaseSequence {
				t.Fatalf("stamp %d/%d/%d", b.ProducerID, b.ProducerEpoch, b.BaseSequence)
			}
			var kb kmsg.RecordBatch // and kmsg agrees
			if err := kb.ReadFrom(raw); err != nil || kb.ProducerID != p.ID || kb.ProducerEpoch != p.Epoch || kb.FirstSequence != p.BaseSequence {
				t.Fatalf("kmsg: %v %+v", err, kb)
			}
			if _, recs, _ := scanAll(t, raw, "t", 0); len(recs) != len(sampleRecords()) {
				t.Fatalf("%d records", len(recs))
			}
			// Restamping back restores the original bytes exactly.
			if err := Restamp(raw, Producer{ID: 1, Epoch: 2, BaseSequence: 3}); err != nil || !bytes.Equal(raw, before) {
				t.Fatalf("restamp back: %v, equal %v", err, bytes.Equal(raw, before))
			}
		})
	}
}

func TestRestampRefuses(t *testing.T) {
	raw := build(t, None, NoProducer(), sampleRecords())
	damaged := bytes.Clone(raw)
	damaged[len(damaged)-1] ^= 1
	cases := map[string][]byte{
		"short":      raw[:headerSize-1],
		"cut":        raw[:len(raw)-1],
		"extra byte": append(bytes.Clone(raw), 0),
		"magic 1":    withMagic(raw, 1),
		"damaged":    damaged,
		"nil":        nil,
	}
	for name, in := range cases {
		before := bytes.Clone(in)
		if err := Restamp(in, Producer{ID: 9}); !errors.Is(err, ErrNotBatch) {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(in, before) {
			t.Errorf("%s: refused batch was modified", name)
		}
	}
}
