package api_test

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/troupe-go/troupe/wire/codec"
)

// recordBatch hand-builds an uncompressed record batch (magic v2, Kafka's implementation
// notes §5.3) holding one record per value, for tests that produce. It is deliberately
// minimal; the real batch code is package wire/record.
func recordBatch(timestamp int64, values ...string) []byte {
	var records []byte
	for i, v := range values {
		var body []byte
		body = codec.AppendInt8(body, 0)               // attributes
		body = codec.AppendVarlong(body, 0)            // timestamp delta
		body = codec.AppendVarint(body, int32(i))      // offset delta
		body = codec.AppendVarint(body, -1)            // null key
		body = codec.AppendVarint(body, int32(len(v))) // value length
		body = append(body, v...)                      // value
		body = codec.AppendVarint(body, 0)             // no headers
		records = codec.AppendVarint(records, int32(len(body)))
		records = append(records, body...)
	}
	// Everything from attributes on is covered by the CRC.
	var tail []byte
	tail = codec.AppendInt16(tail, 0)                    // attributes: no compression
	tail = codec.AppendInt32(tail, int32(len(values)-1)) // last offset delta
	tail = codec.AppendInt64(tail, timestamp)            // base timestamp
	tail = codec.AppendInt64(tail, timestamp)            // max timestamp
	tail = codec.AppendInt64(tail, -1)                   // producer ID
	tail = codec.AppendInt16(tail, -1)                   // producer epoch
	tail = codec.AppendInt32(tail, -1)                   // base sequence
	tail = codec.AppendInt32(tail, int32(len(values)))   // record count
	tail = append(tail, records...)

	var b []byte
	b = codec.AppendInt64(b, 0)                      // base offset
	b = codec.AppendInt32(b, int32(4+1+4+len(tail))) // batch length: epoch, magic, crc, tail
	b = codec.AppendInt32(b, -1)                     // partition leader epoch
	b = codec.AppendInt8(b, 2)                       // magic
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(tail, crc32.MakeTable(crc32.Castagnoli)))
	return append(b, tail...)
}
