package record

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/troupe-go/troupe"
)

// Decoder turns batches into [troupe.Record] values. It keeps decompression state and
// scratch space from call to call, so one Decoder belongs to one goroutine (a partition
// or broker consumer); it is not safe for concurrent use. The zero value is ready to use.
//
// What the decoded records share, and with whom:
//
//   - Key, Value and header values alias the batch's bytes: the Scanner's input for an
//     uncompressed batch, or one buffer allocated per compressed batch holding its
//     decompressed records. Neither is copied or reused by the Decoder; the caller must
//     not modify the input while records decoded from it are in use. Each alias is capped
//     (len == cap), so appending to it reallocates instead of overwriting a neighbour.
//   - Header slices of one batch are carved from one shared array, and header keys from
//     one shared string buffer, each allocated when the batch's first record with headers
//     is seen and sized for the rest of the batch. A key equal to the key at the same
//     position in the previous record with headers reuses that string. The Decoder keeps
//     no reference to a batch's input once Decode returns (the key buffer holds copies),
//     so records dropped by their user free the input they alias.
//
// Allocations per call: nothing per record beyond the records themselves (dst grows only
// if it lacks capacity), plus per batch one decompression buffer when compressed, and one
// header array and one key buffer when any record has headers (more only if later records
// carry more headers than the first suggested).
//
// Memory: a record needs at least 7 bytes on the wire and about 150 bytes as a
// troupe.Record, so one batch can expand up to about 20 times its decompressed size in
// dst. MaxDecompressedSize is therefore the knob that bounds a consumer's memory per
// batch, not only its decompression work.
type Decoder struct {
	// MaxDecompressedSize caps the decompressed size of one batch's records; zero means
	// DefaultMaxDecompressedSize. A batch that would decompress to more fails with
	// ErrTooLarge without being decompressed further.
	MaxDecompressedSize int

	dec decompressors

	hdrs     []troupe.Header // unused tail of the current header array
	keys     []byte          // unused tail of the current key buffer
	prevKeys []string        // header keys of the last record that had headers
}

// Decode appends the records of b to dst and returns the extended slice. Topic and
// partition are copied into every record; Offset is BaseOffset plus the record's offset
// delta; LeaderEpoch is the batch's partition leader epoch; Timestamp is BaseTimestamp
// plus the record's delta, or MaxTimestamp for every record when the batch uses log-append
// time, with -1 decoded as the zero time.
//
// Control batches decode like any other (their single record's key is read by
// [ParseControlKey]); skipping them is the caller's decision, as is skipping records
// below the fetch offset. Legacy messages (magic 0 and 1) decode to their one record, or
// for a compressed wrapper to its inner messages.
//
// On error Decode returns dst unchanged and an error wrapping [ErrCorrupt], [ErrTooLarge]
// or [ErrUnsupported]. It never panics and never allocates more than the batch's bytes
// (and MaxDecompressedSize) justify.
func (d *Decoder) Decode(dst []troupe.Record, b *Batch, topic string, partition int32) ([]troupe.Record, error) {
	if b.Magic < 2 {
		return d.decodeLegacy(dst, b, topic, partition)
	}
	if b.Magic != 2 {
		return dst, fmt.Errorf("%w: magic %d", ErrUnsupported, b.Magic)
	}
	data := b.Records
	if c := b.Attributes.Codec(); c != None {
		var err error
		if data, err = d.dec.decompress(c, data, d.limit()); err != nil {
			return dst, fmt.Errorf("batch at offset %d: %w", b.BaseOffset, err)
		}
	}
	out, err := d.decodeV2(dst, b, data, topic, partition)
	// The header array's head holds this batch's headers, whose values alias the batch:
	// kept for the next batch, it would keep this one's input (a whole fetch response)
	// reachable after its records are dropped.
	d.hdrs = nil
	if err != nil {
		return dst, fmt.Errorf("batch at offset %d: %w", b.BaseOffset, err)
	}
	return out, nil
}

// limit returns the decompressed size limit in force.
func (d *Decoder) limit() int {
	if d.MaxDecompressedSize > 0 {
		return d.MaxDecompressedSize
	}
	return DefaultMaxDecompressedSize
}

// decodeV2 appends the b.NumRecords records encoded in data, which must hold exactly
// that many records and nothing else. On error it returns dst as it came, with the spare
// capacity it wrote to cleared.
func (d *Decoder) decodeV2(dst []troupe.Record, b *Batch, data []byte, topic string, partition int32) ([]troupe.Record, error) {
	n := int(b.NumRecords)
	if n < 0 || n > len(data)/minRecordSize {
		return dst, fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrCorrupt, n, len(data))
	}
	orig := len(dst)
	fail := func(err error) ([]troupe.Record, error) {
		clear(dst[orig:])
		return dst[:orig], err
	}
	dst = slices.Grow(dst, n)
	logAppend := b.Attributes.LogAppendTime()
	pos := 0
	for i := range n {
		length, k := readVarint(data[pos:])
		if k == 0 || length < 0 || int(length) > len(data)-pos-k {
			return fail(fmt.Errorf("%w: record %d: bad length", ErrCorrupt, i))
		}
		pos += k
		body := data[pos : pos+int(length) : pos+int(length)]
		pos += int(length)

		dst = dst[:len(dst)+1]
		r := &dst[len(dst)-1]
		offDelta, tsDelta, err := d.decodeRecord(r, body, n-i, len(data)-pos)
		if err != nil {
			return fail(fmt.Errorf("record %d: %w", i, err))
		}
		r.Topic, r.Partition, r.LeaderEpoch = topic, partition, b.LeaderEpoch
		r.Offset = b.BaseOffset + int64(offDelta)
		if logAppend {
			r.Timestamp = unixMilli(b.MaxTimestamp)
		} else {
			r.Timestamp = unixMilli(b.BaseTimestamp + tsDelta)
		}
	}
	if pos != len(data) {
		return fail(fmt.Errorf("%w: %d bytes after the last of %d records", ErrCorrupt, len(data)-pos, n))
	}
	return dst, nil
}

