package kafkatest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
)

// LockedBuffer is a bytes.Buffer that slog handlers on several goroutines may share: the
// capture the credential tests grep.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// KindLog is a slog.Handler that records, for each record, the kind of the actor that
// logged it (the "kind" attribute every actor's logger carries) and its message: what the
// tests that set one Logger at the top check reached every layer. Handlers derived by
// WithAttrs share its records.
type KindLog struct {
	mu    *sync.Mutex
	kinds map[string]int
	msgs  *[]string
	kind  string
}

// NewKindLog returns an empty KindLog.
func NewKindLog() *KindLog {
	return &KindLog{mu: new(sync.Mutex), kinds: make(map[string]int), msgs: new([]string)}
}

// Enabled reports true for every level.
func (h *KindLog) Enabled(context.Context, slog.Level) bool { return true }

// Handle records r's kind and message.
func (h *KindLog) Handle(_ context.Context, r slog.Record) error {
	kind := h.kind
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "kind" {
			kind = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.kinds[kind]++
	*h.msgs = append(*h.msgs, r.Message)
	return nil
}

// WithAttrs returns a handler that shares h's records, with the kind from as if it has one.
func (h *KindLog) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		if a.Key == "kind" {
			c.kind = a.Value.String()
		}
	}
	return &c
}

// WithGroup returns h: groups do not matter here.
func (h *KindLog) WithGroup(string) slog.Handler { return h }

// Has reports whether an actor of kind logged anything.
func (h *KindLog) Has(kind string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.kinds[kind] > 0
}

// Said reports whether any record's message contains part.
func (h *KindLog) Said(part string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range *h.msgs {
		if strings.Contains(m, part) {
			return true
		}
	}
	return false
}
