package record

import "strconv"

// Codec is a compression codec as numbered in the low three bits of a batch's attributes.
type Codec int8

// The compression codecs Kafka defines.
const (
	// None leaves the records section uncompressed.
	None Codec = 0
	// Gzip compresses the records section as one gzip stream.
	Gzip Codec = 1
	// Snappy compresses the records section as one snappy block (decoding also accepts
	// the xerial framing the Java client writes).
	Snappy Codec = 2
	// LZ4 compresses the records section as one LZ4 frame with independent blocks.
	LZ4 Codec = 3
	// Zstd compresses the records section as one zstd frame (brokers accept it from
	// Produce v7).
	Zstd Codec = 4
)

// String returns the codec's name as Kafka configurations spell it ("none", "gzip",
// "snappy", "lz4", "zstd"), or "codec(N)" for an unknown value.
func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

// Attributes is a batch's 16-bit attributes field.
type Attributes int16

// Bits and masks of [Attributes]. Bits 7 to 15 are unused and ignored when decoding.
const (
	// AttrCodecMask selects the compression [Codec].
	AttrCodecMask Attributes = 0x07
	// AttrLogAppendTime is set when the broker stamped the batch with its own clock: every
	// record's timestamp is then the batch's MaxTimestamp. Unset means create time.
	AttrLogAppendTime Attributes = 0x08
	// AttrTransactional is set on batches written inside a transaction.
	AttrTransactional Attributes = 0x10
	// AttrControl is set on control batches, which hold one transaction marker record and
	// are never handed to applications.
	AttrControl Attributes = 0x20
	// AttrDeleteHorizon is set by log compaction when baseTimestamp holds the delete
	// horizon rather than the first record's timestamp.
	AttrDeleteHorizon Attributes = 0x40
)

// Codec returns the compression codec named by the low three bits. The value may be
// outside the five known codecs; decoding such a batch fails with [ErrUnsupported].
func (a Attributes) Codec() Codec { return Codec(a & AttrCodecMask) }

// LogAppendTime reports whether the timestamps are the broker's append time.
func (a Attributes) LogAppendTime() bool { return a&AttrLogAppendTime != 0 }

// Transactional reports whether the batch belongs to a transaction.
func (a Attributes) Transactional() bool { return a&AttrTransactional != 0 }

// Control reports whether the batch is a control batch.
func (a Attributes) Control() bool { return a&AttrControl != 0 }

// DeleteHorizon reports whether baseTimestamp holds a compaction delete horizon.
func (a Attributes) DeleteHorizon() bool { return a&AttrDeleteHorizon != 0 }