// decodeRecord fills r's Key, Value and Headers from body, one record without its length
// prefix, and returns its offset and timestamp deltas. Left counts this record and those
// after it; bytesLeft counts the bytes after it. Both only size shared header storage.
func (d *Decoder) decodeRecord(r *troupe.Record, body []byte, left, bytesLeft int) (offDelta int32, tsDelta int64, err error) {
	if len(body) < 1 {
		return 0, 0, fmt.Errorf("%w: empty record", ErrCorrupt)
	}
	p := 1 // record attributes: unused
	tsDelta, k := readVarlong(body[p:])
	if k == 0 {
		return 0, 0, fmt.Errorf("%w: bad timestamp delta", ErrCorrupt)
	}
	p += k
	offDelta, k = readVarint(body[p:])
	if k == 0 {
		return 0, 0, fmt.Errorf("%w: bad offset delta", ErrCorrupt)
	}
	p += k
	if r.Key, p, err = readBytes(body, p, "key"); err != nil {
		return 0, 0, err
	}
	if r.Value, p, err = readBytes(body, p, "value"); err != nil {
		return 0, 0, err
	}
	nh, k := readVarint(body[p:])
	if k == 0 || nh < 0 || int(nh) > (len(body)-p-k)/2 { // a header takes at least 2 bytes
		return 0, 0, fmt.Errorf("%w: bad header count", ErrCorrupt)
	}
	p += k
	r.Headers = nil
	if nh > 0 {
		hs := d.takeHeaders(int(nh), left, bytesLeft)
		for j := range hs {
			kl, k := readVarint(body[p:])
			if k == 0 || kl < 0 || int(kl) > len(body)-p-k {
				return 0, 0, fmt.Errorf("%w: header %d: bad key length", ErrCorrupt, j)
			}
			p += k
			hs[j].Key = d.headerKey(j, body[p:p+int(kl)], bytesLeft)
			p += int(kl)
			if hs[j].Value, p, err = readBytes(body, p, "header value"); err != nil {
				return 0, 0, fmt.Errorf("header %d: %w", j, err)
			}
		}
		r.Headers = hs
	}
	if p != len(body) {
		return 0, 0, fmt.Errorf("%w: %d bytes after the last field", ErrCorrupt, len(body)-p)
	}
	return offDelta, tsDelta, nil
}

// readBytes reads a nullable byte string at body[p:] and returns it, capped, with the
// position after it.
func readBytes(body []byte, p int, what string) ([]byte, int, error) {
	l, k := readVarint(body[p:])
	if k == 0 {
		return nil, 0, fmt.Errorf("%w: bad %s length", ErrCorrupt, what)
	}
	p += k
	if l == -1 {
		return nil, p, nil
	}
	if l < 0 || int(l) > len(body)-p {
		return nil, 0, fmt.Errorf("%w: %s length %d with %d bytes left", ErrCorrupt, what, l, len(body)-p)
	}
	end := p + int(l)
	return body[p:end:end], end, nil
}

// takeHeaders returns h headers carved from the shared header array, first allocating a
// new array sized for h headers in each of the left records that remain, but never more
// than the remaining bytes could encode.
func (d *Decoder) takeHeaders(h, left, bytesLeft int) []troupe.Header {
	if cap(d.hdrs) < h {
		d.hdrs = make([]troupe.Header, 0, min(h*left, h+bytesLeft/2))
	}
	hs := d.hdrs[:h:h]
	d.hdrs = d.hdrs[h:h]
	return hs
}

// headerKey returns kb as a string for header position j. A key equal to the previous
// headered record's key at the same position reuses that string. Otherwise the bytes are
// copied into the shared key buffer, whose bytes are never written again once a string
// refers to them, and the string is made over that copy.
func (d *Decoder) headerKey(j int, kb []byte, bytesLeft int) string {
	if j < len(d.prevKeys) && d.prevKeys[j] == string(kb) {
		return d.prevKeys[j]
	}
	var s string
	if len(kb) > 0 {
		if cap(d.keys) < len(kb) {
			d.keys = make([]byte, 0, min(max(256, 2*len(kb)), len(kb)+bytesLeft))
		}
		buf := d.keys[:len(kb)]
		copy(buf, kb)
		s = unsafe.String(unsafe.SliceData(buf), len(buf))
		d.keys = d.keys[len(kb):len(kb)]
	}
	if j < len(d.prevKeys) {
		d.prevKeys[j] = s
	} else if j == len(d.prevKeys) {
		d.prevKeys = append(d.prevKeys, s)
	}
	return s
}
