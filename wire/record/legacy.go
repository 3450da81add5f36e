package record

import (
	"encoding/binary"
	"fmt"

	"github.com/troupe-go/troupe"
)

// Legacy message sets (magic 0 and 1) predate record batches; Kafka 4.0 no longer writes
// them, but segments written by old brokers may still be fetched. Each message is
//
//	offset int64 | message_size int32 | crc uint32 | magic int8 | attributes int8 |
//	[timestamp int64, magic 1 only] | key (int32 length, -1 null) | value (likewise)
//
// with a CRC-32 (IEEE) over magic..end. A compressed message ("wrapper") holds in its
// value a whole message set of uncompressed inner messages. In magic 0 the inner offsets
// are absolute; in magic 1 they are relative and the wrapper carries the absolute offset
// of the last inner message. Inner messages of a log-append-time magic 1 wrapper take the
// wrapper's timestamp. LZ4 wrappers of magic 0 used a non-standard frame checksum
// (KIP-57) and fail to decode here with ErrCorrupt.

// Minimum message_size values: crc, magic, attributes, key and value lengths, plus the
// timestamp for magic 1.
const (
	legacyV0MinLength = 4 + 1 + 1 + 4 + 4
	legacyV1MinLength = legacyV0MinLength + 8
)

// legacyMsg is one parsed legacy message.
type legacyMsg struct {
	magic int8
	attrs Attributes
	ts    int64
	key   []byte
	value []byte
}

// parseLegacyMsg parses m, a message from its crc to its end, checking the CRC.
func parseLegacyMsg(m []byte) (legacyMsg, error) {
	var msg legacyMsg
	if len(m) < legacyV0MinLength {
		return msg, fmt.Errorf("%w: legacy message of %d bytes", ErrCorrupt, len(m))
	}
	if got, want := crcIEEE(m[4:]), binary.BigEndian.Uint32(m); got != want {
		return msg, fmt.Errorf("%w: legacy message: stored CRC %#08x, computed %#08x", ErrChecksum, want, got)
	}
	msg.magic = int8(m[4])
	msg.attrs = Attributes(m[5]) & (AttrCodecMask | AttrLogAppendTime)
	msg.ts = -1
	p := 6
	switch msg.magic {
	case 0:
		msg.attrs &^= AttrLogAppendTime // bit 3 is unused in magic 0
	case 1:
		if len(m) < legacyV1MinLength {
			return msg, fmt.Errorf("%w: magic 1 message of %d bytes", ErrCorrupt, len(m))
		}
		msg.ts = int64(binary.BigEndian.Uint64(m[p:]))
		p += 8
	default:
		return msg, fmt.Errorf("%w: inner message magic %d", ErrCorrupt, msg.magic)
	}
	var err error
	if msg.key, p, err = readLegacyBytes(m, p, "key"); err != nil {
		return msg, err
	}
	if msg.value, p, err = readLegacyBytes(m, p, "value"); err != nil {
		return msg, err
	}
	if p != len(m) {
		return msg, fmt.Errorf("%w: %d bytes after a legacy message's value", ErrCorrupt, len(m)-p)
	}
	return msg, nil
}

// readLegacyBytes reads an int32-length nullable byte string at m[p:].
func readLegacyBytes(m []byte, p int, what string) ([]byte, int, error) {
	if len(m)-p < 4 {
		return nil, 0, fmt.Errorf("%w: legacy message %s length cut", ErrCorrupt, what)
	}
	l := int32(binary.BigEndian.Uint32(m[p:]))
	p += 4
	if l == -1 {
		return nil, p, nil
	}
	if l < 0 || int(l) > len(m)-p {
		return nil, 0, fmt.Errorf("%w: legacy message %s length %d with %d bytes left", ErrCorrupt, what, l, len(m)-p)
	}
	end := p + int(l)
	return m[p:end:end], end, nil
}

