package troupe

import "errors"

// The two classes every record error belongs to. Every error the producer reports about a
// record matches exactly one of them with errors.Is, so a caller can tell whether a retry of
// its own could duplicate the record.
var (
	// ErrNotWritten marks an error after which the record is definitely not in the log:
	// it was refused at the door (its context was done before it was accepted, too),
	// rejected by the broker without being appended, or never left the client.
	ErrNotWritten = errors.New("troupe: record not written")

	// ErrMaybeWritten marks an error after which the record may or may not be in the log:
	// a request timed out or a connection broke after the request was sent, the delivery
	// timeout or a Close deadline expired while the outcome was unknown, or a caller
	// stopped waiting (its context ended) after the record was accepted.
	ErrMaybeWritten = errors.New("troupe: record may have been written")
)

// ErrClosed is returned by operations on a producer or consumer that has been closed, and
// wrapped into the error reported for records that a Close gave up on.
var ErrClosed = errors.New("troupe: closed")
