package consumer

import (
	"testing"
	"unsafe"

	"github.com/troupe-go/troupe"
)

// TestRecordSlices checks the kept record slices: exact allocations until the first
// slice comes back, then whole classes; a slice comes back cleared and serves the
// requests its capacity covers; nothing is kept past the limit.
func TestRecordSlices(t *testing.T) {
	s := &recordSlices{limit: 5000}
	if got := s.get(3000); cap(got) != 3000 || len(got) != 0 {
		t.Fatalf("before any put: cap %d, want exactly 3000", cap(got))
	}
	recs := s.get(3000)[:3000]
	for i := range recs {
		recs[i] = troupe.Record{Topic: "t", Value: []byte("v"), Offset: int64(i)}
	}
	s.put(recs)
	for i := range recs {
		if recs[i].Topic != "" || recs[i].Value != nil || recs[i].Offset != 0 {
			t.Fatalf("record %d not cleared: it would keep its response reachable", i)
		}
	}
	if got := s.get(3000); cap(got) != 4096 {
		t.Fatalf("a request above what was kept: cap %d, want its class, 4096", cap(got))
	}
	got := s.get(2000) // 2048's class: served by the 3000 kept
	if unsafe.SliceData(got[:1]) != unsafe.SliceData(recs) || len(got) != 0 {
		t.Fatal("the slice given back was not reused for a request it covers")
	}
	if s.kept != 0 {
		t.Fatalf("kept %d records after the only slice was taken", s.kept)
	}
	s.put(make([]troupe.Record, 4096))
	s.put(make([]troupe.Record, 2048)) // 4096 + 2048 > 5000: dropped
	if s.kept != 4096 {
		t.Fatalf("kept %d records of capacity, want 4096 (the limit is 5000)", s.kept)
	}
	if got := s.get(0); len(got) != 0 || cap(got) != 0 {
		t.Fatalf("get(0): len %d, cap %d", len(got), cap(got))
	}
	var none *recordSlices // a PartitionConsumer's decode: no kept slices
	if got := none.get(10); cap(got) != 10 {
		t.Fatalf("nil: cap %d", cap(got))
	}
}
