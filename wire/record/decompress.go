package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// DefaultMaxDecompressedSize is the limit a [Decoder] applies when its MaxDecompressedSize
// is zero: 128 MiB, far above what producers build (their batches are bounded before
// compression, by default to 1 MiB), far below what a hostile batch could claim.
const DefaultMaxDecompressedSize = 128 << 20

// decompressors holds the reusable decompression state of a Decoder. Gzip and lz4 decode
// as streams into a scratch buffer that is read only up to the limit; zstd decodes with a
// decoder whose own limit is checked block by block; snappy declares its decoded length
// up front and is checked before anything is allocated. The result is copied out of the
// scratch buffer into a buffer of exactly the right size, which the decoded records alias
// and which is therefore never reused.
type decompressors struct {
	src     bytes.Reader
	gz      gzip.Reader
	lz      *lz4.Reader
	zd      *zstd.Decoder
	scratch []byte
}

// xerialMagic opens the xerial framing ("\x82SNAPPY\x00", then two int32 versions) that
// the Java client's snappy stream writes; the chunks that follow are an int32 length and a
// snappy block each.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

// maxSnappyRatio bounds how many bytes one byte of a valid snappy block can expand to:
// the densest element, a 3-byte copy, yields 64 bytes. A block whose declared length
// exceeds this ratio is corrupt and is refused before its output is allocated.
const maxSnappyRatio = 22

// decompress returns src decompressed with codec into a newly allocated buffer of exactly
// the decompressed size, or an error wrapping ErrTooLarge once more than limit bytes come
// out, ErrCorrupt for a stream that does not decode, or ErrUnsupported for an unknown
// codec.
func (d *decompressors) decompress(codec Codec, src []byte, limit int) ([]byte, error) {
	switch codec {
	case Snappy:
		if len(src) >= xerialHeaderSize && bytes.Equal(src[:len(xerialMagic)], xerialMagic) {
			return decodeXerial(src[xerialHeaderSize:], limit)
		}
		return decodeSnappy(src, limit)
	case Gzip:
		d.src.Reset(src)
		if err := d.gz.Reset(&d.src); err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		return d.stream(&d.gz, "gzip", limit)
	case LZ4:
		d.src.Reset(src)
		if d.lz == nil {
			d.lz = lz4.NewReader(&d.src)
		} else {
			d.lz.Reset(&d.src)
		}
		return d.stream(d.lz, "lz4", limit)
	case Zstd:
		return d.zstd(src, limit)
	}
	return nil, fmt.Errorf("%w: compression codec %s", ErrUnsupported, codec)
}

// zstd decodes src with DecodeAll capped at the capacity of its destination, which never
// exceeds limit: the destination is sized by the frame's declared content size when it
// has one, and otherwise starts at four times the input and doubles, decoding again,
// until the output fits or the limit is reached, so the work done is at most twice that
// of one decode at the final size.
//
// A capped decode fails with ErrDecoderSizeExceeded or, from inside a block, with a
// generic error; a failure counts as "out of room" when the output got within two blocks
// of the capacity, and as corruption otherwise. The decoder's own memory limit is set
// high because it also caps the frame's window size, which costs DecodeAll nothing (the
// output is the window) and which the Java client sets to MiBs whatever the batch size.
func (d *decompressors) zstd(src []byte, limit int) ([]byte, error) {
	if d.zd == nil {
		// Concurrency 1 and DecodeAll only: decoding runs on the caller's goroutine and
		// the decoder never starts one, so it needs no Close.
		zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxMemory(1<<40))
		if err != nil {
			return nil, fmt.Errorf("record: zstd: %w", err)
		}
		d.zd = zd
	}
	const slack = 2 * (128 << 10) // two maximum-size blocks
	size := min(limit, max(64<<10, 4*len(src)))
	var h zstd.Header
	if h.Decode(src) == nil && h.HasFCS {
		if h.FrameContentSize > uint64(limit) {
			return nil, fmt.Errorf("%w: zstd frame declares %d bytes, limit %d", ErrTooLarge, h.FrameContentSize, limit)
		}
		size = max(int(h.FrameContentSize), 1)
	}
	// The decoder's fast paths need 32 bytes of room past the output; with them the
	// capacity may pass the limit by that much, so a success is checked against limit.
	const overAlloc = 32
	for {
		dst := d.scratch[:0:min(cap(d.scratch), limit+overAlloc)]
		if cap(dst) < size+overAlloc {
			dst = make([]byte, 0, size+overAlloc)
		}
		room := cap(dst) - overAlloc // >= size; the scratch buffer may offer more
		out, err := d.zd.DecodeAll(src, dst)
		if cap(out) <= limit+overAlloc {
			d.scratch = out[:0]
		}
		if err == nil && len(out) > limit {
			return nil, fmt.Errorf("%w: zstd: more than %d bytes", ErrTooLarge, limit)
		}
		if err == nil {
			return bytes.Clone(out), nil
		}
		if !errors.Is(err, zstd.ErrDecoderSizeExceeded) && len(out)+slack < room {
			return nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		if room >= limit {
			return nil, fmt.Errorf("%w: zstd: more than %d bytes", ErrTooLarge, limit)
		}
		size = min(2*room, limit)
	}
}

