package actor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/actorhook"
)

// drainAll takes everything queued without running an actor, through a throwaway Inbox
// obtained from a stub actor.
func collect[M any](t *testing.T, mb *actor.Mailbox[M]) []M {
	t.Helper()
	got := make(chan []M, 1)
	p := actor.Spawn(context.Background(), "collector", actor.Func[M](func(ctx context.Context, in *actor.Inbox[M]) error {
		b, _ := in.Drain(nil)
		got <- b
		return nil
	}), mb, supervised(actorhook.Supervision{KeepMailbox: true}))
	waitDone(t, p)
	return <-got
}

func waitDone(t *testing.T, p *actor.Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("actor %s did not exit", p.Name())
	}
}

func TestMailboxFIFOAndCapacity(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 3, Overflow: actor.Fail})
	ref := mb.Ref()
	ctx := context.Background()
	for i := range 3 {
		if err := ref.Send(ctx, i); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := ref.Send(ctx, 3); !errors.Is(err, actor.ErrFull) {
		t.Fatalf("send to full Fail mailbox: got %v, want ErrFull", err)
	}
	if got := collect(t, mb); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("drained %v, want [0 1 2]", got)
	}
	if mb.Len() != 0 {
		t.Fatalf("Len after drain = %d", mb.Len())
	}
}

func TestTrySendDistinguishesFullAndStopped(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1})
	ref := mb.Ref()
	if err := ref.TrySend(1); err != nil {
		t.Fatal(err)
	}
	if err := ref.TrySend(2); !errors.Is(err, actor.ErrFull) {
		t.Fatalf("TrySend on full: %v, want ErrFull", err)
	}
	mb.Close()
	if err := ref.TrySend(3); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("TrySend on closed: %v, want ErrStopped", err)
	}
	if err := (actor.Ref[int]{}).TrySend(1); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("zero Ref: %v, want ErrStopped", err)
	}
}

func TestBlockingSendHonoursContext(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1})
	ref := mb.Ref()
	ctx := context.Background()
	if err := ref.Send(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("gave up")
	cctx, cancel := context.WithCancelCause(ctx)
	errc := make(chan error, 1)
	go func() { errc <- ref.Send(cctx, 2) }()
	select {
	case err := <-errc:
		t.Fatalf("send to a full Block mailbox returned early: %v", err)
	default:
	}
	cancel(cause)
	select {
	case err := <-errc:
		if !errors.Is(err, cause) {
			t.Fatalf("blocked send returned %v, want the context's cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked send did not return after cancel")
	}
}

func TestBlockedSenderWakesWhenSpaceFrees(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 2})
	ref := mb.Ref()
	ctx := context.Background()
	_, _ = ref.SendBatch(ctx, []int{1, 2})
	errc := make(chan error, 1)
	go func() {
		n, err := ref.SendBatch(ctx, []int{3, 4, 5})
		if n != 3 && err == nil {
			err = errors.New("short batch")
		}
		errc <- err
	}()
	var got []int
	p := actor.Spawn(ctx, "reader", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		var b []int
		for len(got) < 5 {
			<-in.Ready()
			b, _ = in.Drain(b[:0])
			got = append(got, b...)
		}
		return nil
	}), mb, actor.SpawnOptions{})
	waitDone(t, p)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("got %v", got)
	}
}

func TestDropOldestHandsDroppedToOnDrop(t *testing.T) {
	var dropped []int
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 2, Overflow: actor.DropOldest, OnDrop: func(m int) { dropped = append(dropped, m) }})
	ref := mb.Ref()
	for i := range 5 {
		if err := ref.TrySend(i); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(dropped, []int{0, 1, 2}) {
		t.Fatalf("dropped %v, want [0 1 2]", dropped)
	}
	if got := collect(t, mb); !slices.Equal(got, []int{3, 4}) {
		t.Fatalf("kept %v, want [3 4]", got)
	}
	if s := mb.Stats(); s.Dropped != 3 || s.Received != 2 || s.HighWater != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSendBatchFailPolicyIsPartial(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 3, Overflow: actor.Fail})
	n, err := mb.Ref().SendBatch(context.Background(), []int{1, 2, 3, 4, 5})
	if n != 3 || !errors.Is(err, actor.ErrFull) {
		t.Fatalf("SendBatch = %d, %v; want 3, ErrFull", n, err)
	}
}

func TestCloseLetsOwnerDrainThenReportsClosed(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{})
	ref := mb.Ref()
	_, _ = ref.SendBatch(context.Background(), []int{1, 2, 3})
	mb.Close()
	if err := ref.Send(context.Background(), 4); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("send after Close: %v", err)
	}
	got := make(chan []int, 1)
	p := actor.Spawn(context.Background(), "drainer", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		<-in.Ready()
		b, closed := in.Drain(nil)
		if !closed {
			return errors.New("Drain of a closed mailbox did not report closed")
		}
		got <- b
		return nil
	}), mb, actor.SpawnOptions{})
	waitDone(t, p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !slices.Equal(b, []int{1, 2, 3}) {
		t.Fatalf("drained %v", b)
	}
}

func TestDiscardHandsLeftoversToOnDrop(t *testing.T) {
	var dropped []int
	mb := actor.NewMailbox(actor.MailboxConfig[int]{OnDrop: func(m int) { dropped = append(dropped, m) }})
	ref := mb.Ref()
	_, _ = ref.SendBatch(context.Background(), []int{7, 8})
	mb.Discard()
	mb.Discard() // idempotent
	if !slices.Equal(dropped, []int{7, 8}) {
		t.Fatalf("dropped %v", dropped)
	}
	select {
	case <-ref.Done():
	default:
		t.Fatal("Ref.Done not closed after Discard")
	}
}

