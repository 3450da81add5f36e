package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// MinIterations is the fewest PBKDF2 iterations a SCRAM server may ask for (RFC 7677 §4):
// a server asking for fewer is refused with ErrProtocol, as a downgrade.
const MinIterations = 4096

// SCRAMSHA256 is the SCRAM-SHA-256 mechanism (RFC 7677). The password never crosses the
// connection, and the server proves it knows the password's salted key (ErrServerSignature
// if not). Its String, GoString and Format print the password as "<redacted>".
//
// Kafka applies no SASLprep to names and passwords, so neither does troupe: they are sent
// as given (a ',' or '=' in the user name is escaped as the RFC asks).
type SCRAMSHA256 struct {
	// User is the user name. Required.
	User string
	// Password is the user's password.
	Password string
}

// Name returns "SCRAM-SHA-256".
func (SCRAMSHA256) Name() string { return "SCRAM-SHA-256" }

// Start sends the client's first message with a fresh random nonce.
func (s SCRAMSHA256) Start(context.Context, string) (Session, []byte, error) {
	return startSCRAM(sha256Variant, s.User, s.Password, rand.Text())
}

// String prints the user and hides the password.
func (s SCRAMSHA256) String() string {
	return fmt.Sprintf("sasl.SCRAMSHA256{User: %q, Password: %s}", s.User, redacted)
}

// GoString is String: the password is hidden from %#v too.
func (s SCRAMSHA256) GoString() string { return s.String() }

// Format prints String for every verb.
func (s SCRAMSHA256) Format(f fmt.State, _ rune) { formatAs(f, s.String()) }

// SCRAMSHA512 is the SCRAM-SHA-512 mechanism: SCRAMSHA256 with SHA-512.
type SCRAMSHA512 struct {
	// User is the user name. Required.
	User string
	// Password is the user's password.
	Password string
}

// Name returns "SCRAM-SHA-512".
func (SCRAMSHA512) Name() string { return "SCRAM-SHA-512" }

// Start sends the client's first message with a fresh random nonce.
func (s SCRAMSHA512) Start(context.Context, string) (Session, []byte, error) {
	return startSCRAM(sha512Variant, s.User, s.Password, rand.Text())
}

// String prints the user and hides the password.
func (s SCRAMSHA512) String() string {
	return fmt.Sprintf("sasl.SCRAMSHA512{User: %q, Password: %s}", s.User, redacted)
}

// GoString is String: the password is hidden from %#v too.
func (s SCRAMSHA512) GoString() string { return s.String() }

// Format prints String for every verb.
func (s SCRAMSHA512) Format(f fmt.State, _ rune) { formatAs(f, s.String()) }

// scramVariant is a SCRAM hash: its mechanism name and hash function.
type scramVariant struct {
	name string
	hash func() hash.Hash
}

var (
	sha256Variant = scramVariant{"SCRAM-SHA-256", sha256.New}
	sha512Variant = scramVariant{"SCRAM-SHA-512", sha512.New}
)

// scramSession is the client side of one SCRAM exchange (RFC 5802 §3): client-first, then
// client-final in answer to server-first, then the check of server-final.
type scramSession struct {
	v           scramVariant
	password    string
	clientNonce string
	clientFirst string // client-first-message-bare
	serverSig   []byte // expected server signature, once client-final is sent
	step        int
}

// startSCRAM begins an exchange with the given client nonce (random, except in tests).
func startSCRAM(v scramVariant, user, password, nonce string) (Session, []byte, error) {
	if user == "" {
		return nil, nil, fmt.Errorf("%w: needs a user", ErrInvalidConfig)
	}
	s := &scramSession{v: v, password: password, clientNonce: nonce}
	s.clientFirst = "n=" + escapeSCRAMName(user) + ",r=" + nonce
	// gs2 header "n,,": no channel binding, no authorization identity.
	return s, []byte("n,," + s.clientFirst), nil
}

// escapeSCRAMName escapes ',' and '=' in a user name (RFC 5802 §5.1).
func escapeSCRAMName(u string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(u)
}

