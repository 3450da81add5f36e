package consumer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/record"
)

// fetchedOf builds a fetch result of batches of n records each (values numbered from
// first), starting at offset base, as a broker consumer hands it to a feeder.
func fetchedOf(t testing.TB, codec record.Codec, base int64, sizes ...int) (*fetched, []byte) {
	t.Helper()
	comp, err := record.NewCompressor(record.Compression{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	off := base
	for _, n := range sizes {
		b := record.NewBuilder(comp)
		b.Reset(nil)
		for i := range n {
			r := troupe.Record{Value: []byte(fmt.Sprintf("v%d", off+int64(i)))}
			b.Append(&r)
		}
		batch, err := b.Seal(record.NoProducer())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 8 { // the base offset, which a broker stamps (outside the CRC)
			batch[i] = byte(uint64(off) >> (56 - 8*i))
		}
		raw = append(raw, batch...)
		off += int64(n)
	}
	var s record.Scanner
	s.Reset(raw)
	f := &fetched{from: base, next: off, hwm: off, lso: off, logStart: 0, counted: true}
	for s.Next() {
		f.batches = append(f.batches, *s.Batch())
	}
	if s.Err() != nil || len(f.batches) != len(sizes) {
		t.Fatalf("scan: %v, %d batches", s.Err(), len(f.batches))
	}
	return f, raw
}

func TestDecodeFetchedSkipsRecordsBelowThePosition(t *testing.T) {
	for _, codec := range []record.Codec{record.None, record.Zstd} {
		f, _ := fetchedOf(t, codec, 100, 10, 10, 10)
		f.from = 104 // inside the first batch
		var dec record.Decoder
		b, err := decodeFetched(&dec, nil, "t", 3, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Records) != 26 || b.Records[0].Offset != 104 || b.Records[25].Offset != 129 || b.NextOffset != 130 {
			t.Fatalf("%v: %d records, %d..%d, next %d", codec, len(b.Records), b.Records[0].Offset, b.Records[len(b.Records)-1].Offset, b.NextOffset)
		}
		for i, r := range b.Records {
			if string(r.Value) != fmt.Sprintf("v%d", r.Offset) || r.Topic != "t" || r.Partition != 3 || int64(i)+104 != r.Offset {
				t.Fatalf("record %d: %+v", i, r)
			}
		}
		if b.HighWaterMark != 130 || b.src != f {
			t.Fatalf("batch fields: %+v", b)
		}
	}
}

func TestDecodeFetchedReportsTheBatchItCannotRead(t *testing.T) {
	f, _ := fetchedOf(t, record.Gzip, 0, 5, 5)
	f.batches[1].Records = f.batches[1].Records[:len(f.batches[1].Records)/2] // cut the gzip stream
	var dec record.Decoder
	b, err := decodeFetched(&dec, nil, "t", 0, f)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != 5 || ce.Next != 10 || len(b.Records) != 5 {
		t.Fatalf("err %v, %d records", err, len(b.Records))
	}
}

// TestDecodeAllocatesPerBatchNotPerRecord: an uncompressed result decodes with two
// allocations — the records slice and the Batch — whatever the number of records.
func TestDecodeAllocatesPerBatchNotPerRecord(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	for _, n := range []int{10, 1000} {
		f, _ := fetchedOf(t, record.None, 0, n, n)
		var dec record.Decoder
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := decodeFetched(&dec, nil, "t", 0, f); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 2 {
			t.Fatalf("%d records a batch: %v allocations per result, want 2", n, allocs)
		}
	}
}
