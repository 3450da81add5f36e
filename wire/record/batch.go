package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Byte offsets of the v2 batch header fields.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// headerSize is the size of the fixed v2 header; the records section follows it.
	headerSize = 61
	// lengthPrefix is what precedes and is not counted in batchLength (and, for legacy
	// message sets, in message_size): the base offset and the length itself.
	lengthPrefix = 12
	// minRecordSize is the smallest possible encoded record: seven one-byte fields
	// (length, attributes, timestamp delta, offset delta, key length, value length,
	// header count).
	minRecordSize = 7
)

// castagnoli is the CRC-32C table; hash/crc32 uses the CPU's CRC instruction for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Producer is the idempotence stamp of a batch: the producer id and epoch the broker
// assigned, and the sequence number of the batch's first record. Record i of the batch has
// sequence BaseSequence+i (wrapping at MaxInt32 to 0, which is the broker's business).
type Producer struct {
	ID           int64 // producerId from InitProducerId, -1 without idempotence
	Epoch        int16 // producerEpoch, -1 without idempotence
	BaseSequence int32 // sequence of the first record, -1 without idempotence
}

// NoProducer returns the stamp of a batch written without idempotence: every field -1,
// which brokers accept without sequence checks.
func NoProducer() Producer { return Producer{ID: -1, Epoch: -1, BaseSequence: -1} }

// Batch is one parsed batch header together with its records section. A Batch returned by
// a [Scanner] aliases the scanned bytes.
//
// For a legacy message (magic 0 or 1) the Scanner fills the fields a v2 batch would have:
// BaseOffset is the message's offset (for a compressed wrapper, the offset of its last
// inner message), LastOffsetDelta is 0, LeaderEpoch, ProducerID, ProducerEpoch and
// BaseSequence are -1, NumRecords is 1 for a plain message and 0 (unknown) for a wrapper,
// both timestamps are the message's timestamp (-1 for magic 0), and Attributes carry the
// message's codec and timestamp type bits, which sit at the same positions.
type Batch struct {
	// BaseOffset is the offset of the first record (offset delta 0).
	BaseOffset int64
	// Length is the batchLength field: the bytes that follow it, so len(Raw) == 12+Length.
	Length int32
	// LeaderEpoch is the partition leader epoch the broker stored the batch under, or -1.
	LeaderEpoch int32
	// Magic is the format: 2, or 0 and 1 for legacy messages.
	Magic int8
	// CRC is the stored checksum; the Scanner has verified it.
	CRC uint32
	// Attributes carry the codec, timestamp type, transactional and control bits.
	Attributes Attributes
	// LastOffsetDelta is the offset delta of the last record the batch was written with;
	// compaction may have removed records but keeps this field.
	LastOffsetDelta int32
	// BaseTimestamp is the first record's timestamp in milliseconds since the Unix epoch
	// (or the delete horizon, see Attributes.DeleteHorizon); -1 for none.
	BaseTimestamp int64
	// MaxTimestamp is the largest record timestamp, or the broker's append time when
	// Attributes.LogAppendTime; -1 for none.
	MaxTimestamp int64
	// ProducerID, ProducerEpoch and BaseSequence are the idempotence stamp; -1 without.
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	// NumRecords is the recordCount field: how many records the records section holds.
	NumRecords int32

	// Records is the records section exactly as on the wire: compressed with
	// Attributes.Codec(), or for a legacy message, the message from its crc on.
	Records []byte
	// Raw is the whole batch, from the base offset to the last byte.
	Raw []byte
}

// NextOffset returns the offset that follows the batch: BaseOffset+LastOffsetDelta+1. A
// consumer fetches from there next, whether or not the batch held records it kept (control
// batches, compacted-away records, records before the fetch offset).
func (b *Batch) NextOffset() int64 { return b.BaseOffset + int64(b.LastOffsetDelta) + 1 }

// parseV2 fills b from raw, which holds exactly one whole magic-2 batch, after checking
// the CRC. It returns an error wrapping ErrChecksum or ErrCorrupt.
func (b *Batch) parseV2(raw []byte) error {
	if len(raw) < headerSize {
		return fmt.Errorf("%w: batch of %d bytes is shorter than the %d-byte header", ErrCorrupt, len(raw), headerSize)
	}
	*b = Batch{
		BaseOffset:      int64(binary.BigEndian.Uint64(raw[offBaseOffset:])),
		Length:          int32(binary.BigEndian.Uint32(raw[offLength:])),
		LeaderEpoch:     int32(binary.BigEndian.Uint32(raw[offLeaderEpoch:])),
		Magic:           int8(raw[offMagic]),
		CRC:             binary.BigEndian.Uint32(raw[offCRC:]),
		Attributes:      Attributes(binary.BigEndian.Uint16(raw[offAttributes:])),
		LastOffsetDelta: int32(binary.BigEndian.Uint32(raw[offLastOffsetDelta:])),
		BaseTimestamp:   int64(binary.BigEndian.Uint64(raw[offBaseTimestamp:])),
		MaxTimestamp:    int64(binary.BigEndian.Uint64(raw[offMaxTimestamp:])),
		ProducerID:      int64(binary.BigEndian.Uint64(raw[offProducerID:])),
		ProducerEpoch:   int16(binary.BigEndian.Uint16(raw[offProducerEpoch:])),
		BaseSequence:    int32(binary.BigEndian.Uint32(raw[offBaseSequence:])),
		NumRecords:      int32(binary.BigEndian.Uint32(raw[offRecordCount:])),
		Records:         raw[headerSize:len(raw):len(raw)],
		Raw:             raw,
	}
	if got := crc32.Checksum(raw[offAttributes:], castagnoli); got != b.CRC {
		return fmt.Errorf("%w: batch at offset %d: stored CRC %#08x, computed %#08x", ErrChecksum, b.BaseOffset, b.CRC, got)
	}
	if b.NumRecords < 0 {
		return fmt.Errorf("%w: batch at offset %d: negative record count %d", ErrCorrupt, b.BaseOffset, b.NumRecords)
	}
	return nil
}

// Restamp rewrites the producer id, producer epoch and base sequence of a sealed v2 batch
// in place and recomputes its CRC; no other byte changes. A producer uses it to re-sequence
// a batch after its predecessor was rejected, or after an epoch bump, without encoding the
// records again.
//
// Restamp returns an error wrapping [ErrNotBatch], and leaves batch unchanged, unless batch
// is exactly one whole v2 batch whose current CRC is correct: a batch damaged in memory is
// reported rather than given a fresh CRC that would hide the damage.
func Restamp(batch []byte, p Producer) error {
	if len(batch) < headerSize || batch[offMagic] != 2 {
		return fmt.Errorf("%w: %d bytes without a v2 header", ErrNotBatch, len(batch))
	}
	if n := int64(int32(binary.BigEndian.Uint32(batch[offLength:]))) + lengthPrefix; n != int64(len(batch)) {
		return fmt.Errorf("%w: header declares %d bytes, have %d", ErrNotBatch, n, len(batch))
	}
	if binary.BigEndian.Uint32(batch[offCRC:]) != crc32.Checksum(batch[offAttributes:], castagnoli) {
		return fmt.Errorf("%w: %w", ErrNotBatch, ErrChecksum)
	}
	binary.BigEndian.PutUint64(batch[offProducerID:], uint64(p.ID))
	binary.BigEndian.PutUint16(batch[offProducerEpoch:], uint16(p.Epoch))
	binary.BigEndian.PutUint32(batch[offBaseSequence:], uint32(p.BaseSequence))
	binary.BigEndian.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:], castagnoli))
	return nil
}
