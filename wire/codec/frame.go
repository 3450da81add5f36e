package codec

import (
	"encoding/binary"
	"fmt"
	"io"
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
	if int64(cap(buf)) >= size {
		buf = buf[:size]
	} else {
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
