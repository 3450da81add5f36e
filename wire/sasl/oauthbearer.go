package sasl

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Token is an OAuth 2 bearer token with what OAUTHBEARER sends beside it. Its String,
// GoString and Format print the token value and the extension values as "<redacted>".
type Token struct {
	// Value is the bearer token (RFC 6750 b64token characters). Required.
	Value string
	// AuthzID is the identity to act as; empty means the token's own (what Kafka expects).
	AuthzID string
	// Extensions are KIP-255's SASL extensions, sent as key=value pairs: keys are ASCII
	// letters other than "auth"; values are printable ASCII, space, tab, CR or LF.
	Extensions map[string]string
}

// String prints the authorization identity and the extension keys only.
func (t Token) String() string {
	return fmt.Sprintf("sasl.Token{Value: %s, AuthzID: %q, Extensions: %v}", redacted, t.AuthzID, slices.Sorted(maps.Keys(t.Extensions)))
}

// GoString is String: the token is hidden from %#v too.
func (t Token) GoString() string { return t.String() }

// Format prints String for every verb.
func (t Token) Format(f fmt.State, _ rune) { formatAs(f, t.String()) }

// OAuthBearer is the OAUTHBEARER mechanism (RFC 7628) as Kafka speaks it (KIP-255): each
// authentication asks TokenSource for a token and sends it. A server that rejects the token
// answers with an error status (a JSON document); the session answers with the single
// byte 0x01 as RFC 7628 §3.2.3 asks, and the broker then fails the authentication.
type OAuthBearer struct {
	// TokenSource returns the token to send. It is called once per authentication, from
	// the connection being set up, so it must be safe for concurrent use; caching and
	// refreshing tokens is its job. Its errors must not contain the token. Required.
	TokenSource func(ctx context.Context) (Token, error)
}

// Name returns "OAUTHBEARER".
func (OAuthBearer) Name() string { return "OAUTHBEARER" }

// Start fetches a token and frames the client's initial response. It fails with
// ErrInvalidConfig without a token source or for a token or extension that cannot be sent,
// and with the token source's error.
func (o OAuthBearer) Start(ctx context.Context, _ string) (Session, []byte, error) {
	if o.TokenSource == nil {
		return nil, nil, fmt.Errorf("%w: needs a TokenSource", ErrInvalidConfig)
	}
	tok, err := o.TokenSource(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("token source: %w", err)
	}
	msg, err := appendOAuthInitial(nil, tok)
	if err != nil {
		return nil, nil, err
	}
	return &oauthSession{}, msg, nil
}

// appendOAuthInitial appends the client's initial response (RFC 7628 §3.1):
//
//	gs2-header %x01 *(key "=" value %x01) %x01
//
// with the extensions in key order and the "auth" pair last.
func appendOAuthInitial(dst []byte, t Token) ([]byte, error) {
	if !b64token(t.Value) {
		return nil, fmt.Errorf("%w: token is empty or has characters RFC 6750 does not allow", ErrInvalidConfig)
	}
	if strings.ContainsAny(t.AuthzID, ",=\x00") {
		return nil, fmt.Errorf("%w: authorization identity holds ',', '=' or NUL", ErrInvalidConfig)
	}
	dst = append(dst, "n,"...)
	if t.AuthzID != "" {
		dst = append(append(dst, "a="...), t.AuthzID...)
	}
	dst = append(dst, ",\x01"...)
	for _, k := range slices.Sorted(maps.Keys(t.Extensions)) {
		v := t.Extensions[k]
		if !extensionKey(k) || k == "auth" {
			return nil, fmt.Errorf("%w: extension key %q is not letters, or is \"auth\"", ErrInvalidConfig, k)
		}
		if !extensionValue(v) {
			return nil, fmt.Errorf("%w: extension %q has a character RFC 7628 does not allow", ErrInvalidConfig, k)
		}
		dst = append(append(append(append(dst, k...), '='), v...), 1)
	}
	dst = append(append(dst, "auth=Bearer "...), t.Value...)
	return append(dst, 1, 1), nil
}

