package api

import "github.com/troupe-go/troupe/wire/codec"

// Message is a Kafka request or response body that encodes and decodes itself at any
// version troupe supports for its API.
type Message interface {
	// APIKey returns the message's API key.
	APIKey() Key
	// Encode appends the message encoded at version to dst. It never fails: fields the
	// version lacks are left out (see Validate).
	Encode(dst []byte, version int16) []byte
	// Decode replaces the message with the one src holds at version. It fails, without
	// panicking or over-allocating, on any malformed input.
	Decode(src []byte, version int16) error
	// Validate reports whether the message can be encoded at version without dropping a
	// non-ignorable field that holds a non-default value.
	Validate(version int16) error
}

// Request is a Message sent by a client.
type Request interface {
	Message
	isRequest()
	encodeSpliced(dst []byte, version int16, sp *codec.Splicer) []byte
}

// Response is a Message sent by a broker.
type Response interface {
	Message
	isResponse()
}

// deref returns *s, or "" for nil: a null string written at a version where the field is
// not nullable is written as empty.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ptrTo returns a pointer to a copy of v.
func ptrTo[T any](v T) *T { return &v }
