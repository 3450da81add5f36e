package record

import "errors"

// Errors that decoding returns, wrapped with detail; match them with [errors.Is].
var (
	// ErrCorrupt marks bytes that cannot be a valid batch or record: a length or count that
	// does not fit the bytes present, a negative length other than -1, bytes left over
	// after the declared records, or a compressed stream that does not decode.
	ErrCorrupt = errors.New("record: corrupt batch")

	// ErrChecksum marks a batch (or legacy message) whose stored CRC does not match its
	// bytes. It also matches ErrCorrupt.
	ErrChecksum = &wrapErr{msg: "record: checksum mismatch", parent: ErrCorrupt}

	// ErrTooLarge marks a compressed batch that decompresses to more than the
	// [Decoder]'s MaxDecompressedSize. Decompression stops once its output passes the
	// limit (by at most one compression block); nothing is decompressed in full first.
	ErrTooLarge = errors.New("record: decompressed batch exceeds the size limit")

	// ErrUnsupported marks input that is well formed but that this package does not
	// handle: an unknown magic byte or compression codec.
	ErrUnsupported = errors.New("record: unsupported format")

	// ErrEmptyBatch is returned by [Builder.Seal] when no record was appended: Kafka
	// rejects batches without records.
	ErrEmptyBatch = errors.New("record: batch has no records")

	// ErrNotBatch is returned by [Restamp] when its input is not a sealed v2 batch.
	ErrNotBatch = errors.New("record: not a v2 record batch")
)

// wrapErr is a sentinel error that also matches a more general sentinel.
type wrapErr struct {
	msg    string
	parent error
}

func (e *wrapErr) Error() string { return e.msg }
func (e *wrapErr) Unwrap() error { return e.parent }
