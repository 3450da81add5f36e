package record

import (
	"math"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// genBytes draws a nullable byte string: nil, empty, or up to max random bytes.
func genBytes(t *rapid.T, label string, max int) []byte {
	switch rapid.IntRange(0, 5).Draw(t, label+"/kind") {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	return rapid.SliceOfN(rapid.Byte(), 1, max).Draw(t, label)
}

// genHeaders draws up to 4 headers with repeated, empty and non-ASCII keys and nullable
// values.
func genHeaders(t *rapid.T, label string) []troupe.Header {
	n := rapid.IntRange(0, 4).Draw(t, label+"/n")
	if n == 0 {
		return nil
	}
	hs := make([]troupe.Header, n)
	for i := range hs {
		hs[i].Key = rapid.OneOf(rapid.SampledFrom([]string{"", "trace-id", "ü→", "a"}), rapid.String()).Draw(t, label+"/key")
		hs[i].Value = genBytes(t, label+"/value", 40)
	}
	return hs
}

// genRecords draws 1 to 40 records as a producer hands them over.
func genRecords(t *rapid.T) []troupe.Record {
	recs := make([]troupe.Record, rapid.IntRange(1, 40).Draw(t, "records"))
	base := rapid.Int64Range(1e6, 1<<42).Draw(t, "base ts") // -1 ms would read as "none"
	for i := range recs {
		r := &recs[i]
		r.Key = genBytes(t, "key", 30)
		r.Value = genBytes(t, "value", 300)
		r.Headers = genHeaders(t, "headers")
		if !rapid.Bool().Draw(t, "no ts") || i > 0 {
			r.Timestamp = time.UnixMilli(base + rapid.Int64Range(-1e6, 1e9).Draw(t, "ts delta"))
		}
	}
	return recs
}

// msOf is the wire timestamp of a record given to the Builder.
func msOf(r *troupe.Record) int64 {
	if r.Timestamp.IsZero() {
		return -1
	}
	return r.Timestamp.UnixMilli()
}

// TestDifferentialTroupeToKmsg builds batches here and parses them with kmsg.
func TestDifferentialTroupeToKmsg(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		codec := rapid.SampledFrom(codecs).Draw(t, "codec")
		recs := genRecords(t)
		p := Producer{
			ID:           rapid.Int64Range(-1, math.MaxInt64).Draw(t, "pid"),
			Epoch:        rapid.Int16().Draw(t, "epoch"),
			BaseSequence: rapid.Int32Range(-1, math.MaxInt32).Draw(t, "seq"),
		}
		raw := build(t, codec, p, recs)

		kb, krecs := kmsgParse(t, raw)
		maxTS := int64(math.MinInt64)
		for i := range recs {
			maxTS = max(maxTS, msOf(&recs[i]))
		}
		if kb.FirstOffset != 0 || int(kb.Length) != len(raw)-12 || kb.PartitionLeaderEpoch != -1 || kb.Magic != 2 ||
			kb.Attributes != int16(codec) || kb.LastOffsetDelta != int32(len(recs)-1) ||
			kb.FirstTimestamp != msOf(&recs[0]) || kb.MaxTimestamp != maxTS ||
			kb.ProducerID != p.ID || kb.ProducerEpoch != p.Epoch || kb.FirstSequence != p.BaseSequence ||
			kb.NumRecords != int32(len(recs)) {
			t.Fatalf("kmsg header %+v", kb)
		}
		for i := range recs {
			k := &krecs[i]
			if k.OffsetDelta != int32(i) || k.Attributes != 0 {
				t.Fatalf("record %d: offset delta %d attributes %d", i, k.OffsetDelta, k.Attributes)
			}
			want := recs[i]
			want.Offset = int64(i)
			got := troupe.Record{Key: k.Key, Value: k.Value, Offset: int64(k.OffsetDelta)}
			for _, h := range k.Headers {
				got.Headers = append(got.Headers, troupe.Header{Key: h.Key, Value: h.Value})
			}
			if ts := kb.FirstTimestamp + k.TimestampDelta64; ts != -1 {
				got.Timestamp = time.UnixMilli(ts)
			}
			if err := sameRecord(&want, &got); err != nil {
				t.Fatalf("record %d as kmsg reads it: %v", i, err)
			}
		}

		// And this package reads its own batch as kmsg does.
		_, decoded, _ := scanAll(t, raw, "t", 1)
		for i := range krecs {
			if err := sameKmsgRecord(&krecs[i], &decoded[i], int64(i), msOf(&recs[i])); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
	})
}

// genSpec draws a batch as a broker may serve it: any base offset and leader epoch, gaps
// in offset deltas (compaction), negative timestamp deltas, log-append time, transactional
// and control bits, and for snappy either framing.
func genSpec(t *rapid.T) batchSpec {
	codec := rapid.SampledFrom(codecs).Draw(t, "codec")
	attrs := Attributes(codec)
	for _, bit := range []Attributes{AttrLogAppendTime, AttrTransactional, AttrControl, AttrDeleteHorizon} {
		if rapid.Bool().Draw(t, "bit") {
			attrs |= bit
		}
	}
	spec := batchSpec{
		baseOffset:    rapid.Int64Range(0, 1<<50).Draw(t, "base offset"),
		leaderEpoch:   rapid.Int32Range(-1, math.MaxInt32).Draw(t, "leader epoch"),
		attrs:         attrs,
		xerial:        codec == Snappy && rapid.Bool().Draw(t, "xerial"),
		baseTimestamp: rapid.Int64Range(0, 1<<42).Draw(t, "base ts"),
		producer: Producer{
			ID:           rapid.Int64().Draw(t, "pid"),
			Epoch:        rapid.Int16().Draw(t, "epoch"),
			BaseSequence: rapid.Int32().Draw(t, "seq"),
		},
	}
	spec.maxTimestamp = spec.baseTimestamp
	n := rapid.IntRange(0, 30).Draw(t, "records") // compaction can empty a batch
	delta := int32(0)
	for range n {
		delta += int32(rapid.IntRange(0, 3).Draw(t, "gap"))
		r := kmsg.Record{
			OffsetDelta:      delta,
			TimestampDelta64: rapid.Int64Range(-1000, 1e9).Draw(t, "ts delta"),
			Key:              genBytes(t, "key", 30),
			Value:            genBytes(t, "value", 200),
		}
		for _, h := range genHeaders(t, "headers") {
			r.Headers = append(r.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		spec.maxTimestamp = max(spec.maxTimestamp, spec.baseTimestamp+r.TimestampDelta64)
		spec.records = append(spec.records, r)
		delta++
	}
	return spec
}

// TestDifferentialKmsgToTroupe builds batches with kmsg and the reference compressors,
// several back to back, and decodes them here.
func TestDifferentialKmsgToTroupe(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		specs := make([]batchSpec, rapid.IntRange(1, 4).Draw(t, "batches"))
		var in []byte
		var raws [][]byte
		for i := range specs {
			specs[i] = genSpec(t)
			raw := kmsgBuild(t, specs[i])
			raws = append(raws, raw)
			in = append(in, raw...)
		}
		batches, recs, tail := scanAll(t, in, "topic", 9)
		if tail.Truncated() || len(batches) != len(specs) {
			t.Fatalf("%d batches, tail %+v", len(batches), tail)
		}
		for i, spec := range specs {
			b := &batches[i]
			kb, krecs := kmsgParse(t, raws[i])
			if b.BaseOffset != kb.FirstOffset || b.Length != kb.Length || b.LeaderEpoch != kb.PartitionLeaderEpoch ||
				b.Magic != 2 || b.CRC != uint32(kb.CRC) || int16(b.Attributes) != kb.Attributes ||
				b.LastOffsetDelta != kb.LastOffsetDelta || b.BaseTimestamp != kb.FirstTimestamp ||
				b.MaxTimestamp != kb.MaxTimestamp || b.ProducerID != kb.ProducerID ||
				b.ProducerEpoch != kb.ProducerEpoch || b.BaseSequence != kb.FirstSequence ||
				b.NumRecords != kb.NumRecords {
				t.Fatalf("batch %d header %+v, kmsg %+v", i, b, kb)
			}
			if b.Attributes.Control() != (spec.attrs&AttrControl != 0) || b.Attributes.Transactional() != (spec.attrs&AttrTransactional != 0) {
				t.Fatalf("batch %d attribute bits %#x", i, b.Attributes)
			}
			for j := range krecs {
				r := &recs[0]
				recs = recs[1:]
				wantTS := kb.FirstTimestamp + krecs[j].TimestampDelta64
				if spec.attrs.LogAppendTime() {
					wantTS = kb.MaxTimestamp
				}
				if err := sameKmsgRecord(&krecs[j], r, kb.FirstOffset+int64(krecs[j].OffsetDelta), wantTS); err != nil {
					t.Fatalf("batch %d record %d: %v", i, j, err)
				}
				if r.Topic != "topic" || r.Partition != 9 || r.LeaderEpoch != kb.PartitionLeaderEpoch {
					t.Fatalf("batch %d record %d: %s/%d epoch %d", i, j, r.Topic, r.Partition, r.LeaderEpoch)
				}
			}
		}
		if len(recs) != 0 {
			t.Fatalf("%d records more than kmsg", len(recs))
		}
	})
}