func TestSuspendFailsFastAndWakesBlockedSenders(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1})
	ref := mb.Ref()
	_ = ref.TrySend(1)
	errc := make(chan error, 1)
	go func() { errc <- ref.Send(context.Background(), 2) }()
	open := errors.New("breaker open")
	unavailable := errors.Join(actor.ErrUnavailable, open)
	// The sender may not have blocked yet; either way it must end with the suspension error.
	mb.Suspend(unavailable)
	select {
	case err := <-errc:
		if !errors.Is(err, actor.ErrUnavailable) || !errors.Is(err, open) {
			t.Fatalf("blocked send got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked sender not woken by Suspend")
	}
	if err := ref.TrySend(3); !errors.Is(err, actor.ErrUnavailable) {
		t.Fatalf("send while suspended: %v", err)
	}
	mb.Resume()
	if mb.Len() != 1 {
		t.Fatalf("queued message lost by suspension: Len=%d", mb.Len())
	}
	if got := collect(t, mb); !slices.Equal(got, []int{1}) {
		t.Fatalf("got %v", got)
	}
	if err := ref.TrySend(4); err != nil {
		t.Fatalf("send after Resume: %v", err)
	}
}

func TestUnboundedGrowsAndWraps(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: actor.Unbounded})
	ref := mb.Ref()
	want := make([]int, 0, 10000)
	for i := range 10000 {
		if err := ref.TrySend(i); err != nil {
			t.Fatal(err)
		}
		want = append(want, i)
	}
	if got := collect(t, mb); !slices.Equal(got, want) {
		t.Fatalf("unbounded mailbox lost order or messages (len %d)", len(got))
	}
	if mb.Cap() != actor.Unbounded {
		t.Fatalf("Cap = %d", mb.Cap())
	}
}

func TestUnreadAndDrainMaxKeepOrderAcrossWrap(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 4})
	ref := mb.Ref()
	ctx := context.Background()
	p := actor.Spawn(ctx, "unreader", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		check := func(got []int, want ...int) error {
			if !slices.Equal(got, want) {
				return errors.New("unexpected order")
			}
			return nil
		}
		// Wrap the ring: fill, take 3, add 3 more.
		_, _ = ref.SendBatch(ctx, []int{0, 1, 2, 3})
		b, _ := in.DrainMax(nil, 3)
		if err := check(b, 0, 1, 2); err != nil {
			return err
		}
		select {
		case <-in.Ready():
		default:
			return errors.New("DrainMax left messages but no wake-up")
		}
		_, _ = ref.SendBatch(ctx, []int{4, 5, 6})
		in.Unread(b) // back in front, beyond capacity
		if in.Len() != 7 {
			return errors.New("unread did not restore length")
		}
		all, _ := in.Drain(nil)
		return check(all, 0, 1, 2, 3, 4, 5, 6)
	}), mb, actor.SpawnOptions{})
	waitDone(t, p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestRoomSignalsWhenTheOwnerDrains(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1})
	ref := mb.Ref()
	select {
	case <-ref.Room():
	default:
		t.Fatal("Room of an empty mailbox is not ready")
	}
	if err := ref.TrySend(1); err != nil {
		t.Fatal(err)
	}
	room := ref.Room()
	select {
	case <-room:
		t.Fatal("Room of a full mailbox is ready")
	default:
	}
	if got := collect(t, mb); !slices.Equal(got, []int{1}) {
		t.Fatalf("drained %v", got)
	}
	select {
	case <-room:
	case <-time.After(10 * time.Second):
		t.Fatal("Room not signalled after a drain")
	}
	if err := ref.TrySend(2); err != nil {
		t.Fatalf("send after Room: %v", err)
	}
	// Closing and suspending release waiters too, so they see the refusal.
	room = ref.Room()
	mb.Suspend(actor.ErrUnavailable)
	select {
	case <-room:
	default:
		t.Fatal("Room not signalled by Suspend")
	}
	mb.Resume()
	room = ref.Room()
	mb.Close()
	select {
	case <-room:
	default:
		t.Fatal("Room not signalled by Close")
	}
	select {
	case <-(actor.Ref[int]{}).Room():
	default:
		t.Fatal("Room of the zero Ref is not ready")
	}
}

func TestCompactGivesBackTheRingOnlyWhenEmpty(t *testing.T) {
	mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: actor.Unbounded})
	ref := mb.Ref()
	for i := range 3000 {
		if err := ref.TrySend(i); err != nil {
			t.Fatal(err)
		}
	}
	type sizes struct{ grown, queued, empty int }
	got := make(chan sizes, 1)
	var after []int
	p := actor.Spawn(context.Background(), "compactor", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
		var s sizes
		s.grown = actor.RingLen(mb)
		b, _ := in.DrainMax(nil, 2990) // ten left queued: Compact must keep them
		in.Compact()
		s.queued = actor.RingLen(mb)
		b, _ = in.Drain(b)
		in.Compact()
		s.empty = actor.RingLen(mb)
		for i := range 20 { // the mailbox works on after compacting, in order
			if err := ref.TrySend(3000 + i); err != nil {
				return err
			}
		}
		after, _ = in.Drain(b)
		got <- s
		return nil
	}), mb, supervised(actorhook.Supervision{KeepMailbox: true}))
	waitDone(t, p)
	s := <-got
	if s.grown < 3000 || s.queued != s.grown || s.empty != 0 {
		t.Fatalf("ring sizes: grown %d, after Compact with 10 queued %d (want unchanged), after Compact when empty %d (want 0)", s.grown, s.queued, s.empty)
	}
	want := make([]int, 3020)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(after, want) {
		t.Fatalf("messages lost or reordered across Compact (len %d)", len(after))
	}
}
