// Package codec holds the primitives of the Kafka wire protocol: fixed-width integers,
// varints, strings, byte slices, array length prefixes, UUIDs, tagged fields, the request
// and response headers, and size-prefixed framing.
//
// It is the lowest layer of troupe's Kafka client. Package wire/api builds every request and
// response message out of these primitives (its code is generated from Kafka's JSON message
// schemas); nothing here knows about any particular message.
//
// # Encoding
//
// Encoding is append-style: every Append function takes a destination slice, appends the
// encoded value and returns the extended slice, exactly like [strconv.AppendInt]. A caller
// that reuses its buffer (dst[:0]) encodes without allocating.
//
// Strings, byte slices and array lengths have two encodings: the classic one (fixed-width
// length, -1 for null) and the compact one used by "flexible" message versions (unsigned
// varint of length+1, 0 for null). Functions that handle both take a compact flag.
//
// # Decoding
//
// A [Decoder] reads from a byte slice with a sticky error: the first failure latches, every
// later read returns a zero value, and the caller checks [Decoder.Err] once at the end. This
// keeps generated decoding code linear.
//
// Decoding never panics and never allocates from a length it has not checked: a string,
// byte-slice or array length larger than what remains in the input is an error before
// anything is allocated. Errors wrap [ErrShortBuffer], [ErrInvalidLength] and friends, so
// callers match them with [errors.Is].
//
// Byte slices returned by a Decoder alias its input; strings are copies.
package codec
