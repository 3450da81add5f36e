package actor_test

import (
	"context"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// Each benchmark has its raw-channel baseline beside it, so one run prints both.
// go test -run '^$' -bench . -benchmem ./actor/

// sink counts messages, draining its whole mailbox per wake-up, and signals when it has
// seen want of them.
type sink struct {
	want int
	done chan struct{}
}

func (s *sink) Run(ctx context.Context, in *actor.Inbox[int]) error {
	var batch []int
	seen := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			seen += len(batch)
			if seen >= s.want {
				close(s.done)
				seen = -1 << 62
			}
			if closed {
				return nil
			}
		}
	}
}

func BenchmarkOneWay(b *testing.B) {
	b.Run("mailbox-drain", func(b *testing.B) {
		s := &sink{want: b.N, done: make(chan struct{})}
		mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1024})
		p := actor.Spawn(context.Background(), "sink", s, mb, actor.SpawnOptions{})
		ref := mb.Ref()
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_ = ref.Send(ctx, i)
		}
		<-s.done
		b.StopTimer()
		_ = p.Stop(ctx)
	})
	b.Run("mailbox-sendbatch-64", func(b *testing.B) {
		s := &sink{want: b.N, done: make(chan struct{})}
		mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1024})
		p := actor.Spawn(context.Background(), "sink", s, mb, actor.SpawnOptions{})
		ref := mb.Ref()
		ctx := context.Background()
		buf := make([]int, 64)
		b.ResetTimer()
		for i := 0; i < b.N; i += len(buf) {
			n := min(len(buf), b.N-i)
			_, _ = ref.SendBatch(ctx, buf[:n])
		}
		<-s.done
		b.StopTimer()
		_ = p.Stop(ctx)
	})
	b.Run("chan-1024", func(b *testing.B) {
		ch := make(chan int, 1024)
		done := make(chan struct{})
		go func() {
			for i := 0; i < b.N; i++ {
				<-ch
			}
			close(done)
		}()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ch <- i
		}
		<-done
	})
}

// BenchmarkOneWayFourSenders is the fan-in case: four goroutines send to one receiver.
func BenchmarkOneWayFourSenders(b *testing.B) {
	const senders = 4
	b.Run("mailbox-drain", func(b *testing.B) {
		per := b.N/senders + 1
		s := &sink{want: per * senders, done: make(chan struct{})}
		mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1024})
		p := actor.Spawn(context.Background(), "sink", s, mb, actor.SpawnOptions{})
		ref := mb.Ref()
		ctx := context.Background()
		b.ResetTimer()
		for range senders {
			go func() {
				for i := 0; i < per; i++ {
					_ = ref.Send(ctx, i)
				}
			}()
		}
		<-s.done
		b.StopTimer()
		_ = p.Stop(ctx)
	})
	b.Run("chan-1024", func(b *testing.B) {
		per := b.N/senders + 1
		ch := make(chan int, 1024)
		done := make(chan struct{})
		go func() {
			for i := 0; i < per*senders; i++ {
				<-ch
			}
			close(done)
		}()
		b.ResetTimer()
		for range senders {
			go func() {
				for i := 0; i < per; i++ {
					ch <- i
				}
			}()
		}
		<-done
	})
}

// pinger answers every message by sending one back to its peer; with n rounds left it stops.
type pinger struct {
	peer actor.Ref[int]
	done chan struct{}
}

func (p *pinger) Run(ctx context.Context, in *actor.Inbox[int]) error {
	var batch []int
	for {
		var (
			closed bool
			err    error
		)
		batch, closed, err = in.Receive(batch[:0])
		if err != nil {
			return err
		}
		for _, n := range batch {
			if n == 0 {
				close(p.done)
				continue
			}
			_ = p.peer.Send(ctx, n-1)
		}
		if closed {
			return nil
		}
	}
}

