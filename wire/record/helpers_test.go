package record

import (
	"bytes"
	"fmt"
	"time"

	"github.com/troupe-go/troupe"
)

// codecs lists every codec, for tests that run once per codec.
var codecs = []Codec{None, Gzip, Snappy, LZ4, Zstd}

// mustCompressor returns a Compressor for codec at its default level, nil for None.
func mustCompressor(t tb, codec Codec) *Compressor {
	t.Helper()
	if codec == None {
		return nil
	}
	c, err := NewCompressor(Compression{Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// build seals recs into one batch with codec and producer stamp p.
func build(t tb, codec Codec, p Producer, recs []troupe.Record) []byte {
	t.Helper()
	b := NewBuilder(mustCompressor(t, codec))
	for i := range recs {
		b.Append(&recs[i])
	}
	out, err := b.Seal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// scanAll scans in and decodes every whole batch, failing the test on any error.
func scanAll(t tb, in []byte, topic string, partition int32) ([]Batch, []troupe.Record, Tail) {
	t.Helper()
	var (
		s       Scanner
		d       Decoder
		batches []Batch
		recs    []troupe.Record
	)
	s.Reset(in)
	for s.Next() {
		batches = append(batches, *s.Batch())
		var err error
		if recs, err = d.Decode(recs, s.Batch(), topic, partition); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return batches, recs, s.Tail()
}

// sampleRecords returns records that exercise every field shape: keys, null keys, empty
// and null values, headers with null and empty values, and spread timestamps.
func sampleRecords() []troupe.Record {
	base := time.UnixMilli(1_700_000_000_123)
	return []troupe.Record{
		{Key: []byte("k0"), Value: []byte("v0"), Timestamp: base},
		{Key: nil, Value: []byte("null key"), Timestamp: base.Add(time.Millisecond)},
		{Key: []byte{}, Value: []byte{}, Timestamp: base.Add(-time.Hour)}, // empty, not null
		{Key: []byte("tombstone"), Value: nil, Timestamp: base.Add(48 * time.Hour)},
		{Key: []byte("h"), Value: bytes.Repeat([]byte("x"), 300), Timestamp: base, Headers: []troupe.Header{
			{Key: "a", Value: []byte("1")},
			{Key: "null", Value: nil},
			{Key: "empty", Value: []byte{}},
			{Key: "", Value: []byte("empty key")},
			{Key: "a", Value: []byte("repeat")},
		}},
		{Key: []byte("h2"), Value: []byte("v"), Timestamp: base, Headers: []troupe.Header{
			{Key: "a", Value: []byte("2")},
		}},
		{Value: []byte("no timestamp")},
	}
}

// sameRecord reports the first difference between a record as given to the producer and
// as decoded, comparing what travels on the wire: key, value, headers (null vs empty
// included) and timestamp at millisecond precision.
func sameRecord(want, got *troupe.Record) error {
	if !sameBytes(want.Key, got.Key) {
		return fmt.Errorf("key %q (nil %v), want %q (nil %v)", got.Key, got.Key == nil, want.Key, want.Key == nil)
	}
	if !sameBytes(want.Value, got.Value) {
		return fmt.Errorf("value %q (nil %v), want %q (nil %v)", got.Value, got.Value == nil, want.Value, want.Value == nil)
	}
	if len(want.Headers) != len(got.Headers) {
		return fmt.Errorf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i := range want.Headers {
		w, g := want.Headers[i], got.Headers[i]
		if w.Key != g.Key || !sameBytes(w.Value, g.Value) {
			return fmt.Errorf("header %d = %q:%q (nil %v), want %q:%q (nil %v)", i, g.Key, g.Value, g.Value == nil, w.Key, w.Value, w.Value == nil)
		}
	}
	wantTS := want.Timestamp
	if !wantTS.IsZero() {
		wantTS = time.UnixMilli(wantTS.UnixMilli())
	}
	if !wantTS.Equal(got.Timestamp) || wantTS.IsZero() != got.Timestamp.IsZero() {
		return fmt.Errorf("timestamp %v, want %v", got.Timestamp, wantTS)
	}
	return nil
}

// sameBytes compares byte strings, telling nil from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// tb is what the test helpers need from *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}
