package sasl

import (
	"context"
	"fmt"
	"strings"
)

// Plain is the PLAIN mechanism (RFC 4616): the user name and password, sent in the clear
// inside the connection, so use it over TLS. Its String, GoString and Format print the
// password as "<redacted>".
type Plain struct {
	// AuthzID is the identity to act as; empty means User itself (what Kafka expects).
	AuthzID string
	// User is the user name. Required.
	User string
	// Password is the user's password.
	Password string
}

// Name returns "PLAIN".
func (Plain) Name() string { return "PLAIN" }

// Start returns the one message PLAIN sends; the session is done at the server's answer.
// It fails with ErrInvalidConfig for an empty user or a NUL byte in a field.
func (p Plain) Start(context.Context, string) (Session, []byte, error) {
	if p.User == "" {
		return nil, nil, fmt.Errorf("%w: needs a user", ErrInvalidConfig)
	}
	if strings.ContainsRune(p.AuthzID+p.User+p.Password, 0) {
		return nil, nil, fmt.Errorf("%w: fields cannot hold a NUL byte", ErrInvalidConfig)
	}
	msg := make([]byte, 0, len(p.AuthzID)+len(p.User)+len(p.Password)+2)
	msg = append(append(append(msg, p.AuthzID...), 0), p.User...)
	msg = append(append(msg, 0), p.Password...)
	return &oneShot{name: "PLAIN"}, msg, nil
}

// String prints the user and hides the password.
func (p Plain) String() string {
	return fmt.Sprintf("sasl.Plain{AuthzID: %q, User: %q, Password: %s}", p.AuthzID, p.User, redacted)
}

// GoString is String: the password is hidden from %#v too.
func (p Plain) GoString() string { return p.String() }

// Format prints String for every verb.
func (p Plain) Format(f fmt.State, _ rune) { formatAs(f, p.String()) }

// oneShot is the session of a mechanism that sends one message: the server's answer
// (normally empty) ends it.
type oneShot struct {
	name string
	done bool
}

// Step accepts the server's answer once; another is a protocol error.
func (s *oneShot) Step([]byte) ([]byte, bool, error) {
	if s.done {
		return nil, false, fmt.Errorf("%w: more than one server answer", ErrProtocol)
	}
	s.done = true
	return nil, true, nil
}
