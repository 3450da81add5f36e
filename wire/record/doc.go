// Package record encodes and decodes Kafka record batches (message format v2, "magic 2"),
// including their compression, and reads the older message sets (magic 0 and 1) that old
// log segments may still hold.
//
// # Layout
//
// A batch is a fixed 61-byte header followed by the records section:
//
//	baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (2) |
//	crc uint32 | attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 |
//	maxTimestamp int64 | producerId int64 | producerEpoch int16 | baseSequence int32 |
//	recordCount int32 | records...
//
// The CRC is CRC-32C over everything from attributes to the end of the batch. When the
// attributes name a compression codec, the records section is compressed as one stream.
// Each record is varint-framed: length, attributes, timestamp delta, offset delta, key,
// value and headers, with -1 lengths for null keys, values and header values.
//
// # Producing
//
// A [Builder] appends records one at a time into a buffer it reuses from batch to batch,
// allocating nothing per record, and [Builder.Seal] writes the header, compresses the
// records with a shared [Compressor] and hands the finished bytes to the caller.
// [Restamp] rewrites the producer id, epoch and base sequence of a sealed batch in place.
//
// # Consuming
//
// A [Scanner] walks the records bytes of one partition of a fetch response batch by batch,
// checking each CRC. A batch cut short at the end of the bytes is not an error: the
// scanner stops and its [Scanner.Tail] says how many bytes the cut batch needs. A
// [Decoder] turns one batch into [troupe.Record] values appended to a caller's slice;
// keys, values and header values alias the input (or, for compressed batches, one buffer
// holding the decompressed records) instead of being copied.
//
// Nothing in this package panics or allocates on the say-so of a length read from the
// input: every length and count is checked against the bytes that remain, and
// decompression stops at the [Decoder]'s limit.
package record