// parseOAuthInitial parses a client's initial response, the inverse of appendOAuthInitial
// (with the pairs in any order). It is what a server reads; troupe's tests use it.
func parseOAuthInitial(msg []byte) (Token, error) {
	var t Token
	s := string(msg)
	gs2, rest, ok := strings.Cut(s, "\x01")
	if !ok || !strings.HasSuffix(rest, "\x01") {
		return t, fmt.Errorf("%w: message is not framed by 0x01", ErrProtocol)
	}
	parts := strings.Split(gs2, ",")
	if len(parts) != 3 || parts[0] != "n" || parts[2] != "" {
		return t, fmt.Errorf("%w: gs2 header %q", ErrProtocol, gs2)
	}
	if parts[1] != "" {
		a, ok := strings.CutPrefix(parts[1], "a=")
		if !ok || a == "" {
			return t, fmt.Errorf("%w: gs2 header %q", ErrProtocol, gs2)
		}
		t.AuthzID = a
	}
	pairs := strings.Split(strings.TrimSuffix(rest, "\x01"), "\x01")
	if len(pairs) == 0 || pairs[len(pairs)-1] != "" {
		return t, fmt.Errorf("%w: message does not end with two 0x01", ErrProtocol)
	}
	for _, p := range pairs[:len(pairs)-1] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !extensionKey(k) {
			return t, fmt.Errorf("%w: pair without a valid key", ErrProtocol)
		}
		if k == "auth" {
			val, ok := strings.CutPrefix(v, "Bearer ")
			if !ok || !b64token(val) || t.Value != "" {
				return t, fmt.Errorf("%w: auth pair is not one \"Bearer <token>\"", ErrProtocol)
			}
			t.Value = val
			continue
		}
		if !extensionValue(v) {
			return t, fmt.Errorf("%w: extension %q has an invalid value", ErrProtocol, k)
		}
		if _, dup := t.Extensions[k]; dup {
			return t, fmt.Errorf("%w: extension %q repeated", ErrProtocol, k)
		}
		if t.Extensions == nil {
			t.Extensions = map[string]string{}
		}
		t.Extensions[k] = v
	}
	if t.Value == "" {
		return t, fmt.Errorf("%w: message has no token", ErrProtocol)
	}
	return t, nil
}

// oauthSession waits for the server's answer: empty is success; an error status is
// answered with 0x01, after which the server must fail the exchange.
type oauthSession struct {
	status string // the server's error status, once it sent one
	failed bool
}

// Step accepts an empty answer, or answers an error status with 0x01.
func (s *oauthSession) Step(challenge []byte) ([]byte, bool, error) {
	if s.failed {
		return nil, false, &ServerError{Mechanism: "OAUTHBEARER", Message: s.status}
	}
	if len(challenge) == 0 {
		return nil, true, nil
	}
	status, err := parseOAuthError(challenge)
	if err != nil {
		return nil, false, err
	}
	s.failed, s.status = true, status
	return []byte{1}, false, nil
}

// parseOAuthError reads the server's error JSON (RFC 7628 §3.2.2) and returns its
// status, with the scope when the server names one.
func parseOAuthError(msg []byte) (string, error) {
	var e struct {
		Status string `json:"status"`
		Scope  string `json:"scope"`
	}
	if err := json.Unmarshal(msg, &e); err != nil || e.Status == "" {
		return "", fmt.Errorf("%w: server answer is not an error status", ErrProtocol)
	}
	if e.Scope != "" {
		return e.Status + " (scope " + e.Scope + ")", nil
	}
	return e.Status, nil
}

// b64token reports whether s is an RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func b64token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return false
		}
	}
	return true
}

// extensionKey reports whether k is a valid key: 1*ALPHA.
func extensionKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// extensionValue reports whether v is a valid value: *(VCHAR / SP / HTAB / CR / LF).
func extensionValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; !(c >= 0x21 && c <= 0x7e || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			return false
		}
	}
	return true
}
