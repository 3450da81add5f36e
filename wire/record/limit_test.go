package record

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/troupe-go/troupe"
)

// bomb returns a batch with one record whose 16 MiB value of zeros compresses to a few
// KiB with codec, encoded by the reference compressors (lz4 with its 4 MiB blocks).
func bomb(t *testing.T, codec Codec) []byte {
	rec := []troupe.Record{{Value: make([]byte, 16<<20)}}
	plain := build(t, None, NoProducer(), rec)
	return withRecords(Attributes(codec), 1, refCompress(t, codec, false, plain[headerSize:]))
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkBudget fails the test if alloc exceeds budget, except under -race, where sync.Pool
// drops pooled buffers on purpose (lz4's 4 MiB block buffers among them) and byte counts
// say nothing about the code under test.
func checkBudget(t *testing.T, alloc, budget uint64) {
	t.Helper()
	if alloc <= budget {
		return
	}
	if raceEnabled {
		t.Logf("allocated %d bytes, budget %d (not enforced under -race)", alloc, budget)
		return
	}
	t.Fatalf("allocated %d bytes, budget %d", alloc, budget)
}

// TestDecompressionLimit checks that a small batch that decompresses to 16 MiB is refused
// under a 1 MiB limit with ErrTooLarge, without the Decoder allocating much beyond the
// limit on the way, and that a limit of exactly the decompressed size is enough.
func TestDecompressionLimit(t *testing.T) {
	for _, codec := range codecs[1:] {
		t.Run(codec.String(), func(t *testing.T) {
			raw := bomb(t, codec)
			t.Logf("%s: %d bytes on the wire", codec, len(raw))
			const limit = 1 << 20
			var err error
			alloc := allocated(func() {
				_, err = decodeOne(t, &Decoder{MaxDecompressedSize: limit}, raw)
			})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err %v, want ErrTooLarge", err)
			}
			// Budget: the limit, plus for gzip/lz4 the geometric growth of the scratch
			// buffer (under twice the limit), plus decoder state (zstd's decoder and lz4's
			// 4 MiB block buffer, which come from a pool and are reused).
			budget := uint64(3*limit + 4<<20 + 512<<10)
			t.Logf("%s: allocated %d bytes refusing a 16 MiB batch", codec, alloc)
			checkBudget(t, alloc, budget)
		})
	}
}

func TestDecompressionLimitIsExact(t *testing.T) {
	recs := sampleRecords()
	plain := build(t, None, NoProducer(), recs)
	size := len(plain) - headerSize
	for _, codec := range codecs[1:] {
		t.Run(codec.String(), func(t *testing.T) {
			raw := build(t, codec, NoProducer(), recs)
			if _, err := decodeOne(t, &Decoder{MaxDecompressedSize: size - 1}, raw); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("limit one below: %v", err)
			}
			got, err := decodeOne(t, &Decoder{MaxDecompressedSize: size}, raw)
			if err != nil || len(got) != 1+len(recs) {
				t.Fatalf("limit exact: %v, %d records", err, len(got))
			}
		})
	}
}

// TestSnappyDeclaredLength sends snappy blocks whose header claims far more than their
// body can hold: refused before the output is allocated.
func TestSnappyDeclaredLength(t *testing.T) {
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0} // declares 4 GiB - 1
	alloc := allocated(func() {
		if _, err := decodeOne(t, new(Decoder), withRecords(Attributes(Snappy), 1, huge)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("4 GiB claim: %v", err)
		}
	})
	checkBudget(t, alloc, 64<<10)
	implausible := []byte{0x80, 0x80, 0x40, 0, 0, 0, 0} // 1 MiB from 4 bytes of body
	alloc = allocated(func() {
		if _, err := decodeOne(t, new(Decoder), withRecords(Attributes(Snappy), 1, implausible)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("implausible claim: %v", err)
		}
	})
	checkBudget(t, alloc, 64<<10) // refused before the 1 MiB output is allocated
	xerialBomb := append(append([]byte{}, xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1)
	for range 1000 {
		xerialBomb = append(xerialBomb, 0, 0, 0, 5, 0x80, 0x80, 0x80, 0x01, 0) // 2 MiB claims
	}
	if _, err := decodeOne(t, &Decoder{MaxDecompressedSize: 1 << 20}, withRecords(Attributes(Snappy), 1, xerialBomb)); err == nil {
		t.Errorf("xerial claims accepted")
	}
}

// zstdRawFrame wraps data in a zstd frame the way a streaming encoder that does not know
// the input size writes it (the Java client's): no content size, window 2^windowLog, one
// raw block.
func zstdRawFrame(windowLog int, data []byte) []byte {
	f := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, byte((windowLog - 10) << 3)}
	h := uint32(1) | uint32(len(data))<<3 // last block, raw
	f = append(f, byte(h), byte(h>>8), byte(h>>16))
	return append(f, data...)
}

// TestZstdLargeWindowSmallLimit: a frame may declare a window far larger than the batch
// (128 MiB at zstd's highest levels); decoding it under a 1 MiB limit must work and must
// not allocate the window.
func TestZstdLargeWindowSmallLimit(t *testing.T) {
	recs := sampleRecords()
	plain := build(t, None, NoProducer(), recs)
	raw := withRecords(Attributes(Zstd), int32(len(recs)), zstdRawFrame(27, plain[headerSize:]))
	var got []troupe.Record
	var err error
	alloc := allocated(func() {
		got, err = decodeOne(t, &Decoder{MaxDecompressedSize: 1 << 20}, raw)
	})
	if err != nil || len(got) != 1+len(recs) {
		t.Fatalf("%v, %d records", err, len(got))
	}
	checkBudget(t, alloc, 1<<20)
}

// TestZstdBombWithoutContentSize: a streamed zstd frame does not declare its size, so the
// decoder grows its output step by step; it must still stop at the limit.
func TestZstdBombWithoutContentSize(t *testing.T) {
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(make([]byte, 16<<20))
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(buf.Bytes()); err != nil || h.HasFCS {
		t.Fatalf("want a frame without content size: %v %+v", err, h)
	}
	raw := withRecords(Attributes(Zstd), 1, buf.Bytes())
	const limit = 1 << 20
	alloc := allocated(func() {
		if _, err := decodeOne(t, &Decoder{MaxDecompressedSize: limit}, raw); !errors.Is(err, ErrTooLarge) {
			t.Errorf("err %v, want ErrTooLarge", err)
		}
	})
	// Each attempt allocates its capacity, and a raw or RLE block appended past the
	// capacity reallocates once more (append doubles): 64 KiB, 128 KiB ... 1 MiB, each up
	// to three times over, stays under 6 MiB.
	t.Logf("allocated %d bytes refusing it", alloc)
	checkBudget(t, alloc, 6*limit)
}
