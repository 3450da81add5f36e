package sasl

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// The RFC 7677 §3 example exchange of SCRAM-SHA-256 (user "user", password "pencil").
const (
	rfc7677Nonce       = "rOprNGfwEbeRWgbNEkqO"
	rfc7677ClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfc7677ServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfc7677ClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfc7677ServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

// TestSCRAMSHA256RFC7677 runs the client through the RFC 7677 test vector: every client
// message must be the RFC's, byte for byte, and the RFC's server signature is accepted.
func TestSCRAMSHA256RFC7677(t *testing.T) {
	s, first, err := startSCRAM(sha256Variant, "user", "pencil", rfc7677Nonce)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != rfc7677ClientFirst {
		t.Fatalf("client-first %q", first)
	}
	final, done, err := s.Step([]byte(rfc7677ServerFirst))
	if err != nil || done {
		t.Fatalf("server-first: done %v, %v", done, err)
	}
	if string(final) != rfc7677ClientFinal {
		t.Fatalf("client-final %q\nwant         %q", final, rfc7677ClientFinal)
	}
	if _, done, err := s.Step([]byte(rfc7677ServerFinal)); err != nil || !done {
		t.Fatalf("server-final: done %v, %v", done, err)
	}
	if _, _, err := s.Step(nil); !errors.Is(err, ErrProtocol) {
		t.Fatalf("a message after the end: %v", err)
	}
}

// TestSCRAMRefusals checks each way a server-first or server-final message is refused.
func TestSCRAMRefusals(t *testing.T) {
	badSig := "v=" + strings.Repeat("A", 43) + "="
	for _, tc := range []struct {
		name        string
		first       string
		final       string // checked only when first is accepted
		want        error
		wantMessage string
	}{
		{name: "nonce not extending the client's", first: "r=XXprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", want: ErrProtocol},
		{name: "nonce equal to the client's", first: "r=" + rfc7677Nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", want: ErrProtocol},
		{name: "iterations below 4096", first: "r=" + rfc7677Nonce + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095", want: ErrProtocol},
		{name: "malformed salt", first: "r=" + rfc7677Nonce + "x,s=!!,i=4096", want: ErrProtocol},
		{name: "missing count", first: "r=" + rfc7677Nonce + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==", want: ErrProtocol},
		{name: "mandatory extension", first: "m=ext,r=" + rfc7677Nonce + "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", want: ErrProtocol},
		{name: "server error in first", first: "e=unknown-user", wantMessage: "unknown-user"},
		{name: "wrong server signature", first: rfc7677ServerFirst, final: badSig, want: ErrServerSignature},
		{name: "server error in final", first: rfc7677ServerFirst, final: "e=invalid-proof", wantMessage: "invalid-proof"},
		{name: "final without v or e", first: rfc7677ServerFirst, final: "x=1", want: ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := startSCRAM(sha256Variant, "user", "pencil", rfc7677Nonce)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = s.Step([]byte(tc.first))
			if err == nil {
				_, _, err = s.Step([]byte(tc.final))
			}
			if tc.wantMessage != "" {
				var se *ServerError
				if !errors.As(err, &se) || se.Message != tc.wantMessage || se.Mechanism != "SCRAM-SHA-256" {
					t.Fatalf("got %v, want a ServerError %q", err, tc.wantMessage)
				}
			} else if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "pencil") {
				t.Fatalf("error holds the password: %v", err)
			}
		})
	}
}

// TestSCRAMUserEscaping checks that ',' and '=' in a user name are escaped (RFC 5802 §5.1).
func TestSCRAMUserEscaping(t *testing.T) {
	_, first, err := startSCRAM(sha512Variant, "a=b,c", "p", "nonce")
	if err != nil {
		t.Fatal(err)
	}
	if want := "n,,n=a=3Db=2Cc,r=nonce"; string(first) != want {
		t.Fatalf("client-first %q, want %q", first, want)
	}
}

// TestSCRAMStart checks the exported types: their names, a random nonce of printable
// characters, and an empty user refused.
func TestSCRAMStart(t *testing.T) {
	for _, m := range []Mechanism{SCRAMSHA256{User: "u", Password: "p"}, SCRAMSHA512{User: "u", Password: "p"}} {
		_, first, err := m.Start(context.Background(), "b:9092")
		if err != nil {
			t.Fatal(err)
		}
		nonce, ok := strings.CutPrefix(string(first), "n,,n=u,r=")
		if !ok || len(nonce) < 16 || !printable(nonce) {
			t.Fatalf("%s client-first %q", m.Name(), first)
		}
		_, other, _ := m.Start(context.Background(), "b:9092")
		if string(other) == string(first) {
			t.Fatalf("%s reused its nonce", m.Name())
		}
	}
	if _, _, err := (SCRAMSHA512{Password: "p"}).Start(context.Background(), ""); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty user: %v", err)
	}
	if (SCRAMSHA256{}).Name() != "SCRAM-SHA-256" || (SCRAMSHA512{}).Name() != "SCRAM-SHA-512" {
		t.Fatal("names")
	}
}
