package record

import (
	"errors"
	"fmt"
	"math"

	"github.com/troupe-go/troupe"
)

// A caller that keeps its own storage for open batches (a producer's accumulator, which
// encodes each record into its partition's open batch as the record arrives, while the
// record is still in the caller's cache) builds a batch with these instead of a Builder:
// it leaves BatchHeaderSize bytes of room at the start of its buffer, appends records with
// AppendRecord, and seals with SealRecords once the producer stamp is known. The bytes are
// those a Builder would produce for the same records and stamp.

// BatchHeaderSize is the size of a v2 record batch's header: the room to leave at the
// start of a buffer before the first AppendRecord.
const BatchHeaderSize = headerSize

// errNoHeaderRoom is SealRecords' error for a buffer shorter than a header.
var errNoHeaderRoom = errors.New("record: records buffer has no room for the batch header")

// AppendRecord appends r to dst encoded as record number offsetDelta of a batch whose
// first record's timestamp is firstTS (as TimestampMillis gives it; the first record's
// own delta is 0), exactly as Builder.Append encodes it, and returns the extended slice.
// It takes EncodedLen(r, offsetDelta, firstTS) bytes; when dst has less room than that it
// grows (at least doubling), so a caller that recycles storage makes the room first.
// AppendRecord keeps no reference to r.
func AppendRecord(dst []byte, r *troupe.Record, offsetDelta int32, firstTS int64) []byte {
	return AppendSized(dst, r, Size(r, offsetDelta, TimestampMillis(r), firstTS))
}

// Sized is a record sized by Size for its place in a batch: what AppendSized writes.
type Sized struct {
	// Len is the bytes the record takes encoded, its length prefix included: what
	// EncodedLen returns.
	Len         int
	body        int
	offsetDelta int32
	tsDelta     int64
}

// Size sizes r as record number offsetDelta of a batch whose first record's timestamp
// is firstTS, given ts, r's own timestamp as TimestampMillis gives it (a caller that has
// it saves converting r's time again). Sizing and then appending the result with
// AppendSized computes each length once, where EncodedLen and AppendRecord each do.
func Size(r *troupe.Record, offsetDelta int32, ts, firstTS int64) Sized {
	var tsDelta int64
	if offsetDelta > 0 {
		tsDelta = ts - firstTS
	}
	body := recordBodyLen(r, offsetDelta, tsDelta)
	return Sized{Len: varintLen(int32(min(body, math.MaxInt32))) + body, body: body, offsetDelta: offsetDelta, tsDelta: tsDelta}
}

// AppendSized appends r, which Size sized (and which has not changed since), to dst:
// the bytes AppendRecord would append, with the same growth.
func AppendSized(dst []byte, r *troupe.Record, s Sized) []byte {
	return appendRecord(dst, r, s.offsetDelta, s.tsDelta, s.body)
}

// SealRecords finishes a batch of n records encoded by AppendRecord into records after
// BatchHeaderSize bytes of room, whose first record has timestamp firstTS and whose
// largest timestamp is maxTS, stamped with p. Uncompressed (c nil, or c of codec None) it
// writes the header into records' room and returns records. Compressed, it writes the
// header and the compressed records into out's storage (its contents are overwritten;
// with room for BatchHeaderSize + c.Bound(len(records)-BatchHeaderSize) bytes nothing is
// allocated) and returns that; records is left as it was, the caller's again.
//
// It returns ErrEmptyBatch for n < 1, and an error for records without room for the
// header, a batch past 2 GiB or a failed compression.
func SealRecords(c *Compressor, out, records []byte, n int32, firstTS, maxTS int64, p Producer) ([]byte, error) {
	if n < 1 {
		return nil, ErrEmptyBatch
	}
	if len(records) < headerSize {
		return nil, errNoHeaderRoom
	}
	codec := None
	if c != nil {
		codec = c.c.Codec
	}
	batch := records
	if codec != None {
		var err error
		batch, err = c.AppendCompressed(append(out[:0], make([]byte, headerSize)...), records[headerSize:])
		if err != nil {
			return nil, err
		}
	}
	if len(batch) > math.MaxInt32 {
		return nil, fmt.Errorf("record: sealed batch of %d bytes exceeds 2 GiB", len(batch))
	}
	writeHeader(batch, codec, n, firstTS, maxTS, p)
	return batch, nil
}
