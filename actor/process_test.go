package actor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/actorhook"
)

func TestPanicBecomesErrorWithStack(t *testing.T) {
	boom := errors.New("boom")
	_, p := actor.Start(context.Background(), "panicker", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		panic(boom)
	}), actor.Options[int]{})
	waitDone(t, p)
	err := p.Err()
	var pe *actor.PanicError
	if !errors.As(err, &pe) || !errors.Is(err, actor.ErrPanic) || !errors.Is(err, boom) {
		t.Fatalf("Err = %v; want a *PanicError wrapping boom", err)
	}
	if pe.Actor != "panicker" || !bytes.Contains(pe.Stack, []byte("process_test.go")) {
		t.Fatalf("panic error lacks actor name or stack: %q %s", pe.Actor, pe.Stack)
	}
	if p.State() != actor.Failed {
		t.Fatalf("state %v, want failed", p.State())
	}
	if got, want := err.Error(), `actor "panicker" panicked: boom`; got != want {
		t.Fatalf("Error() = %q, want %q: one line, the stack stays on the value", got, want)
	}
}

func TestPanicStackIsLogged(t *testing.T) {
	var logs bytes.Buffer
	mb := actor.NewMailbox(actor.MailboxConfig[int]{})
	p := actor.Spawn(context.Background(), "panicker", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		panic("boom")
	}), mb, actor.SpawnOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	waitDone(t, p)
	var failed struct {
		Msg   string
		Err   string
		Stack string
	}
	for line := range strings.Lines(logs.String()) {
		if err := json.Unmarshal([]byte(line), &failed); err == nil && failed.Msg == "actor failed" {
			break
		}
	}
	if failed.Msg != "actor failed" || strings.Contains(failed.Err, "\n") || !strings.Contains(failed.Stack, "process_test.go") {
		t.Fatalf("the failure record should carry a one-line err and the stack apart: %+v\n%s", failed, logs.String())
	}
}

func TestGoroutineCarriesPprofLabels(t *testing.T) {
	release := make(chan struct{})
	running := make(chan struct{})
	mb := actor.NewMailbox(actor.MailboxConfig[int]{})
	p := actor.Spawn(context.Background(), "labelled-one", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		close(running)
		<-release
		return nil
	}), mb, actor.SpawnOptions{Kind: "test-kind"})
	<-running
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	close(release)
	waitDone(t, p)
	dump := buf.String()
	if !strings.Contains(dump, `"actor":"labelled-one"`) || !strings.Contains(dump, `"kind":"test-kind"`) {
		t.Fatalf("goroutine profile does not show the actor's labels:\n%s", dump)
	}
}

func TestDrainStopProcessesEverythingAccepted(t *testing.T) {
	var handled []int
	ref, p := actor.Start(context.Background(), "drainer", actor.Receive(func(ctx context.Context, m int) error {
		handled = append(handled, m)
		return nil
	}), actor.Options[int]{})
	for i := range 100 {
		if err := ref.Send(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if len(handled) != 100 {
		t.Fatalf("drain stop handled %d of 100", len(handled))
	}
	if p.State() != actor.Stopped {
		t.Fatalf("state %v", p.State())
	}
	if err := ref.Send(context.Background(), 1); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("send after stop: %v", err)
	}
}

func TestCancelStopIsANormalEndAndKeepsOrDropsQueue(t *testing.T) {
	var dropped []int
	var mu sync.Mutex
	mb := actor.NewMailbox(actor.MailboxConfig[int]{OnDrop: func(m int) { mu.Lock(); dropped = append(dropped, m); mu.Unlock() }})
	started := make(chan struct{})
	p := actor.Spawn(context.Background(), "blocked", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		close(started)
		<-ctx.Done() // never drains
		return ctx.Err()
	}), mb, actor.SpawnOptions{})
	<-started
	_, _ = mb.Ref().SendBatch(context.Background(), []int{1, 2})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Cancel(ctx); err != nil {
		t.Fatalf("Cancel returned %v; a requested cancellation is a normal end", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dropped) != 2 {
		t.Fatalf("messages left in a discarded mailbox must reach OnDrop, got %v", dropped)
	}
}

func TestStopTimeoutIsReportedWithName(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	release := make(chan struct{})
	mb := actor.NewMailbox(actor.MailboxConfig[int]{})
	p := actor.Spawn(context.Background(), "stubborn", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		<-release // ignores both its mailbox and its context
		return nil
	}), mb, actor.SpawnOptions{Logger: logger})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := p.Stop(ctx)
	var ste *actor.StopTimeoutError
	if !errors.As(err, &ste) || !errors.Is(err, actor.ErrStopTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v; want a *StopTimeoutError", err)
	}
	if ste.Actor != "stubborn" || !ste.Drained {
		t.Fatalf("error does not name the actor or kind of stop: %+v", ste)
	}
	close(release)
	waitDone(t, p)
	if !strings.Contains(logs.String(), "did not stop in time") || !strings.Contains(logs.String(), "stubborn") {
		t.Fatalf("stop timeout not logged: %s", logs.String())
	}
}