// Step answers server-first with client-final, then checks server-final.
func (s *scramSession) Step(challenge []byte) ([]byte, bool, error) {
	s.step++
	switch s.step {
	case 1:
		first, err := parseServerFirst(s.v.name, string(challenge))
		if err != nil {
			return nil, false, err
		}
		if len(first.nonce) <= len(s.clientNonce) || !strings.HasPrefix(first.nonce, s.clientNonce) {
			return nil, false, fmt.Errorf("%w: server nonce does not extend the client nonce", ErrProtocol)
		}
		if first.iterations < MinIterations {
			return nil, false, fmt.Errorf("%w: server asks for %d iterations, fewer than %d", ErrProtocol, first.iterations, MinIterations)
		}
		salted, err := pbkdf2.Key(s.v.hash, s.password, first.salt, first.iterations, s.v.hash().Size())
		if err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		withoutProof := "c=biws,r=" + first.nonce // biws: base64 of the gs2 header "n,,"
		authMessage := []byte(s.clientFirst + "," + string(challenge) + "," + withoutProof)
		clientKey := s.hmac(salted, []byte("Client Key"))
		h := s.v.hash()
		h.Write(clientKey)
		storedKey := h.Sum(nil)
		proof := s.hmac(storedKey, authMessage)
		for i := range proof {
			proof[i] ^= clientKey[i]
		}
		s.serverSig = s.hmac(s.hmac(salted, []byte("Server Key")), authMessage)
		return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), false, nil
	case 2:
		sig, err := parseServerFinal(s.v.name, string(challenge))
		if err != nil {
			return nil, false, err
		}
		if !hmac.Equal(sig, s.serverSig) {
			return nil, false, ErrServerSignature
		}
		return nil, true, nil
	default:
		return nil, false, fmt.Errorf("%w: message after the exchange ended", ErrProtocol)
	}
}

func (s *scramSession) hmac(key, msg []byte) []byte {
	m := hmac.New(s.v.hash, key)
	m.Write(msg)
	return m.Sum(nil)
}

// serverFirst is a parsed server-first-message.
type serverFirst struct {
	nonce      string
	salt       []byte
	iterations int
}

// parseServerFirst parses "r=nonce,s=salt,i=count[,extensions]" (RFC 5802 §7). A server
// error ("e=...") comes back as a *ServerError; anything malformed as ErrProtocol.
func parseServerFirst(mech, msg string) (serverFirst, error) {
	var f serverFirst
	attrs := strings.Split(msg, ",")
	if v, ok := strings.CutPrefix(attrs[0], "e="); ok {
		return f, &ServerError{Mechanism: mech, Message: v}
	}
	if len(attrs) < 3 {
		return f, fmt.Errorf("%w: server-first message has %d attributes, want 3", ErrProtocol, len(attrs))
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return f, fmt.Errorf("%w: server requires an unsupported extension", ErrProtocol)
	}
	nonce, ok := strings.CutPrefix(attrs[0], "r=")
	if !ok || !printable(nonce) {
		return f, fmt.Errorf("%w: server-first message lacks a valid nonce", ErrProtocol)
	}
	salt64, ok := strings.CutPrefix(attrs[1], "s=")
	if !ok {
		return f, fmt.Errorf("%w: server-first message lacks the salt", ErrProtocol)
	}
	salt, err := base64.StdEncoding.Strict().DecodeString(salt64)
	if err != nil || len(salt) == 0 {
		return f, fmt.Errorf("%w: server-first message has an invalid salt", ErrProtocol)
	}
	count, ok := strings.CutPrefix(attrs[2], "i=")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n <= 0 || count[0] == '+' {
		return f, fmt.Errorf("%w: server-first message has an invalid iteration count", ErrProtocol)
	}
	return serverFirst{nonce: nonce, salt: salt, iterations: n}, nil
}

// parseServerFinal parses "v=signature" or "e=error" (RFC 5802 §7) and returns the
// decoded signature.
func parseServerFinal(mech, msg string) ([]byte, error) {
	first, _, _ := strings.Cut(msg, ",")
	if v, ok := strings.CutPrefix(first, "e="); ok {
		return nil, &ServerError{Mechanism: mech, Message: v}
	}
	v, ok := strings.CutPrefix(first, "v=")
	if !ok {
		return nil, fmt.Errorf("%w: server-final message has neither v= nor e=", ErrProtocol)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: server signature is not base64", ErrProtocol)
	}
	return sig, nil
}

// printable reports whether s is a non-empty SCRAM nonce: printable ASCII without ','.
func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}
