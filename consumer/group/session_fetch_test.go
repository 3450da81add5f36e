package group

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// logRecorder is a slog handler that keeps every message, for a test to wait for any of
// them (logWatch signals one word only).
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
	ch   chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{ch: make(chan struct{})} }

func (w *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (w *logRecorder) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	close(w.ch)
	w.ch = make(chan struct{})
	return nil
}
func (w *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *logRecorder) WithGroup(string) slog.Handler      { return w }

// wait waits for a message containing s.
func (w *logRecorder) wait(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		w.mu.Lock()
		ch := w.ch
		for _, m := range w.msgs {
			if strings.Contains(m, s) {
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no log message %q within %v", s, testTimeout)
		}
	}
}

// TestSessionEndStopsFetchingWhileARevocationWaits: a KIP-848 member told to give one
// of its two partitions up while its user holds a batch (the revocation waits for the
// user) loses its session meanwhile (no heartbeat gets through). The revocation is let
// finish first, and the partition it keeps is lost only then; but from the session's
// end the member fetches neither: both are out of its reader at once. (The kept
// partition stayed in the reader, and in the broker consumer's fetch session, until the
// user came back, up to ProcessingTime past the session: issue 21, a3.)
func TestSessionEndStopsFetchingWhileARevocationWaits(t *testing.T) {
	const parts = 2
	kc, seeds := kfake848(t, parts)
	produceN(t, seeds, parts, 0, 10)
	logs := newLogRecorder()
	cfg := consumerConfig("cs")
	cfg.SessionTimeout, cfg.ProcessingTime = time.Second, 30*time.Second
	cfg.Logger = slog.New(logs)
	col := newCollector(t, "m1")
	col.callbacks(&cfg)
	m1, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	col.m = m1
	// The user takes a batch and holds it: it does not poll again until told.
	for {
		bs, err := m1.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) > 0 && len(m1.Assigned()) == parts {
			break
		}
	}
	// A second member: the coordinator takes one partition from m1, whose revocation
	// waits for the user.
	m2 := join(t, seeds, consumerConfig("cs"), "m2")
	logs.wait(t, "revocation waits for the user")
	if got := m1.r.Partitions(); len(got) != 1 {
		t.Fatalf("m1's reader reads %v while the revocation waits; want the partition it keeps", got)
	}
	// No heartbeat of m1's gets through from now on.
	id := m1.MemberID()
	var broken atomic.Bool
	broken.Store(true)
	kc.ControlKey(int16(kmsg.ConsumerGroupHeartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if !broken.Load() || req.(*kmsg.ConsumerGroupHeartbeatRequest).MemberID != id {
			return nil, nil, false
		}
		return nil, errors.New("m1's heartbeats do not get through"), true
	})
	logs.wait(t, "no heartbeat succeeded within the session timeout")
	if got := m1.r.Partitions(); len(got) != 0 {
		t.Errorf("m1's reader still reads %v after its session ran out (the revocation still waits for the user)", got)
	}
	col.mu.Lock()
	events := append([]string(nil), col.events...)
	col.mu.Unlock()
	for _, e := range events {
		if !strings.HasPrefix(e, "assigned") {
			t.Errorf("callbacks %v while the revocation waits; want assignments alone (the loss follows the revocation)", events)
		}
	}

	// The user comes back: the revocation finishes, then the kept partition is lost.
	broken.Store(false)
	go col.run(context.Background())
	col.waitFor(t, "the revocation and the loss", func() bool {
		return len(col.events) >= len(events)+2
	})
	col.mu.Lock()
	var got []string
	for _, e := range col.events[len(events) : len(events)+2] {
		got = append(got, e[:strings.IndexByte(e, ' ')])
	}
	col.mu.Unlock()
	if strings.Join(got, ",") != "revoked,lost" {
		t.Errorf("callbacks after the assignments %v; want revoked, then lost", got)
	}
	closeMember(t, col)
	_ = m2
}