// stream reads r to its end into the scratch buffer, failing as soon as more than limit
// bytes come out, and returns a right-sized copy.
func (d *decompressors) stream(r io.Reader, name string, limit int) ([]byte, error) {
	buf := d.scratch[:0]
	for {
		if len(buf) == cap(buf) {
			// Grow geometrically, but never beyond limit+1: one byte past the limit is
			// enough to know it was exceeded.
			grow := min(max(cap(buf), 32<<10), limit+1-len(buf))
			buf = append(buf, make([]byte, grow)...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > limit {
			d.scratch = buf[:0]
			return nil, fmt.Errorf("%w: %s: more than %d bytes", ErrTooLarge, name, limit)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			d.scratch = buf[:0]
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
		}
	}
	d.scratch = buf[:0]
	return bytes.Clone(buf), nil
}

// decodeSnappy decodes one snappy block after checking its declared length.
func decodeSnappy(src []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: snappy block declares %d bytes, limit %d", ErrTooLarge, n, limit)
	}
	if n > maxSnappyRatio*len(src) {
		return nil, fmt.Errorf("%w: snappy block of %d bytes declares %d", ErrCorrupt, len(src), n)
	}
	out, err := s2.Decode(make([]byte, n), src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	return out, nil
}

// decodeXerial decodes the chunks of a xerial-framed snappy stream (header removed): it
// walks the chunk lengths first to check them and the total against limit, then decodes
// every chunk into one buffer.
func decodeXerial(src []byte, limit int) ([]byte, error) {
	total := 0
	for rem := src; len(rem) > 0; {
		chunk, next, err := xerialChunk(rem)
		if err != nil {
			return nil, err
		}
		n, err := s2.DecodedLen(chunk)
		if err != nil {
			return nil, fmt.Errorf("%w: snappy (xerial): %v", ErrCorrupt, err)
		}
		if n > maxSnappyRatio*len(chunk) {
			return nil, fmt.Errorf("%w: snappy (xerial) chunk of %d bytes declares %d", ErrCorrupt, len(chunk), n)
		}
		if n > limit-total {
			return nil, fmt.Errorf("%w: snappy (xerial): more than %d bytes", ErrTooLarge, limit)
		}
		total += n
		rem = next
	}
	out := make([]byte, total)
	pos := 0
	for rem := src; len(rem) > 0; {
		chunk, next, _ := xerialChunk(rem) // checked above
		n, _ := s2.DecodedLen(chunk)
		if _, err := s2.Decode(out[pos:pos+n], chunk); err != nil {
			return nil, fmt.Errorf("%w: snappy (xerial): %v", ErrCorrupt, err)
		}
		pos += n
		rem = next
	}
	return out, nil
}

// xerialChunk splits the first length-prefixed chunk off src.
func xerialChunk(src []byte) (chunk, rest []byte, err error) {
	if len(src) < 4 {
		return nil, nil, fmt.Errorf("%w: snappy (xerial): %d stray bytes", ErrCorrupt, len(src))
	}
	n := binary.BigEndian.Uint32(src)
	if uint64(n) > uint64(len(src)-4) {
		return nil, nil, fmt.Errorf("%w: snappy (xerial): chunk of %d bytes, %d present", ErrCorrupt, n, len(src)-4)
	}
	return src[4 : 4+n], src[4+n:], nil
}
