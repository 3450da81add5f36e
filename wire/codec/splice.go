package codec

import "encoding/binary"

// Splicer collects the large byte strings of a message being encoded (record batches in a
// produce request) instead of copying them into the encoding: the encoding gets their
// length prefixes only, and the Splicer notes where each string belongs. A writer then
// sends the encoding and the strings together with one vectored write (net.Buffers), and
// the batches go to the socket from their own storage.
//
// The strings are referenced, not copied: their owner must not modify them until the
// write has returned.
type Splicer struct {
	// Min is the smallest string spliced; shorter ones are copied as usual, since a
	// buffer of its own costs a vectored write more than the copy saves.
	Min    int
	splice []Splice
	total  int
}

// Splice is one spliced string: its bytes belong at offset At of the encoding (before the
// encoding's byte At, after everything spliced at lower offsets).
type Splice struct {
	At    int
	Bytes []byte
}

// Len returns the number of bytes spliced since the last Reset.
func (s *Splicer) Len() int { return s.total }

// Splices returns the strings spliced since the last Reset, in encoding order.
func (s *Splicer) Splices() []Splice { return s.splice }

// Reset forgets every spliced string (and the references to them).
func (s *Splicer) Reset() {
	clear(s.splice)
	s.splice = s.splice[:0]
	s.total = 0
}

// AppendNullableRecords appends b as AppendNullableBytes does, except that with a non-nil
// s a string of at least s.Min bytes is spliced: its length prefix is appended and its
// bytes left to s.
func AppendNullableRecords(dst []byte, b []byte, compact bool, s *Splicer) []byte {
	if s == nil || b == nil || len(b) < max(s.Min, 1) {
		return AppendNullableBytes(dst, b, compact)
	}
	if compact {
		dst = AppendUvarint(dst, uint32(len(b))+1)
	} else {
		dst = AppendInt32(dst, int32(len(b)))
	}
	s.splice = append(s.splice, Splice{At: len(dst), Bytes: b})
	s.total += len(b)
	return dst
}

// EndFrameSpliced is EndFrame for a frame some of whose bytes were spliced: spliced is
// how many bytes s spliced inside the frame (s.Len() now, less s.Len() at BeginFrame).
func EndFrameSpliced(dst []byte, mark, spliced int) []byte {
	binary.BigEndian.PutUint32(dst[mark:], uint32(len(dst)-mark-4+spliced))
	return dst
}

// Segments appends to out the pieces of the complete encoding, in order: dst cut at each
// splice's offset, with the spliced strings between. Written one after another (as a
// net.Buffers), they are the bytes the encoding would have had without s.
func (s *Splicer) Segments(dst []byte, out [][]byte) [][]byte {
	from := 0
	for _, sp := range s.splice {
		if sp.At > from {
			out = append(out, dst[from:sp.At])
		}
		out = append(out, sp.Bytes)
		from = sp.At
	}
	if from < len(dst) {
		out = append(out, dst[from:])
	}
	return out
}
