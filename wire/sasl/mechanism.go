package sasl

import (
	"context"
	"errors"
	"fmt"
)

// Mechanism is one SASL mechanism with its credentials. Implement it to authenticate with
// a mechanism troupe does not ship (a cloud provider's IAM, say): the broker connection
// needs nothing else. A Mechanism is shared by every connection of a client, so Start must
// be safe for concurrent use; each call starts an independent Session.
type Mechanism interface {
	// Name is the mechanism's name as the broker knows it ("PLAIN", "SCRAM-SHA-256"); the
	// connection sends it in SaslHandshake.
	Name() string
	// Start begins authenticating one connection to broker (its "host:port") and returns
	// the session with the client's first message. ctx bounds any work Start does (fetching
	// a token); it ends when the connection's ConnectTimeout does. Its errors must not
	// contain the credentials, and need not name the mechanism: the connection's error
	// around them does.
	Start(ctx context.Context, broker string) (Session, []byte, error)
}

// Session is one authentication exchange in progress. The connection sends the client's
// first message, then feeds each server answer to Step and sends what Step returns, until
// Step reports done. A Session is used by one goroutine and never after it is done or has
// failed.
type Session interface {
	// Step takes the server's answer to the client's last message. It returns the client's
	// next message, or done when the client has accepted the server and sends nothing
	// more (response is then ignored). An error ends the exchange; it must not contain the
	// credentials (and, as with Start, need not name the mechanism).
	Step(challenge []byte) (response []byte, done bool, err error)
}

// Errors of the mechanisms in this package. Each is wrapped with what failed; match them
// with errors.Is.
var (
	// ErrInvalidConfig: the credentials cannot be sent (an empty user, a token with
	// characters RFC 6750 does not allow, an extension key that is not letters).
	ErrInvalidConfig = errors.New("sasl: invalid credentials config")
	// ErrProtocol: the server's message breaks the mechanism's protocol (malformed, a SCRAM
	// nonce that does not extend the client's, too few iterations, a message after the end).
	// Nothing was proved about the server.
	ErrProtocol = errors.New("sasl: server broke the mechanism's protocol")
	// ErrServerSignature: the SCRAM server's signature does not match, so the server does
	// not know the password's salted key: it is not the server it claims to be.
	ErrServerSignature = errors.New("sasl: server signature does not match")
)

// ServerError is a failure the server reported inside the mechanism's own messages: a
// SCRAM "e=" attribute, or OAUTHBEARER's error status. The connection wraps it in its
// authentication error.
type ServerError struct {
	// Mechanism is the mechanism's name.
	Mechanism string
	// Message is the server's error ("invalid-proof", "invalid_token").
	Message string
}

// Error gives the server's message; the connection's error around it names the
// mechanism.
func (e *ServerError) Error() string {
	return "sasl: server error: " + e.Message
}

// redacted is what a credential prints as.
const redacted = "<redacted>"

// formatAs writes s for every verb, so that no verb or flag reaches the fields.
func formatAs(f fmt.State, s string) {
	_, _ = f.Write([]byte(s))
}