// parseLegacy fills b from raw, one whole legacy message with its offset and size.
func (b *Batch) parseLegacy(raw []byte) error {
	msg, err := parseLegacyMsg(raw[lengthPrefix:])
	if err != nil {
		return err
	}
	n := int32(1)
	if msg.attrs.Codec() != None {
		n = 0
	}
	*b = Batch{
		BaseOffset:    int64(binary.BigEndian.Uint64(raw[offBaseOffset:])),
		Length:        int32(binary.BigEndian.Uint32(raw[offLength:])),
		LeaderEpoch:   -1,
		Magic:         msg.magic,
		CRC:           binary.BigEndian.Uint32(raw[lengthPrefix:]),
		Attributes:    msg.attrs,
		BaseTimestamp: msg.ts,
		MaxTimestamp:  msg.ts,
		ProducerID:    -1,
		ProducerEpoch: -1,
		BaseSequence:  -1,
		NumRecords:    n,
		Records:       raw[lengthPrefix:],
		Raw:           raw,
	}
	return nil
}

// decodeLegacy appends the record of a legacy message, or the records inside a
// compressed wrapper.
func (d *Decoder) decodeLegacy(dst []troupe.Record, b *Batch, topic string, partition int32) ([]troupe.Record, error) {
	if b.Magic < 0 {
		return dst, fmt.Errorf("%w: magic %d", ErrUnsupported, b.Magic)
	}
	msg, err := parseLegacyMsg(b.Records)
	if err != nil {
		return dst, fmt.Errorf("message at offset %d: %w", b.BaseOffset, err)
	}
	if msg.attrs.Codec() == None {
		return append(dst, legacyRecord(msg, b.BaseOffset, msg.ts, topic, partition)), nil
	}
	if msg.value == nil {
		return dst, fmt.Errorf("%w: message at offset %d: compressed wrapper without value", ErrCorrupt, b.BaseOffset)
	}
	inner, err := d.dec.decompress(msg.attrs.Codec(), msg.value, d.limit())
	if err != nil {
		return dst, fmt.Errorf("message at offset %d: %w", b.BaseOffset, err)
	}
	orig := len(dst)
	fail := func(err error) ([]troupe.Record, error) {
		clear(dst[orig:])
		return dst[:orig], fmt.Errorf("message at offset %d: inner message: %w", b.BaseOffset, err)
	}
	var last int64
	for rem := inner; len(rem) > 0; {
		if len(rem) < lengthPrefix {
			return fail(fmt.Errorf("%w: %d stray bytes", ErrCorrupt, len(rem)))
		}
		off := int64(binary.BigEndian.Uint64(rem))
		size := int32(binary.BigEndian.Uint32(rem[offLength:]))
		if size < legacyV0MinLength || int(size) > len(rem)-lengthPrefix {
			return fail(fmt.Errorf("%w: size %d with %d bytes left", ErrCorrupt, size, len(rem)-lengthPrefix))
		}
		m, err := parseLegacyMsg(rem[lengthPrefix : lengthPrefix+int(size)])
		if err != nil {
			return fail(err)
		}
		if m.attrs.Codec() != None {
			return fail(fmt.Errorf("%w: nested compression", ErrCorrupt))
		}
		ts := m.ts
		if msg.magic == 1 && msg.attrs.LogAppendTime() {
			ts = msg.ts
		}
		dst = append(dst, legacyRecord(m, off, ts, topic, partition))
		last = off
		rem = rem[lengthPrefix+int(size):]
	}
	if msg.magic == 1 {
		// Inner offsets are relative; the wrapper holds the absolute offset of the last.
		base := b.BaseOffset - last
		for i := orig; i < len(dst); i++ {
			dst[i].Offset += base
		}
	}
	return dst, nil
}

// legacyRecord returns the record of a legacy message.
func legacyRecord(m legacyMsg, offset, ts int64, topic string, partition int32) troupe.Record {
	return troupe.Record{
		Topic:       topic,
		Partition:   partition,
		Offset:      offset,
		Key:         m.key,
		Value:       m.value,
		Timestamp:   unixMilli(ts),
		LeaderEpoch: -1,
	}
}
