package sasl

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// The RFC 7628 §4.1 example: the client's initial response with an authorization identity,
// two extensions (host and port) and the bearer token, and the §4.3 error status.
const (
	rfc7628Initial = "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
	rfc7628Error   = `{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}`
)

var rfc7628Token = Token{
	Value:      "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
	AuthzID:    "user@example.com",
	Extensions: map[string]string{"host": "server.example.com", "port": "143"},
}

// TestOAuthBearerRFC7628 checks the framing both ways against the RFC's example: the token
// frames to the RFC's bytes, and the RFC's bytes parse to the token.
func TestOAuthBearerRFC7628(t *testing.T) {
	m := OAuthBearer{TokenSource: func(context.Context) (Token, error) { return rfc7628Token, nil }}
	s, first, err := m.Start(context.Background(), "b:9092")
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != rfc7628Initial {
		t.Fatalf("initial response %q\nwant             %q", first, rfc7628Initial)
	}
	back, err := parseOAuthInitial([]byte(rfc7628Initial))
	if err != nil || !reflect.DeepEqual(back, rfc7628Token) {
		t.Fatalf("parsed %#v, %v", back, err)
	}
	if _, done, err := s.Step(nil); err != nil || !done {
		t.Fatalf("empty server answer: done %v, %v", done, err)
	}
}

// TestOAuthBearerErrorStatus checks RFC 7628 §3.2.3: an error status is answered with the
// single byte 0x01, and a further server message fails with the status.
func TestOAuthBearerErrorStatus(t *testing.T) {
	s := &oauthSession{}
	resp, done, err := s.Step([]byte(rfc7628Error))
	if err != nil || done || string(resp) != "\x01" {
		t.Fatalf("error status answered %q, done %v, %v", resp, done, err)
	}
	_, _, err = s.Step(nil)
	var se *ServerError
	if !errors.As(err, &se) || se.Message != "invalid_token (scope example_scope)" {
		t.Fatalf("after 0x01: %v", err)
	}
	if _, _, err := (&oauthSession{}).Step([]byte("not json")); !errors.Is(err, ErrProtocol) {
		t.Fatalf("a non-JSON answer: %v", err)
	}
}

// TestOAuthBearerInvalid checks that tokens and extensions that cannot be framed are
// refused with ErrInvalidConfig, and that the token source's error is passed on.
func TestOAuthBearerInvalid(t *testing.T) {
	boom := errors.New("boom")
	for name, tc := range map[string]struct {
		tok  Token
		err  error
		want error
	}{
		"empty token":         {tok: Token{}, want: ErrInvalidConfig},
		"token with a space":  {tok: Token{Value: "a b"}, want: ErrInvalidConfig},
		"token with 0x01":     {tok: Token{Value: "a\x01"}, want: ErrInvalidConfig},
		"reserved key":        {tok: Token{Value: "t", Extensions: map[string]string{"auth": "x"}}, want: ErrInvalidConfig},
		"key with a digit":    {tok: Token{Value: "t", Extensions: map[string]string{"k1": "x"}}, want: ErrInvalidConfig},
		"value with 0x01":     {tok: Token{Value: "t", Extensions: map[string]string{"k": "\x01"}}, want: ErrInvalidConfig},
		"authzid with comma":  {tok: Token{Value: "t", AuthzID: "a,b"}, want: ErrInvalidConfig},
		"token source failed": {err: boom, want: boom},
	} {
		t.Run(name, func(t *testing.T) {
			m := OAuthBearer{TokenSource: func(context.Context) (Token, error) { return tc.tok, tc.err }}
			if _, _, err := m.Start(context.Background(), ""); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, _, err := (OAuthBearer{}).Start(context.Background(), ""); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("no token source: %v", err)
	}
}
