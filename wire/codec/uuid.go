package codec

import "encoding/hex"

// UUID is a Kafka UUID, such as a topic ID: 16 bytes on the wire, most significant first.
// The zero value is Kafka's "zero UUID", which means "no ID".
type UUID [16]byte

// IsZero reports whether u is the zero UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// String formats u in the canonical 8-4-4-4-12 hexadecimal form. (Kafka's own tools print
// topic IDs in URL-safe base64; the hexadecimal form is for logs and tests.)
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
