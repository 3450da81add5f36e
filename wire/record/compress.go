package record

import (
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression selects how [Builder.Seal] compresses the records section.
//
// Level follows Kafka's compression.<codec>.level settings where they exist; 0 always means
// the codec's default:
//
//   - gzip: 1 (fastest) to 9 (smallest); default 6.
//   - snappy: no levels; 0 encodes fast, 1 spends about twice the time for smaller output.
//   - lz4: 1 to 9 select the high-compression levels, which are far slower; default is the
//     fast compressor.
//   - zstd: zstd's native levels 1 to 22, mapped onto four encoder speeds (below 3
//     fastest, 3-5 default, 6-9 better, 10 and up best); default 3.
type Compression struct {
	Codec Codec // the codec; None disables compression
	Level int   // codec-specific level as above; 0 for the default
}

// Compressor compresses records sections with one codec at one level. It keeps encoder
// state (gzip, lz4 and zstd encoders are costly to create) in pools, so that compressing a
// batch allocates nothing once the pools are warm. A Compressor is safe for concurrent
// use; a producer shares one among all its builders.
type Compressor struct {
	c    Compression
	pool sync.Pool // *gzipState, *lz4State or *zstd.Encoder, by codec
}

// Encoder settings. lz4 uses 64 KiB independent blocks with a content checksum, the frame
// Kafka's Java client writes (KIP-57); zstd encodes each batch as one frame with the
// content size declared, so decoders can size their output.
const (
	lz4Block       = lz4.Block64Kb
	zstdWindowSize = 1 << 20
)

// NewCompressor returns a Compressor for c, or an error wrapping [ErrUnsupported] for an
// unknown codec or a level outside the ranges documented on [Compression].
func NewCompressor(c Compression) (*Compressor, error) {
	bad := func() (*Compressor, error) {
		return nil, fmt.Errorf("%w: %s level %d", ErrUnsupported, c.Codec, c.Level)
	}
	z := &Compressor{c: c}
	switch c.Codec {
	case None:
		if c.Level != 0 {
			return bad()
		}
	case Gzip:
		if c.Level < 0 || c.Level > 9 {
			return bad()
		}
		level := c.Level
		if level == 0 {
			level = 6
		}
		z.pool.New = func() any {
			st := new(gzipState)
			st.w, _ = gzip.NewWriterLevel(&st.out, level) // level checked above
			return st
		}
	case Snappy:
		if c.Level < 0 || c.Level > 1 {
			return bad()
		}
	case LZ4:
		if c.Level < 0 || c.Level > 9 {
			return bad()
		}
		level := lz4.Fast
		if c.Level > 0 {
			level = lz4.Level1 << (c.Level - 1)
		}
		z.pool.New = func() any {
			st := new(lz4State)
			st.w = lz4.NewWriter(&st.out)
			// The options are valid constants; Apply fails only on a used writer.
			_ = st.w.Apply(lz4.BlockSizeOption(lz4Block), lz4.ChecksumOption(true),
				lz4.ConcurrencyOption(1), lz4.CompressionLevelOption(level))
			return st
		}
	case Zstd:
		if c.Level < 0 || c.Level > 22 {
			return bad()
		}
		level := zstd.SpeedDefault
		if c.Level > 0 {
			level = zstd.EncoderLevelFromZstd(c.Level)
		}
		z.pool.New = func() any {
			// EncodeAll with concurrency 1 runs on the caller's goroutine: the encoder
			// starts no goroutines and needs no Close. The options are valid constants.
			enc, _ := zstd.NewWriter(nil,
				zstd.WithEncoderConcurrency(1),
				zstd.WithEncoderLevel(level),
				zstd.WithWindowSize(zstdWindowSize),
				zstd.WithZeroFrames(true))
			return enc
		}
	default:
		return bad()
	}
	return z, nil
}

// Compression returns the codec and level the Compressor was created with.
func (z *Compressor) Compression() Compression { return z.c }

// Bound returns an upper bound on the compressed size of n input bytes. It holds for any
// input, including incompressible data, which every codec stores with a little framing.
func (z *Compressor) Bound(n int) int { return compressBound(z.c.Codec, n) }

// compressBound is Bound for a codec. Snappy's worst case is its format's own bound; gzip,
// lz4 and zstd store incompressible input in raw blocks of at least 16 KiB with a few bytes
// of framing each, plus fixed headers and trailers, all well within n/256 + 64.
func compressBound(c Codec, n int) int {
	switch c {
	case None:
		return n
	case Snappy:
		if b := s2.MaxEncodedLen(n); b >= 0 {
			return b
		}
		return n + n/6 + 32 // beyond 4 GiB; Seal refuses such a batch anyway
	}
	return n + n/256 + 64
}

// AppendCompressed appends src, compressed, to dst and returns the extended slice. When
// cap(dst)-len(dst) >= Bound(len(src)) nothing is allocated once the encoder pool is warm.
func (z *Compressor) AppendCompressed(dst, src []byte) ([]byte, error) {
	dst = slices.Grow(dst, z.Bound(len(src)))
	switch z.c.Codec {
	case None:
		return append(dst, src...), nil
	case Snappy:
		tail := dst[len(dst):cap(dst)]
		var out []byte
		if z.c.Level == 1 {
			out = s2.EncodeSnappyBetter(tail, src)
		} else {
			out = s2.EncodeSnappy(tail, src)
		}
		return dst[:len(dst)+len(out)], nil
	case Zstd:
		enc := z.pool.Get().(*zstd.Encoder)
		dst = enc.EncodeAll(src, dst)
		z.pool.Put(enc)
		return dst, nil
	case Gzip:
		st := z.pool.Get().(*gzipState)
		defer z.pool.Put(st)
		st.out.b = dst
		st.w.Reset(&st.out)
		_, err := st.w.Write(src)
		if err == nil {
			err = st.w.Close()
		}
		dst, st.out.b = st.out.b, nil
		if err != nil {
			return dst, fmt.Errorf("record: gzip: %w", err)
		}
		return dst, nil
	case LZ4:
		st := z.pool.Get().(*lz4State)
		defer z.pool.Put(st)
		st.out.b = dst
		st.w.Reset(&st.out)
		_, err := st.w.Write(src)
		if err == nil {
			err = st.w.Close()
		}
		dst, st.out.b = st.out.b, nil
		if err != nil {
			return dst, fmt.Errorf("record: lz4: %w", err)
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%w: codec %s", ErrUnsupported, z.c.Codec)
}

// sliceWriter is an io.Writer appending to a byte slice; the pooled encoder states embed
// one so that pointing an encoder at a new destination allocates nothing.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

type gzipState struct {
	w   *gzip.Writer
	out sliceWriter
}

type lz4State struct {
	w   *lz4.Writer
	out sliceWriter
}
