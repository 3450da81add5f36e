package codec

import "errors"

// Errors returned (wrapped, with the name of what was being read) by decoding and framing.
// Match them with [errors.Is].
var (
	// ErrShortBuffer means the input ended before the value being read.
	ErrShortBuffer = errors.New("codec: short buffer")
	// ErrInvalidLength means a length or count prefix is negative (other than the -1 of a
	// null), or larger than the bytes that remain, so it cannot be honest.
	ErrInvalidLength = errors.New("codec: invalid length")
	// ErrVarintOverflow means a varint runs past the width of its type.
	ErrVarintOverflow = errors.New("codec: varint overflows")
	// ErrUnexpectedNull means a null was read where the message version does not allow one.
	ErrUnexpectedNull = errors.New("codec: unexpected null")
	// ErrTrailingBytes means a message or tagged field was decoded completely but bytes
	// remain after it.
	ErrTrailingBytes = errors.New("codec: trailing bytes")
	// ErrFrameTooLarge means a frame's size prefix exceeds the configured maximum; nothing
	// was allocated for it.
	ErrFrameTooLarge = errors.New("codec: frame too large")
)
