package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"

	"github.com/troupe-go/troupe"
)

// Builder assembles one batch at a time from records appended as they arrive. It allocates
// nothing per record: records are encoded straight into a buffer that is reused from batch
// to batch, and [Builder.Size] tells the caller, before or after each append, how large
// the sealed batch can be.
//
// The life of a batch is Reset, Append..., Seal. Seal hands the finished bytes to the
// caller, who owns them from then on (to send, to [Restamp], to retry) and may give the
// storage back through the next Reset once the broker has acknowledged the batch. A
// Builder is owned by one goroutine at a time; it is not safe for concurrent use.
//
// Uncompressed, records are encoded into the buffer given to Reset behind room for the
// header, and Seal only writes the header. Compressed, records are encoded into a scratch
// buffer the Builder keeps, and Seal compresses them into the buffer given to Reset.
type Builder struct {
	comp  *Compressor
	codec Codec

	out     []byte // the buffer Seal returns: caller storage from Reset
	records []byte // where records are encoded: out (uncompressed) or scratch (compressed)
	start   int    // index of the first record in records

	n       int32
	firstTS int64
	maxTS   int64
	err     error
}

// NewBuilder returns a Builder that compresses with c, or leaves batches uncompressed when
// c is nil. The Builder starts empty, as if Reset(nil) had been called.
func NewBuilder(c *Compressor) *Builder {
	b := &Builder{comp: c}
	if c != nil {
		b.codec = c.c.Codec
	}
	b.Reset(nil)
	return b
}

// Reset discards any records appended since the last Seal and starts a new batch that Seal
// will write into buf's storage (buf's contents are overwritten; its length is ignored).
// Passing the storage of a batch the broker has acknowledged makes the next batch free of
// allocation once it is large enough; passing nil makes Seal allocate.
func (b *Builder) Reset(buf []byte) {
	b.out = buf[:0]
	b.n, b.firstTS, b.maxTS, b.err = 0, -1, -1, nil
	if b.codec == None {
		b.records = append(b.out, make([]byte, headerSize)...)
		b.start = headerSize
	} else {
		b.records = b.records[:0]
		b.start = 0
	}
}

// clear empties the Builder after Seal without taking storage: the next Append allocates
// unless Reset provides a buffer first.
func (b *Builder) clear() {
	b.out = nil
	b.n, b.firstTS, b.maxTS, b.err = 0, -1, -1, nil
	if b.codec == None {
		b.records = nil
	} else {
		b.records = b.records[:0]
	}
}

// recordsLen returns the number of bytes of records encoded so far.
func (b *Builder) recordsLen() int { return max(0, len(b.records)-b.start) }

// Len returns the number of records appended since the last Reset or Seal.
func (b *Builder) Len() int { return int(b.n) }

// Size returns an upper bound on the size of the batch Seal would return now, header
// included. Uncompressed it is exact; compressed it assumes the records do not compress at
// all and adds the codec's worst-case framing, so a batch never comes out larger.
func (b *Builder) Size() int {
	return headerSize + compressBound(b.codec, b.recordsLen())
}

// SizeFor returns an upper bound on the size of a sealed batch whose records take n bytes
// encoded: what Size would return once they were appended.
func (b *Builder) SizeFor(n int) int {
	return headerSize + compressBound(b.codec, n)
}

// SizeWith returns what Size would return after Append(r), without appending r. A caller
// that must keep batches under a limit seals the current batch first when SizeWith exceeds
// the limit and the batch is not empty.
func (b *Builder) SizeWith(r *troupe.Record) int {
	return b.SizeFor(b.recordsLen() + EncodedLen(r, b.n, b.firstTS))
}

// Append encodes r at the end of the batch: offset delta Len(), timestamp delta from the
// first record's timestamp, key, value and headers (nil key, value or header value as
// null). A zero r.Timestamp is encoded as -1, Kafka's "no timestamp". Append reads r and
// keeps no reference to it.
//
// A record whose encoding would push the batch past 2 GiB is not appended, and the next
// Seal reports it.
func (b *Builder) Append(r *troupe.Record) {
	if b.err != nil {
		return
	}
	tsDelta, ts := b.timestampDelta(r)
	body := recordBodyLen(r, b.n, tsDelta)
	if body > math.MaxInt32-headerSize-5-b.recordsLen() || b.n == math.MaxInt32 {
		b.err = fmt.Errorf("record: batch would exceed 2 GiB or 2^31 records")
		return
	}
	if len(b.records) < b.start {
		b.records = append(b.records[:0], make([]byte, headerSize)...) // after Seal, no Reset
	}
	if b.n == 0 {
		b.firstTS, b.maxTS = ts, ts
	} else if ts > b.maxTS {
		b.maxTS = ts
	}

	b.records = appendRecord(b.records, r, b.n, tsDelta, body)
	b.n++
}

// Seal finishes the batch and returns it: base offset 0, partition leader epoch -1, magic
// 2, create-time timestamps, the Builder's codec, producer stamp p, and a CRC-32C over
// everything from the attributes on. The returned bytes belong to the caller; the Builder
// keeps no reference to them and is left empty; call Reset to give it storage for the
// next batch.
//
// Seal returns [ErrEmptyBatch] when no record was appended, and an error if a record was
// refused by Append or compression failed; the appended records are discarded in every
// case.
func (b *Builder) Seal(p Producer) ([]byte, error) {
	defer b.clear()
	if b.err != nil {
		return nil, b.err
	}
	if b.n == 0 {
		return nil, ErrEmptyBatch
	}
	var batch []byte
	if b.codec == None {
		batch = b.records // handed to the caller; clear forgets it
	} else {
		out := append(b.out, make([]byte, headerSize)...)
		var err error
		batch, err = b.comp.AppendCompressed(out, b.records)
		if err != nil {
			return nil, err
		}
	}
	if len(batch) > math.MaxInt32 {
		return nil, fmt.Errorf("record: sealed batch of %d bytes exceeds 2 GiB", len(batch))
	}
	writeHeader(batch, b.codec, b.n, b.firstTS, b.maxTS, p)
	return batch, nil
}

