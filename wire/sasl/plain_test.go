package sasl

import (
	"context"
	"errors"
	"testing"
)

// TestPlain checks PLAIN's one message (RFC 4616: authzid NUL user NUL password) and that
// the session ends at the server's first answer.
func TestPlain(t *testing.T) {
	s, msg, err := Plain{User: "alice", Password: "secret"}.Start(context.Background(), "b:9092")
	if err != nil {
		t.Fatal(err)
	}
	if string(msg) != "\x00alice\x00secret" {
		t.Fatalf("message %q", msg)
	}
	if _, done, err := s.Step(nil); err != nil || !done {
		t.Fatalf("answer: done %v, %v", done, err)
	}
	if _, _, err := s.Step(nil); !errors.Is(err, ErrProtocol) {
		t.Fatalf("second answer: %v", err)
	}
	if _, _, err := (Plain{Password: "p"}).Start(context.Background(), ""); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty user: %v", err)
	}
	if _, _, err := (Plain{User: "u", Password: "p\x00"}).Start(context.Background(), ""); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NUL in password: %v", err)
	}
}
