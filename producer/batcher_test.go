package producer

import (
	"bytes"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/record"
	"pgregory.net/rapid"
)

// The batcher, driven as the partition producer drives it (offer, seal when a record
// does not fit or the batch is full, take and seal), packs records in order into batches
// that keep to MaxBatchBytes and MaxBatchRecords and are sealed for size only when the
// next record would not have fitted; it encodes them faithfully, giving a record without
// a timestamp the time it was taken in, and its size bound is exact for uncompressed
// batches.
func TestBatcherPacksWithinLimits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		codec := rapid.SampledFrom([]record.Codec{record.None, record.None, record.Gzip, record.Zstd}).Draw(t, "codec")
		var comp *record.Compressor
		if codec != record.None {
			c, err := record.NewCompressor(record.Compression{Codec: codec})
			if err != nil {
				t.Fatal(err)
			}
			comp = c
		}
		maxBytes := rapid.IntRange(200, 8000).Draw(t, "max bytes")
		maxRecords := rapid.IntRange(1, 50).Draw(t, "max records")
		bt := newBatcher(comp, maxBytes, maxRecords, time.Hour, time.Minute)
		base := time.Now().Truncate(time.Millisecond)

		n := rapid.IntRange(1, 200).Draw(t, "records")
		in := make([]Pending, n)
		want := make([]troupe.Record, n) // what each record must read back as
		for i := range in {
			r := &troupe.Record{Topic: "t", Value: bytes.Repeat([]byte{byte(i)}, rapid.IntRange(0, 150).Draw(t, "value"))}
			if rapid.Bool().Draw(t, "key") {
				r.Key = []byte{byte(i), 1}
			}
			if rapid.Bool().Draw(t, "header") {
				r.Headers = []troupe.Header{{Key: "h", Value: []byte{byte(i)}}}
			}
			taken := base.Add(time.Duration(i) * time.Millisecond)
			if rapid.Bool().Draw(t, "timestamp") {
				r.Timestamp = base.Add(time.Duration(rapid.IntRange(-1000, 1000).Draw(t, "ts")) * time.Millisecond)
			}
			want[i] = *r
			if want[i].Timestamp.IsZero() {
				want[i].Timestamp = taken
			}
			in[i] = Pending{rec: r, size: int32(recordSize(r)), taken: taken.UnixNano()}
		}

		var sealed [][]Pending
		var raws [][]byte
		seal := func() {
			bound := bt.bound()
			b := bt.cut()
			b.stamp = record.NoProducer()
			if err := finish(comp, b); err != nil {
				t.Fatal(err)
			}
			if len(b.raw) > bound || (codec == record.None && len(b.raw) != bound) {
				t.Fatalf("%s batch of %d records: %d bytes, bound %d", codec, len(b.recs), len(b.raw), bound)
			}
			if b.deadline != b.recs[0].taken+int64(time.Minute) {
				t.Fatalf("batch deadline %d, want its first record's intake plus the delivery timeout", b.deadline)
			}
			sealed = append(sealed, b.recs)
			raws = append(raws, b.raw)
		}
		for i := range in {
			if !bt.offer(in[i], base) {
				if bt.empty() {
					t.Fatal("an empty batch refused a record")
				}
				seal()
				if !bt.offer(in[i], base) {
					t.Fatal("a new batch refused a record")
				}
			}
			if bt.full() {
				seal()
			}
		}
		if !bt.empty() {
			seal()
		}

		next := 0
		for k, recs := range sealed {
			if len(recs) > maxRecords {
				t.Fatalf("batch %d holds %d records, MaxBatchRecords %d", k, len(recs), maxRecords)
			}
			if codec == record.None && len(recs) > 1 && len(raws[k]) > maxBytes {
				t.Fatalf("batch %d of %d records is %d bytes, MaxBatchBytes %d", k, len(recs), len(raws[k]), maxBytes)
			}
			// Sealed for size (not full, and not the last): the next record would not have fitted.
			if codec == record.None && len(recs) < maxRecords && k < len(sealed)-1 {
				probe := record.NewBuilder(nil)
				probe.Reset(nil)
				for _, p := range recs {
					probe.Append(p.rec)
				}
				if probe.SizeWith(sealed[k+1][0].rec) <= maxBytes {
					t.Fatalf("batch %d was sealed at %d bytes though its next record would have fitted", k, len(raws[k]))
				}
			}
			var s record.Scanner
			var d record.Decoder
			s.Reset(raws[k])
			if !s.Next() {
				t.Fatalf("batch %d does not scan: %v", k, s.Err())
			}
			got, err := d.Decode(nil, s.Batch(), "t", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) {
				t.Fatalf("batch %d decodes to %d records, holds %d", k, len(got), len(recs))
			}
			for j := range got {
				w := &want[next]
				if recs[j].rec != in[next].rec {
					t.Fatalf("batch %d record %d is not record %d: out of order", k, j, next)
				}
				g := &got[j]
				if !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || len(g.Headers) != len(w.Headers) ||
					!g.Timestamp.Equal(w.Timestamp.Truncate(time.Millisecond)) {
					t.Fatalf("record %d reads back as key %q value %d bytes ts %v headers %d, want %q %d %v %d",
						next, g.Key, len(g.Value), g.Timestamp, len(g.Headers), w.Key, len(w.Value), w.Timestamp, len(w.Headers))
				}
				next++
			}
		}
		if next != n {
			t.Fatalf("%d records offered, %d sealed", n, next)
		}
	})
}