// writeHeader writes the v2 header at the start of batch, whose records section follows
// it: base offset 0, partition leader epoch -1, magic 2, create-time timestamps, codec,
// n records from firstTS to maxTS, producer stamp p; then the CRC-32C over everything
// from the attributes on.
func writeHeader(batch []byte, codec Codec, n int32, firstTS, maxTS int64, p Producer) {
	h := batch[:headerSize]
	binary.BigEndian.PutUint64(h[offBaseOffset:], 0)
	binary.BigEndian.PutUint32(h[offLength:], uint32(len(batch)-lengthPrefix))
	binary.BigEndian.PutUint32(h[offLeaderEpoch:], math.MaxUint32) // -1
	h[offMagic] = 2
	binary.BigEndian.PutUint16(h[offAttributes:], uint16(codec))
	binary.BigEndian.PutUint32(h[offLastOffsetDelta:], uint32(n-1))
	binary.BigEndian.PutUint64(h[offBaseTimestamp:], uint64(firstTS))
	binary.BigEndian.PutUint64(h[offMaxTimestamp:], uint64(maxTS))
	binary.BigEndian.PutUint64(h[offProducerID:], uint64(p.ID))
	binary.BigEndian.PutUint16(h[offProducerEpoch:], uint16(p.Epoch))
	binary.BigEndian.PutUint32(h[offBaseSequence:], uint32(p.BaseSequence))
	binary.BigEndian.PutUint32(h[offRecordCount:], uint32(n))
	binary.BigEndian.PutUint32(h[offCRC:], crc32.Checksum(batch[offAttributes:], castagnoli))
}

// TimestampMillis returns r's timestamp as a batch encodes it: Unix milliseconds, or -1
// ("no timestamp") for the zero time.
func TimestampMillis(r *troupe.Record) int64 {
	if r.Timestamp.IsZero() {
		return -1
	}
	return r.Timestamp.UnixMilli()
}

// EncodedLen returns the bytes r takes encoded in a batch as its record number
// offsetDelta, in a batch whose first record has timestamp firstTS (as TimestampMillis
// gives it): what Append(r) adds to the records of an uncompressed batch.
func EncodedLen(r *troupe.Record, offsetDelta int32, firstTS int64) int {
	return Size(r, offsetDelta, TimestampMillis(r), firstTS).Len
}

// timestampDelta returns r's timestamp in milliseconds (-1 for the zero time) and its
// delta from the batch's first timestamp (0 for the first record).
func (b *Builder) timestampDelta(r *troupe.Record) (delta, ts int64) {
	ts = TimestampMillis(r)
	if b.n == 0 {
		return 0, ts
	}
	return ts - b.firstTS, ts
}

// recordBodyLen returns the encoded size of r after its length prefix, as record number
// offsetDelta of its batch with timestamp delta tsDelta.
func recordBodyLen(r *troupe.Record, offsetDelta int32, tsDelta int64) int {
	n := 1 + varlongLen(tsDelta) + varintLen(offsetDelta) +
		bytesLen(r.Key) + bytesLen(r.Value) + varintLen(int32(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		n += varintLen(int32(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	return n
}

// bytesLen returns the encoded size of a nullable byte string.
func bytesLen(p []byte) int {
	if p == nil {
		return 1
	}
	return varintLen(int32(len(p))) + len(p)
}

// putBytes writes a nullable byte string, its varint length (-1 for nil) and bytes, at the
// start of w, which must have room, and returns the number of bytes written.
func putBytes(w, p []byte) int {
	if p == nil {
		w[0] = 1 // zig-zag -1
		return 1
	}
	n := putUvarint(w, uint64(zigzag32(int32(len(p)))))
	return n + copy(w[n:], p)
}

// unixMilli converts a record timestamp from the wire: -1 ("no timestamp") becomes the
// zero time, anything else the instant that many milliseconds from the Unix epoch.
func unixMilli(ms int64) time.Time {
	if ms == -1 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// appendRecord writes r at the end of w as record number offsetDelta with timestamp delta
// tsDelta, whose body (after the length prefix) takes body bytes, and returns the
// extended slice, grown if it lacked room.
func appendRecord(w []byte, r *troupe.Record, offsetDelta int32, tsDelta int64, body int) []byte {
	// Make room once, then write in place: cheaper than an append per field.
	if need := uvarintLen(uint64(zigzag32(int32(body)))) + body; cap(w)-len(w) < need {
		// At least double: growing a large batch by append's quarter at a time would
		// copy it several times over.
		w = slices.Grow(w, max(need, cap(w)))
	}
	p := len(w)
	w = w[:cap(w)]
	p += putUvarint(w[p:], uint64(zigzag32(int32(body))))
	w[p] = 0 // record attributes: unused
	p++
	p += putUvarint(w[p:], zigzag64(tsDelta))
	p += putUvarint(w[p:], uint64(zigzag32(offsetDelta)))
	p += putBytes(w[p:], r.Key)
	p += putBytes(w[p:], r.Value)
	p += putUvarint(w[p:], uint64(zigzag32(int32(len(r.Headers)))))
	for i := range r.Headers {
		h := &r.Headers[i]
		p += putUvarint(w[p:], uint64(zigzag32(int32(len(h.Key)))))
		p += copy(w[p:], h.Key)
		p += putBytes(w[p:], h.Value)
	}
	return w[:p]
}