func BenchmarkPingPong(b *testing.B) {
	b.Run("actors", func(b *testing.B) {
		ctx := context.Background()
		mbA := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 16})
		mbB := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 16})
		done := make(chan struct{})
		a := &pinger{peer: mbB.Ref(), done: done}
		c := &pinger{peer: mbA.Ref(), done: done}
		pa := actor.Spawn(ctx, "ping", a, mbA, actor.SpawnOptions{})
		pb := actor.Spawn(ctx, "pong", c, mbB, actor.SpawnOptions{})
		b.ResetTimer()
		_ = mbA.Ref().Send(ctx, 2*b.N) // one message bounces 2N times: N round trips
		<-done
		b.StopTimer()
		_ = pa.Stop(ctx)
		_ = pb.Stop(ctx)
	})
	b.Run("chan-unbuffered", func(b *testing.B) {
		ping, pong := make(chan int), make(chan int)
		done := make(chan struct{})
		go func() {
			for n := range ping {
				if n == 0 {
					close(done)
					return
				}
				pong <- n - 1
			}
		}()
		go func() {
			for n := range pong {
				if n == 0 {
					close(done)
					return
				}
				ping <- n - 1
			}
		}()
		b.ResetTimer()
		ping <- 2 * b.N
		<-done
		b.StopTimer()
		close(ping)
		close(pong)
	})
}

type echoReq struct {
	n     int
	reply actor.Reply[int]
}

func BenchmarkAsk(b *testing.B) {
	b.Run("actor", func(b *testing.B) {
		ref, p := actor.Start(context.Background(), "echo", actor.Receive(func(ctx context.Context, m echoReq) error {
			m.reply.Send(m.n, nil)
			return nil
		}), actor.Options[echoReq]{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // Asks carry deadlines
		defer cancel()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			n := i
			if _, err := actor.Ask(ctx, ref, func(r actor.Reply[int]) echoReq { return echoReq{n: n, reply: r} }); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		_ = p.Stop(ctx)
	})
	b.Run("chan-request-reply", func(b *testing.B) {
		type req struct {
			n     int
			reply chan int
		}
		reqs := make(chan req)
		go func() {
			for r := range reqs {
				r.reply <- r.n
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := req{n: i, reply: make(chan int, 1)}
			select {
			case reqs <- r:
			case <-ctx.Done():
				b.Fatal(ctx.Err())
			}
			select {
			case <-r.reply:
			case <-ctx.Done():
				b.Fatal(ctx.Err())
			}
		}
		b.StopTimer()
		close(reqs)
	})
}

// stage forwards everything it drains to next, one batch send per wake-up.
type stage struct {
	next actor.Ref[int]
}

func (s *stage) Run(ctx context.Context, in *actor.Inbox[int]) error {
	var batch []int
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			if _, err := s.next.SendBatch(ctx, batch); err != nil {
				return err
			}
			if closed {
				return nil
			}
		}
	}
}

func BenchmarkPipeline4(b *testing.B) {
	b.Run("actors", func(b *testing.B) {
		ctx := context.Background()
		s := &sink{want: b.N, done: make(chan struct{})}
		last := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1024})
		procs := []*actor.Process{actor.Spawn(ctx, "sink", s, last, actor.SpawnOptions{})}
		next := last.Ref()
		for range 3 {
			mb := actor.NewMailbox(actor.MailboxConfig[int]{Capacity: 1024})
			procs = append(procs, actor.Spawn(ctx, "stage", &stage{next: next}, mb, actor.SpawnOptions{}))
			next = mb.Ref()
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_ = next.Send(ctx, i)
		}
		<-s.done
		b.StopTimer()
		for i := len(procs) - 1; i >= 0; i-- {
			_ = procs[i].Stop(ctx)
		}
	})
	b.Run("chan-1024", func(b *testing.B) {
		first := make(chan int, 1024)
		in := first
		for range 3 {
			out := make(chan int, 1024)
			go func(in <-chan int, out chan<- int) {
				for v := range in {
					out <- v
				}
				close(out)
			}(in, out)
			in = out
		}
		done := make(chan struct{})
		go func(in <-chan int) {
			for range in {
			}
			close(done)
		}(in)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			first <- i
		}
		close(first)
		<-done
	})
}
