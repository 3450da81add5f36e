package sasl

import (
	"errors"
	"testing"
)

// FuzzSCRAMServerMessages feeds arbitrary server-first and server-final messages to a
// SCRAM-SHA-256 session. It must never panic, every failure must match ErrProtocol,
// ErrServerSignature or *ServerError, and a session that fails stays failed.
func FuzzSCRAMServerMessages(f *testing.F) {
	f.Add(rfc7677ServerFirst, rfc7677ServerFinal)
	f.Add("e=other-error", "")
	f.Add("r="+rfc7677Nonce+"x,s=AA==,i=4096,ext=1", "v=AA==,x")
	f.Add("r=,s=,i=", "v=")
	f.Fuzz(func(t *testing.T, first, final string) {
		if _, err := parseServerFirst("SCRAM-SHA-256", first); err != nil {
			checkClass(t, err)
		}
		if _, err := parseServerFinal("SCRAM-SHA-256", final); err != nil {
			checkClass(t, err)
		}
		s, _, err := startSCRAM(sha256Variant, "user", "pencil", rfc7677Nonce)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Step([]byte(first)); err != nil {
			checkClass(t, err)
			return
		}
		if _, done, err := s.Step([]byte(final)); err != nil {
			checkClass(t, err)
		} else if !done {
			t.Fatal("server-final accepted without ending the session")
		}
	})
}

// FuzzOAuthBearerMessages parses arbitrary client initial responses and server error
// answers: no panic, failures are ErrProtocol, and whatever parses frames back to bytes
// that parse to the same token.
func FuzzOAuthBearerMessages(f *testing.F) {
	f.Add([]byte(rfc7628Initial), []byte(rfc7628Error))
	f.Add([]byte("n,,\x01auth=Bearer x\x01\x01"), []byte(`{"status":"x"}`))
	f.Add([]byte("n,,\x01\x01"), []byte(`{}`))
	f.Fuzz(func(t *testing.T, initial, answer []byte) {
		if _, err := parseOAuthError(answer); err != nil && !errors.Is(err, ErrProtocol) {
			t.Fatalf("error answer: %v", err)
		}
		tok, err := parseOAuthInitial(initial)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("initial response: %v", err)
			}
			return
		}
		again, err := appendOAuthInitial(nil, tok)
		if err != nil {
			t.Fatalf("parsed token does not frame: %v", err)
		}
		back, err := parseOAuthInitial(again)
		if err != nil || back.Value != tok.Value || back.AuthzID != tok.AuthzID || len(back.Extensions) != len(tok.Extensions) {
			t.Fatalf("round trip: %#v -> %q -> %v", tok, again, err)
		}
		for k, v := range tok.Extensions {
			if back.Extensions[k] != v {
				t.Fatalf("extension %q lost", k)
			}
		}
	})
}

func checkClass(t *testing.T, err error) {
	t.Helper()
	var se *ServerError
	if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrServerSignature) && !errors.As(err, &se) {
		t.Fatalf("unclassified error: %v", err)
	}
}
