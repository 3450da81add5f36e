package actor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// counter is a run-loop actor: it drains its whole mailbox on every wake-up.
type counter struct {
	total int
}

func (c *counter) Run(ctx context.Context, in *actor.Inbox[int]) error {
	var batch []int
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			for _, n := range batch {
				c.total += n
			}
			if closed {
				return nil // everything accepted has been handled
			}
		}
	}
}

func ExampleStart() {
	c := &counter{}
	ref, proc := actor.Start(context.Background(), "counter", c, actor.Options[int]{})
	for i := 1; i <= 10; i++ {
		_ = ref.Send(context.Background(), i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := proc.Stop(ctx); err != nil { // drain stop
		fmt.Println(err)
	}
	fmt.Println(c.total)
	// Output: 55
}

type get struct {
	key   string
	reply actor.Reply[string]
}

func ExampleAsk() {
	store := map[string]string{"lang": "go"}
	ref, proc := actor.Start(context.Background(), "store", actor.Receive(func(ctx context.Context, m get) error {
		v, ok := store[m.key]
		if !ok {
			m.reply.Send("", fmt.Errorf("no key %q", m.key))
			return nil
		}
		m.reply.Send(v, nil)
		return nil
	}), actor.Options[get]{})
	defer proc.Stop(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := actor.Ask(ctx, ref, func(r actor.Reply[string]) get { return get{key: "lang", reply: r} })
	fmt.Println(v, err)
	_, err = actor.Ask(ctx, ref, func(r actor.Reply[string]) get { return get{key: "os", reply: r} })
	fmt.Println(err)
	// Output:
	// go <nil>
	// no key "os"
}

func ExampleNewMailbox() {
	// A mailbox that keeps only the newest two messages, releasing the ones it drops.
	mb := actor.NewMailbox(actor.MailboxConfig[string]{
		Capacity: 2,
		Overflow: actor.DropOldest,
		OnDrop:   func(m string) { fmt.Println("dropped", m) },
	})
	ref := mb.Ref()
	for _, m := range []string{"a", "b", "c", "d"} {
		_ = ref.TrySend(m)
	}
	fmt.Println(ref.Len(), "queued")
	// Output:
	// dropped a
	// dropped b
	// 2 queued
}

type job struct {
	actor.Owned // first field: empty unless built with -tags troupecheck
	id          int
}

func ExampleHand() {
	done := make(chan int, 1)
	ref, proc := actor.Start(context.Background(), "worker", actor.Func[*job](func(ctx context.Context, in *actor.Inbox[*job]) error {
		<-in.Ready()
		jobs, _ := in.Drain(nil)
		for _, j := range jobs {
			j.Take(in.Owner()) // now ours
			done <- j.id
			j.Release(in.Owner()) // its life ends here
		}
		return nil
	}), actor.Options[*job]{})
	me := actor.NewOwner("main", nil)
	j := &job{id: 42}
	j.Acquire(me)
	if err := actor.Hand(context.Background(), me, ref, j); err != nil {
		// The send failed: j is ours again.
		fmt.Println(err)
	}
	fmt.Println(<-done)
	<-proc.Done()
	// Output: 42
}

func ExampleReceiveBatch() {
	// Sums arrive in batches: whatever was queued when the actor woke, in order.
	sums := make(chan int, 10)
	ref, proc := actor.Start(context.Background(), "summer", actor.ReceiveBatch(func(ctx context.Context, batch []int) error {
		sum := 0
		for _, n := range batch {
			sum += n
		}
		sums <- sum
		return nil
	}), actor.Options[int]{Kind: "summer", Mailbox: actor.MailboxConfig[int]{Capacity: 100}})
	// SendBatch queues all ten under one lock, so the actor wakes to one batch.
	_, _ = ref.SendBatch(context.Background(), []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	fmt.Println(<-sums)
	info := proc.Info()
	fmt.Println(info.Name, info.Kind, info.State, info.Mailbox.Received)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println(proc.Stop(ctx))
	// Output:
	// 55
	// summer summer running 10
	// <nil>
}

// lingerer collects strings and flushes them together a linger after the first one, or
// when it is stopped: one Alarm for everything its loop waits on besides its mailbox.
type lingerer struct {
	linger time.Duration
	out    chan<- []string
}

func (l *lingerer) Run(ctx context.Context, in *actor.Inbox[string]) error {
	var (
		alarm   actor.Alarm
		pending []string
		due     time.Time // zero: nothing due
		batch   []string
	)
	defer alarm.Stop()
	flush := func() {
		if len(pending) > 0 {
			l.out <- pending
		}
		pending, due = nil, time.Time{}
	}
	for {
		alarm.Set(due)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-alarm.C():
			flush()
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			if len(pending) == 0 && len(batch) > 0 {
				due = time.Now().Add(l.linger)
			}
			pending = append(pending, batch...)
			if closed {
				flush()
				return nil
			}
		}
	}
}

func ExampleAlarm() {
	out := make(chan []string, 2)
	ref, proc := actor.Start(context.Background(), "lingerer", &lingerer{linger: 10 * time.Millisecond, out: out}, actor.Options[string]{})
	_, _ = ref.SendBatch(context.Background(), []string{"a", "b"})
	fmt.Println(<-out) // a linger later
	_ = ref.Send(context.Background(), "c")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = proc.Stop(ctx) // flushes what is pending
	fmt.Println(<-out)
	// Output:
	// [a b]
	// [c]
}
