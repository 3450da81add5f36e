package broker_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
)

// readsOnce fails the test if err's message says something twice: one of sentinels' texts
// more than once, or the same "prefix: " twice in a row, or more than one line.
func readsOnce(t *testing.T, err error, sentinels ...error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error of more than one line: %q", msg)
	}
	for _, s := range sentinels {
		if n := strings.Count(msg, s.Error()); n > 1 {
			t.Errorf("%q says %q %d times", msg, s.Error(), n)
		}
	}
	parts := strings.Split(msg, ": ")
	for i := 1; i < len(parts); i++ {
		if parts[i] == parts[i-1] {
			t.Errorf("%q repeats %q", msg, parts[i])
		}
	}
}

// syncBuffer is a log sink that connection goroutines write to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A dial that fails, the breaker it opens, and the redials between: each error says each
// thing once, and a redial is a warning in the log, not an error.
func TestDialFailuresReadOnceAndLogAtWarn(t *testing.T) {
	var logs syncBuffer
	dead := "127.0.0.1:" + strconv.Itoa(kafkatest.FreePort(t))
	exited := make(chan struct{}, 100)
	p := startPool(t, broker.Config{
		ConnectTimeout: time.Second,
		Breaker:        supervisor.BreakerConfig{Errors: 3, Timeout: time.Hour},
		Backoff:        supervisor.Backoff{Min: time.Millisecond, Max: time.Millisecond},
		Logger:         slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnEvent: func(e troupe.Event) {
			if _, ok := e.(supervisor.Exited); ok {
				exited <- struct{}{}
			}
		},
	})
	h, _ := p.Conn(broker.Node{ID: 7, Addr: dead}, broker.Produce)
	ctx := ctxT(t)
	sentinels := []error{broker.ErrNetwork, broker.ErrNotSent, broker.ErrUnavailable}
	for i := 0; ; i++ {
		_, err := h.Do(ctx, metadataReq())
		if err == nil {
			t.Fatal("a call to nothing succeeded")
		}
		t.Logf("call %d: %v", i, err)
		readsOnce(t, err, sentinels...)
		if n := strings.Count(err.Error(), "broker"); n > 1 {
			t.Errorf("%q names the broker %d times", err, n)
		}
		if errors.Is(err, broker.ErrUnavailable) {
			break
		}
		if i > 50 {
			t.Fatal("the breaker never opened")
		}
	}
	select {
	case <-exited:
	case <-ctx.Done():
		t.Fatal("no Exited event for the failed connection")
	}
	warned := false
	for line := range strings.Lines(logs.String()) {
		var rec struct{ Level, Msg, Err string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch rec.Level {
		case "ERROR":
			t.Errorf("a redial logged at error level: %s", line)
		case "WARN":
			warned = warned || strings.Contains(rec.Err, "connection refused")
		}
		if rec.Err != "" {
			readsOnce(t, errors.New(rec.Err), sentinels...)
		}
	}
	if !warned {
		t.Errorf("no warning names the network failure:\n%s", logs.String())
	}
}
