package group

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
)

// handoffDebugLog records, in order, the hand-off's Debug records of an assignment received
// and of partitions released, with the partitions each names.
type handoffDebugLog struct {
	mu    sync.Mutex
	order *[]string
}

func (h *handoffDebugLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *handoffDebugLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != msgAssignmentReceived && r.Message != msgReleased {
		return nil
	}
	n := -1
	r.Attrs(func(a slog.Attr) bool {
		if as, ok := a.Value.Any().([]consumer.About); ok && a.Key == "partitions" {
			n = len(as)
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.order = append(*h.order, r.Message+" "+strconv.Itoa(n))
	return nil
}
func (h *handoffDebugLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *handoffDebugLog) WithGroup(string) slog.Handler      { return h }

// TestHandoffLogsReceiptAndRelease: the hand-off logs an assignment as it starts to take
// it (before OnAssigned) and the release of revoked partitions once OnRevoked returned
// and the revocation's commit was answered, each with its partitions. bench/cmd/troupe
// times the two client-controlled halves of a rebalance by these records.
func TestHandoffLogsReceiptAndRelease(t *testing.T) {
	const parts = 2
	_, seeds := startKfake(t, parts)
	var order []string
	h := &handoffDebugLog{order: &order}
	note := func(s string) {
		h.mu.Lock()
		order = append(order, s)
		h.mu.Unlock()
	}
	assigned := make(chan struct{}, 1)
	cfg := testGroupConfig("hl")
	cfg.Logger = slog.New(h)
	cfg.OnAssigned = func(_ context.Context, as []consumer.About) {
		note("OnAssigned " + strconv.Itoa(len(as)))
		assigned <- struct{}{}
	}
	cfg.OnRevoked = func(_ context.Context, as []consumer.About) { note("OnRevoked " + strconv.Itoa(len(as))) }
	m, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-assigned:
	case <-time.After(testTimeout):
		t.Fatal("no assignment")
	}
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	got := slices.Clone(order)
	h.mu.Unlock()
	want := []string{msgAssignmentReceived + " 2", "OnAssigned 2", "OnRevoked 2", msgReleased + " 2"}
	if !slices.Equal(got, want) {
		t.Fatalf("order = %q; want %q", got, want)
	}
}
