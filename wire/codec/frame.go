package codec

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unsafe"
)

// BeginFrame reserves a 4-byte size prefix for a request or response frame. It returns the
// extended slice and a mark to pass to [EndFrame].
func BeginFrame(dst []byte) ([]byte, int) {
	return append(dst, 0, 0, 0, 0), len(dst)
}

// EndFrame writes the size of everything appended since the matching [BeginFrame] into the
// reserved prefix.
func EndFrame(dst []byte, mark int) []byte {
	binary.BigEndian.PutUint32(dst[mark:], uint32(len(dst)-mark-4))
	return dst
}

// ReadFrame reads one size-prefixed frame from r and returns its body (without the prefix).
// The body is read into buf when its capacity allows, so a caller that passes back the
// previous result reads without allocating; otherwise a new slice of exactly the needed
// size is allocated.
//
// A size above maxSize fails with [ErrFrameTooLarge] before the body is allocated or read; a negative size fails with [ErrInvalidLength]. A stream that ends inside
// the prefix or the body fails with [io.ErrUnexpectedEOF] (or [io.EOF] when it ends cleanly
// before the first byte of the prefix).
func ReadFrame(r io.Reader, buf []byte, maxSize int) ([]byte, error) {
	// The prefix is read into buf itself: a local array would escape to the heap through
	// the io.Reader interface and cost an allocation per frame.
	if cap(buf) < 4 {
		buf = make([]byte, 4, 512)
	}
	prefix := buf[:4]
	if _, err := io.ReadFull(r, prefix); err != nil {
		return buf[:0], err
	}
	size := int64(int32(binary.BigEndian.Uint32(prefix)))
	if size < 0 {
		return buf[:0], fmt.Errorf("frame size %d: %w", size, ErrInvalidLength)
	}
	if size > int64(maxSize) {
		return buf[:0], fmt.Errorf("frame size %d above maximum %d: %w", size, maxSize, ErrFrameTooLarge)
	}
	switch {
	case int64(cap(buf)) >= size:
		buf = buf[:size]
	case size >= noZeroSize:
		buf = makeNoZero(int(size))
	default:
		buf = make([]byte, size)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:0], err
	}
	return buf, nil
}

// noZeroSize is the frame size from which ReadFrame allocates without zeroing.
const noZeroSize = 64 << 10

// makeNoZero returns a new byte slice of length n whose contents are arbitrary: the
// caller overwrites all of it. It is for the bodies of large frames (a fetch response of
// megabytes), which ReadFrame fills from the stream at once: zeroing them first, as make
// does, cost ~10% of a consumer's CPU at 6 partitions, more than their decoding's
// allocations (docs/benchmarks.md, 2026-12-07). The Go runtime allocates without zeroing
// only internally; strings.Builder.Grow is the one exported path to it, so the memory is
// taken from a builder that is then dropped. It holds no pointers, so the garbage
// collector never reads the arbitrary bytes, and nothing else refers to it: the string
// made to reach it is never used as one.
func makeNoZero(n int) []byte {
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(0) // a string of length 0 need not point at the builder's memory
	return unsafe.Slice(unsafe.StringData(b.String()), n)
}
