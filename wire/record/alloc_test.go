package record

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// benchRecords returns n records with 100-byte values, 8-byte keys and, when headers is
// set, two headers each: the shape the benchmarks and allocation tests use. Values are
// words drawn from a small vocabulary by a seeded generator, text that compresses about
// as well as log lines do (3 to 5 times), not a pattern that flatters the codecs.
func benchRecords(n int, headers bool) []troupe.Record {
	words := strings.Fields("the quick brown fox jumps over lazy dog user id order total " +
		"status ok error timeout retry payment card shipped pending cancelled region eu us " +
		"ap latency ms request response session token cache hit miss db query rows")
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]troupe.Record, n)
	for i := range recs {
		v := make([]byte, 0, 100)
		for len(v) < 100 {
			v = append(v, words[rng.IntN(len(words))]...)
			v = append(v, ' ')
			v = strconv.AppendInt(v, int64(rng.IntN(10000)), 10)
			v = append(v, ' ')
		}
		recs[i] = troupe.Record{
			Key:       fmt.Appendf(nil, "key%05d", i%100000),
			Value:     v[:100],
			Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)),
		}
		if headers {
			recs[i].Headers = []troupe.Header{{Key: "trace-id", Value: v[:16]}, {Key: "content-type", Value: []byte("text/plain")}}
		}
	}
	return recs
}

// TestAppendAllocatesNothing: once a Builder's buffers have grown, appending records
// allocates nothing, and a whole batch cycle (Reset with the previous batch's storage,
// Append, Seal) allocates nothing either, for every codec.
func TestAppendAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race sync.Pool drops items on purpose; run without -race")
	}
	recs := benchRecords(500, true)
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			b := NewBuilder(mustCompressor(t, codec))
			var buf []byte
			cycle := func() {
				b.Reset(buf)
				for i := range recs {
					b.Append(&recs[i])
				}
				var err error
				if buf, err = b.Seal(NoProducer()); err != nil {
					t.Fatal(err)
				}
			}
			cycle()
			cycle()
			perBatch := testing.AllocsPerRun(20, cycle)
			// The batch cycle includes 500 appends; a single stray allocation per record
			// would show as 500.
			if perBatch > 0 {
				t.Fatalf("%s: %.0f allocations per batch of %d records, want 0", codec, perBatch, len(recs))
			}
			// Appends alone, between Reset and Seal.
			b.Reset(buf)
			perRecord := testing.AllocsPerRun(len(recs), func() {
				b.Append(&recs[0])
			})
			if perRecord != 0 {
				t.Fatalf("%s: %.0f allocations per Append", codec, perRecord)
			}
		})
	}
}

// TestDecodeAllocations: decoding allocates nothing per record. Per batch it allocates
// the decompressed buffer when compressed, and the shared header array and key buffer
// when records have headers, and nothing else.
func TestDecodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race sync.Pool drops items on purpose; run without -race")
	}
	for _, headers := range []bool{false, true} {
		recs := benchRecords(500, headers)
		for _, codec := range codecs {
			t.Run(fmt.Sprintf("%s/headers=%v", codec, headers), func(t *testing.T) {
				raw := build(t, codec, NoProducer(), recs)
				var (
					s   Scanner
					d   Decoder
					dst = make([]troupe.Record, 0, len(recs))
				)
				decode := func() {
					s.Reset(raw)
					if !s.Next() {
						t.Fatal(s.Err())
					}
					var err error
					if dst, err = d.Decode(dst[:0], s.Batch(), "topic", 0); err != nil || len(dst) != len(recs) {
						t.Fatal(err, len(dst))
					}
				}
				decode()
				decode()
				want := 0.0
				if codec != None {
					want++ // the decompressed records, which the records alias
				}
				if headers {
					// The header array: the Decoder carves later batches' headers from
					// the unused tail of the previous array only while it has room, so a
					// batch that fills it takes a new one. Header keys repeat, so their
					// strings are reused and the key buffer is not touched.
					want++
				}
				got := testing.AllocsPerRun(20, decode)
				if got > want {
					t.Fatalf("%.0f allocations per batch of %d records, want at most %.0f", got, len(recs), want)
				}
				t.Logf("%.0f allocations per batch", got)
			})
		}
	}
}
