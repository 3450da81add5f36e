package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
)

// groupConfig describes the group member's configuration for the report.
const groupConfig = "consumer.Config{MinBytes: 1, MaxBytes: 50 MiB, MaxPartitionBytes: 1 MiB, MaxWait: 500ms, OffsetReset: ResetEarliest}; " +
	"group.Join(group.Config{Topics, Assignors: Range() (cooperative-sticky: CooperativeSticky(); kip848: Protocol: Consumer, ServerAssignor: uniform, " +
	"the heartbeat interval the coordinator gives), HeartbeatInterval: -heartbeat, " +
	"OnAssigned/OnRevoked/OnLost report to the driver}); one goroutine calling Poll; the member commits what Poll returned before " +
	"giving partitions up (its at-least-once hand-off)"

// member is one member of the group mode: troupe's group member, polling until the
// driver says leave, then Close (which leaves the group).
func member(m *workload.Member) error {
	if m.Recycle {
		m.Describe(groupConfig + "; each poll's batches given back once counted (Member.Release)")
	} else {
		m.Describe(groupConfig)
	}
	gcfg := group.Config{Assignors: []group.Assignor{group.Range()}}
	switch m.Assignor {
	case "cooperative-sticky":
		gcfg.Assignors = []group.Assignor{group.CooperativeSticky()}
	case workload.KIP848:
		gcfg.Protocol, gcfg.Assignors, gcfg.ServerAssignor = group.Consumer, nil, group.ServerAssignorUniform
	}
	trace, closeTrace, err := traceHandler()
	if err != nil {
		return err
	}
	defer closeTrace()
	c, err := consumer.New(consumer.Config{
		Seeds:             m.Brokers,
		MinBytes:          1,
		MaxBytes:          50 << 20,
		MaxPartitionBytes: 1 << 20,
		MaxWait:           500 * time.Millisecond,
		Logger:            slog.New(trace),
	})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	parts := func(as []consumer.About) []int32 {
		out := make([]int32, 0, len(as))
		for _, a := range as {
			if a.Topic == workload.Topic {
				out = append(out, a.Partition)
			}
		}
		return out
	}
	ctx := m.Context()
	gcfg.Group, gcfg.Topics, gcfg.HeartbeatInterval = m.Group, []string{workload.Topic}, m.Heartbeat
	gcfg.OnAssigned = func(_ context.Context, as []consumer.About) { m.Assigned(parts(as)) }
	gcfg.OnRevoked = func(_ context.Context, as []consumer.About) {
		m.Revoking(parts(as))
		m.Revoked(parts(as))
	}
	gcfg.OnLost = func(_ context.Context, as []consumer.About) { m.Revoked(parts(as)) }
	// The member's own logger (the consumer's stays as it was): it reports the hand-off's
	// release of revoked partitions, which comes after OnRevoked and the commit.
	gcfg.Logger = slog.New(&releaseHandler{m: m, parts: parts, trace: trace})
	g, err := group.Join(ctx, c, gcfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer g.Close(context.Background())
	for {
		bs, err := g.Poll(ctx)
		if ctx.Err() != nil {
			return g.Close(context.Background())
		}
		if err != nil {
			return err
		}
		for _, b := range bs {
			if b.Err != nil {
				if errors.Is(b.Err, context.Canceled) {
					continue
				}
				return fmt.Errorf("partition %d: %w", b.Partition, b.Err)
			}
			if n := len(b.Records); n > 0 {
				m.Batch(b.Partition, n, b.Records[0].Timestamp, b.Records[n-1].Offset, b.HighWaterMark)
			}
		}
		if m.Recycle {
			g.Release(bs...)
		}
	}
}

// received is the message of the group member's Debug record of an assignment the
// hand-off starts to take, before it fetches the committed offsets and runs OnAssigned
// (msgAssignmentReceived in consumer/group/handoff.go).
const received = "group member: assignment received"

// released is the message of the group member's Debug record of partitions released
// after a revocation (msgReleased in consumer/group/handoff.go).
const released = "group member: revoked partitions released"

// releaseHandler is the group member's slog handler: it turns the member's records of
// assignments received and partitions released into the driver's "received" and
// "released" lines and passes records of Warn and
// above to stderr, as the default logger would; other Debug and Info records are dropped.
type releaseHandler struct {
	m     *workload.Member
	parts func([]consumer.About) []int32
	attrs []slog.Attr
	trace slog.Handler // every record, when tracing (traceHandler)
}

func (h *releaseHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *releaseHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.trace.Enabled(ctx, r.Level) {
		_ = h.trace.WithAttrs(h.attrs).Handle(ctx, r)
	}
	if r.Message == released || r.Message == received {
		r.Attrs(func(a slog.Attr) bool {
			if as, ok := a.Value.Any().([]consumer.About); ok && a.Key == "partitions" {
				if r.Message == released {
					h.m.Released(h.parts(as))
				} else {
					h.m.Received(h.parts(as))
				}
				return false
			}
			return true
		})
		return nil
	}
	if r.Level < slog.LevelWarn {
		return nil
	}
	return slog.Default().Handler().WithAttrs(h.attrs).Handle(ctx, r)
}

func (h *releaseHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &releaseHandler{m: h.m, parts: h.parts, attrs: append(slices.Clone(h.attrs), as...), trace: h.trace}
}

func (h *releaseHandler) WithGroup(string) slog.Handler { return h }

// traceEnv names a folder: when set, each member writes every record of its consumer,
// client and group member (Debug included, with microsecond times) to a file of its own
// there, trace-PID.log, to follow a rebalance step by step. Unset, nothing is written.
const traceEnv = "TROUPE_BENCH_TRACE"

// traceHandler returns the handler of the member's trace (a discarding one when
// traceEnv is unset) and what closes its file.
func traceHandler() (slog.Handler, func(), error) {
	dir := os.Getenv(traceEnv)
	if dir == "" {
		return slog.DiscardHandler, func() {}, nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("trace-%d.log", os.Getpid())))
	if err != nil {
		return nil, nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var mu sync.Mutex
	h := slog.NewTextHandler(&lockedWriter{mu: &mu, w: w}, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000000"))
			}
			return a
		},
	})
	return perPartitionDropped{h}, func() {
		mu.Lock()
		defer mu.Unlock()
		_ = w.Flush()
		_ = f.Close()
	}, nil
}

// perPartitionDropped leaves out of the trace the records logged once per partition
// (subscriptions: a thousand per assignment), whose writing would be most of the time
// the trace measures.
type perPartitionDropped struct{ slog.Handler }

func (h perPartitionDropped) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "subscribed") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h perPartitionDropped) WithAttrs(as []slog.Attr) slog.Handler {
	return perPartitionDropped{h.Handler.WithAttrs(as)}
}

// lockedWriter serializes the trace's writes (slog's handlers lock per handler, and the
// consumer's and the member's are two).
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
