package record

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/troupe-go/troupe"
)

// The fuzzers feed arbitrary bytes to the scanner and to the record decoder. Besides "no
// panic", they check that every error is one of the package's classes, that the scanner
// accounts for every input byte, and that whatever decodes re-encodes to the same keys,
// values and headers. Seeds are real encodings of every codec, legacy message sets and
// truncated inputs, in testdata/fuzz/<FuzzName>/; `go test` runs them, and
// `go test -run TestWriteFuzzSeeds -write-fuzz-seeds` regenerates them.

// fuzzLimit keeps decompression within what a fuzz worker can afford.
const fuzzLimit = 1 << 20

// checkErrClass fails unless err is nil or matches one of the package's error classes.
func checkErrClass(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error outside the documented classes: %v", err)
	}
}

// checkReencode encodes recs with a Builder and decodes them again: keys, values and
// headers must come back unchanged.
func checkReencode(t *testing.T, recs []troupe.Record) {
	t.Helper()
	if len(recs) == 0 {
		return
	}
	b := NewBuilder(nil)
	for i := range recs {
		b.Append(&recs[i])
	}
	raw, err := b.Seal(NoProducer())
	if err != nil {
		t.Fatalf("re-encoding decoded records: %v", err)
	}
	var s Scanner
	s.Reset(raw)
	if !s.Next() {
		t.Fatalf("re-encoded batch does not scan: %v", s.Err())
	}
	var d Decoder
	again, err := d.Decode(nil, s.Batch(), "t", 0)
	if err != nil || len(again) != len(recs) {
		t.Fatalf("re-encoded batch: %v, %d records of %d", err, len(again), len(recs))
	}
	for i := range recs {
		want := recs[i]
		want.Timestamp = again[i].Timestamp // renumbered and restamped; not compared
		if err := sameRecord(&want, &again[i]); err != nil {
			t.Fatalf("record %d after re-encoding: %v", i, err)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		var (
			s    Scanner
			d    = Decoder{MaxDecompressedSize: fuzzLimit}
			recs []troupe.Record
			end  int
		)
		s.Reset(in)
		for s.Next() {
			b := s.Batch()
			if len(b.Raw) != lengthPrefix+int(b.Length) || &b.Raw[0] != &in[end] {
				t.Fatalf("batch of %d bytes, length field %d, at %d", len(b.Raw), b.Length, end)
			}
			end += len(b.Raw)
			var err error
			recs, err = d.Decode(recs[:0], b, "t", 0)
			checkErrClass(t, err)
			if err != nil {
				continue
			}
			if b.Magic == 2 && len(recs) != int(b.NumRecords) {
				t.Fatalf("%d records, header says %d", len(recs), b.NumRecords)
			}
			for i := range recs {
				delta := recs[i].Offset - b.BaseOffset
				if b.Magic == 2 && (int64(int32(delta)) != delta || recs[i].LeaderEpoch != b.LeaderEpoch) {
					t.Fatalf("record %d: offset %d epoch %d in batch %+v", i, recs[i].Offset, recs[i].LeaderEpoch, b)
				}
			}
			checkReencode(t, recs)
		}
		checkErrClass(t, s.Err())
		if s.Consumed() != end {
			t.Fatalf("Consumed %d, batches end at %d", s.Consumed(), end)
		}
		if s.Err() == nil && end+s.Tail().Have != len(in) {
			t.Fatalf("%d bytes in batches + %d in the tail != %d", end, s.Tail().Have, len(in))
		}
		if tail := s.Tail(); tail.Have > 0 && tail.Need != 0 && tail.Need <= tail.Have {
			t.Fatalf("tail %+v: a batch that fits is not cut", tail)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	f.Fuzz(func(t *testing.T, attrs uint16, count int32, section []byte) {
		raw := withRecords(Attributes(attrs), count, section)
		var s Scanner
		s.Reset(raw)
		if !s.Next() {
			checkErrClass(t, s.Err())
			if count >= 0 {
				t.Fatalf("a checksummed batch with %d records did not scan: %v", count, s.Err())
			}
			return
		}
		d := Decoder{MaxDecompressedSize: fuzzLimit}
		sentinel := []troupe.Record{{Topic: "sentinel"}}
		recs, err := d.Decode(sentinel, s.Batch(), "t", 3)
		checkErrClass(t, err)
		if err != nil {
			if len(recs) != 1 || recs[0].Topic != "sentinel" {
				t.Fatalf("failed decode changed dst")
			}
			return
		}
		recs = recs[1:]
		if len(recs) != int(count) {
			t.Fatalf("%d records, header says %d", len(recs), count)
		}
		for i := range recs {
			if recs[i].Topic != "t" || recs[i].Partition != 3 || recs[i].LeaderEpoch != 5 {
				t.Fatalf("record %d: %+v", i, recs[i])
			}
			if Attributes(attrs).LogAppendTime() && recs[i].Timestamp.UnixMilli() != 1e12 {
				t.Fatalf("log-append-time record %d at %v", i, recs[i].Timestamp)
			}
		}
		checkReencode(t, recs)
	})
}

var writeFuzzSeeds = flag.Bool("write-fuzz-seeds", false, "regenerate testdata/fuzz seed corpora from real encodings")

// TestWriteFuzzSeeds regenerates the seed corpora when asked to, and otherwise checks
// that every seed directory holds seeds, so that `go test` exercises the fuzz targets on
// real encodings of every codec.
func TestWriteFuzzSeeds(t *testing.T) {
	scan, records := fuzzSeeds(t)
	if *writeFuzzSeeds {
		writeSeeds(t, "FuzzScan", scan)
		writeSeeds(t, "FuzzDecodeRecords", records)
	}
	for name, want := range map[string]int{"FuzzScan": len(scan), "FuzzDecodeRecords": len(records)} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		if err != nil || len(entries) < want {
			t.Fatalf("%s: %d seeds on disk, want %d (run with -write-fuzz-seeds): %v", name, len(entries), want, err)
		}
	}
}

// TestFuzzSeedsDecode makes sure the seeds are what they claim: every one decodes without
// error, so the fuzzers start from valid encodings rather than from early rejections.
func TestFuzzSeedsDecode(t *testing.T) {
	scan, records := fuzzSeeds(t)
	for name, args := range scan {
		_, recs, _ := scanAll(t, args[0].([]byte), "t", 0)
		if len(recs) == 0 {
			t.Errorf("%s: no records", name)
		}
	}
	for name, args := range records {
		raw := withRecords(Attributes(args[0].(uint16)), args[1].(int32), args[2].([]byte))
		_, recs, _ := scanAll(t, raw, "t", 0)
		if len(recs) != int(args[1].(int32)) {
			t.Errorf("%s: %d records", name, len(recs))
		}
		if name == "records-control" {
			if k, err := ParseControlKey(recs[0].Key); err != nil || k.Type != ControlCommit {
				t.Errorf("control key %+v %v", k, err)
			}
		}
	}
}

// fuzzSeeds returns named seeds: inputs for FuzzScan, and argument lists for
// FuzzDecodeRecords.
func fuzzSeeds(t *testing.T) (scan map[string][]any, records map[string][]any) {
	scan, records = map[string][]any{}, map[string][]any{}
	all, ends := multiBatch(t)
	scan["all-codecs"] = []any{all}
	scan["all-codecs-cut"] = []any{all[:ends[2]+40]}
	for _, codec := range codecs {
		recs := sampleRecords()
		raw := build(t, codec, Producer{ID: 1, Epoch: 0, BaseSequence: 0}, recs)
		scan["batch-"+codec.String()] = []any{raw}
		plain := build(t, None, NoProducer(), recs)
		section := refCompress(t, codec, false, plain[headerSize:])
		records["records-"+codec.String()] = []any{uint16(codec), int32(len(recs)), section}
	}
	plain := build(t, None, NoProducer(), sampleRecords())
	records["records-snappy-xerial"] = []any{uint16(Snappy), int32(len(sampleRecords())), refCompress(t, Snappy, true, plain[headerSize:])}
	records["records-zstd-no-size"] = []any{uint16(Zstd), int32(len(sampleRecords())), zstdRawFrame(21, plain[headerSize:])}
	records["records-log-append"] = []any{uint16(AttrLogAppendTime), int32(len(sampleRecords())), plain[headerSize:]}
	control := []byte{0, 0, 0, 1} // version 0, commit
	ctl := []byte{0, 0, 0, 8}
	ctl = append(ctl, control...)
	ctl = append(ctl, 12, 0, 0, 0, 0, 0, 6, 0) // value: version 0, coordinator epoch 6; no headers
	records["records-control"] = []any{uint16(AttrControl | AttrTransactional), int32(1), append([]byte{byte(2 * len(ctl))}, ctl...)}

	legacy := legacyMsg0(0, 0, nil, []byte("v0"))
	legacy = append(legacy, legacyMsg1(1, 0, 1e12, []byte("k"), []byte("v1"))...)
	inner := append(legacyMsg1(0, 0, 1e12, nil, []byte("a")), legacyMsg1(1, 0, 1e12, nil, []byte("b"))...)
	for _, codec := range []Codec{Gzip, Snappy, LZ4} {
		legacy = append(legacy, legacyMsg1(int64(3+codec), int8(codec), 1e12, nil, refCompress(t, codec, codec == Snappy, inner))...)
	}
	scan["legacy"] = []any{legacy}
	return scan, records
}

// writeSeeds writes seeds in the format `go test` reads from testdata/fuzz.
func writeSeeds(t *testing.T, fuzzName string, seeds map[string][]any) {
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, args := range seeds {
		text := "go test fuzz v1\n"
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				text += "[]byte(" + strconv.Quote(string(v)) + ")\n"
			case uint16:
				text += fmt.Sprintf("uint16(%d)\n", v)
			case int32:
				text += fmt.Sprintf("int32(%d)\n", v)
			default:
				t.Fatalf("seed argument of type %T", a)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