func TestFailureIsReportedAndExitHookRuns(t *testing.T) {
	bad := errors.New("bad input")
	var hookErr error
	mb := actor.NewMailbox(actor.MailboxConfig[int]{})
	p := actor.Spawn(context.Background(), "failing", actor.Receive(func(ctx context.Context, m int) error {
		if m == 3 {
			return bad
		}
		return nil
	}), mb, supervised(actorhook.Supervision{KeepMailbox: true, OnExit: func(err error) { hookErr = err }}))
	_, _ = mb.Ref().SendBatch(context.Background(), []int{1, 2, 3, 4, 5})
	waitDone(t, p)
	if !errors.Is(p.Err(), bad) || !errors.Is(hookErr, bad) {
		t.Fatalf("Err=%v hook=%v", p.Err(), hookErr)
	}
	// KeepMailbox: the unhandled rest is still queued, in order, for a next incarnation.
	if got := collect(t, mb); len(got) != 2 || got[0] != 4 || got[1] != 5 {
		t.Fatalf("rest of the batch after failure = %v, want [4 5]", got)
	}
}

func TestExitHookPanicIsReported(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{})
	p := actor.Spawn(context.Background(), "hook-panics", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error { return nil }),
		mb, supervised(actorhook.Supervision{OnExit: func(error) { panic("in hook") }}))
	waitDone(t, p)
	if !errors.Is(p.Err(), actor.ErrPanic) {
		t.Fatalf("a panicking exit hook must fail the actor, got %v", p.Err())
	}
}

func TestInfoReportsState(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 8})
	gate := make(chan struct{})
	p := actor.Spawn(context.Background(), "observed", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		<-gate
		b, _ := in.Drain(nil)
		_ = b
		<-ctx.Done()
		return ctx.Err()
	}), mb, actor.SpawnOptions{Kind: "obs"})
	_, _ = mb.Ref().SendBatch(context.Background(), []int{1, 2, 3})
	info := p.Info()
	if info.Name != "observed" || info.Kind != "obs" || info.Mailbox.Len != 3 || info.Mailbox.Cap != 8 {
		t.Fatalf("info %+v", info)
	}
	close(gate)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	info = p.Info()
	if info.State != actor.Stopped || info.Mailbox.Received != 3 {
		t.Fatalf("info after stop %+v", info)
	}
}

func TestParentContextCancellationEndsActor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, p := actor.Start(ctx, "child", actor.Receive(func(ctx context.Context, m int) error { return nil }), actor.Options[int]{})
	cancel()
	waitDone(t, p)
	if !errors.Is(p.Err(), context.Canceled) {
		t.Fatalf("an actor whose parent went away reports %v, want context.Canceled", p.Err())
	}
}

func TestReceiveBatchDrainsInOrderAndStopsOnError(t *testing.T) {
	var got []int
	bad := errors.New("bad")
	mb := actor.NewMailbox(actor.MailboxConfig[int]{})
	p := actor.Spawn(context.Background(), "batches", actor.ReceiveBatch(func(ctx context.Context, batch []int) error {
		for _, n := range batch {
			if n < 0 {
				return bad
			}
			got = append(got, n)
		}
		return nil
	}), mb, actor.SpawnOptions{})
	_, _ = mb.Ref().SendBatch(context.Background(), []int{1, 2, 3})
	_, _ = mb.Ref().SendBatch(context.Background(), []int{4, -1})
	waitDone(t, p)
	if !errors.Is(p.Err(), bad) || len(got) < 4 || got[0] != 1 || got[3] != 4 {
		t.Fatalf("got %v, err %v", got, p.Err())
	}
	// A drain stop ends it normally once everything accepted is handled.
	var sum int
	ref, p2 := actor.Start(context.Background(), "sum", actor.ReceiveBatch(func(ctx context.Context, batch []int) error {
		for _, n := range batch {
			sum += n
		}
		return nil
	}), actor.Options[int]{})
	_, _ = ref.SendBatch(context.Background(), []int{1, 2, 3, 4})
	if err := p2.Stop(context.Background()); err != nil || sum != 10 {
		t.Fatalf("stop: %v, sum %d", err, sum)
	}
}
