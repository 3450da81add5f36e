package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Scanner walks the records bytes of one partition of a fetch response: batches back to
// back, possibly ending in a batch the broker cut short at its size limit. The zero value
// scans nothing; Reset gives it input. A Scanner allocates nothing.
//
//	var s record.Scanner
//	s.Reset(recordsBytes)
//	for s.Next() {
//		b := s.Batch() // CRC already verified
//		...            // decode b, or skip it and still advance to b.NextOffset()
//	}
//	if err := s.Err(); err != nil { ... }      // corrupt data after the batches seen
//	if t := s.Tail(); t.Truncated() { ... }    // fetch more; see Tail
type Scanner struct {
	buf   []byte
	pos   int
	batch Batch
	err   error
	tail  Tail
	count int
}

// Tail describes bytes at the end of the input that do not make a whole batch. Brokers
// routinely cut the last batch of a partition at the fetch size limit, so a Tail is not an
// error: the consumer uses the whole batches and fetches again from the offset after them.
//
// When First is true no whole batch came before the cut one, so fetching again with the
// same size limit returns the same cut batch: the consumer must raise its per-partition
// fetch size to at least Need to make progress (to more than Have when Need is 0). Need
// comes from a header whose CRC cannot be checked until the whole batch has arrived, so
// a consumer bounds how far it is willing to raise its limit.
type Tail struct {
	// Have is the number of bytes of the cut batch present; 0 when the input ended on a
	// batch boundary.
	Have int
	// Need is the whole size of the cut batch as its header declares it (base offset and
	// length included), or 0 when fewer than the 12 bytes holding the length arrived.
	Need int
	// First reports that the cut batch is the first in the input.
	First bool
}

// Truncated reports whether the input ended inside a batch.
func (t Tail) Truncated() bool { return t.Have > 0 }

// Reset starts scanning records, forgetting any previous input, batch, error and tail.
func (s *Scanner) Reset(records []byte) {
	*s = Scanner{buf: records}
}

// Next advances to the next whole batch and reports whether there is one. It returns
// false at the end of the input, at a cut batch (see Tail) and at corrupt data (see Err);
// batches before the problem have already been returned.
//
// Next checks each batch's length, magic byte and CRC before returning it; for magic 2 it
// checks the CRC-32C, for legacy messages (magic 0 and 1) their CRC-32.
func (s *Scanner) Next() bool {
	if s.err != nil || s.tail.Have > 0 {
		return false
	}
	rem := s.buf[s.pos:]
	if len(rem) == 0 {
		return false
	}
	if len(rem) < lengthPrefix {
		s.tail = Tail{Have: len(rem), First: s.count == 0}
		return false
	}
	length := int32(binary.BigEndian.Uint32(rem[offLength:]))
	if length < legacyV0MinLength {
		s.fail(fmt.Errorf("%w: at byte %d: batch length %d", ErrCorrupt, s.pos, length))
		return false
	}
	size := lengthPrefix + int64(length)
	if int64(len(rem)) < size || len(rem) <= offMagic {
		s.tail = Tail{Have: len(rem), Need: int(min(size, int64(^uint(0)>>1))), First: s.count == 0}
		if len(rem) > offMagic && rem[offMagic] > 2 {
			// Not a cut batch but garbage (or a future format): say so rather than ask
			// for more bytes that will not help.
			s.tail = Tail{}
			s.fail(fmt.Errorf("%w: at byte %d: magic %d", ErrUnsupported, s.pos, int8(rem[offMagic])))
		}
		return false
	}
	raw := rem[:size:size]
	var err error
	switch magic := int8(raw[offMagic]); magic {
	case 2:
		err = s.batch.parseV2(raw)
	case 0, 1:
		err = s.batch.parseLegacy(raw)
	default:
		err = fmt.Errorf("%w: magic %d", ErrUnsupported, magic)
	}
	if err != nil {
		s.fail(fmt.Errorf("at byte %d: %w", s.pos, err))
		return false
	}
	s.pos += int(size)
	s.count++
	return true
}

// fail records err as the Scanner's error.
func (s *Scanner) fail(err error) { s.err = err }

// Batch returns the batch Next found. It aliases the input and is overwritten by the
// next call to Next or Reset.
func (s *Scanner) Batch() *Batch { return &s.batch }

// Err returns the error that stopped the Scanner, or nil when it stopped at the end of the
// input or at a cut batch. It wraps [ErrChecksum], [ErrCorrupt] or [ErrUnsupported].
func (s *Scanner) Err() error { return s.err }

// Tail describes the cut batch the Scanner stopped at; its zero value means none.
func (s *Scanner) Tail() Tail { return s.tail }

// Consumed returns the number of input bytes taken by the whole batches returned so far.
func (s *Scanner) Consumed() int { return s.pos }

// crcIEEE is the checksum of legacy messages.
func crcIEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
