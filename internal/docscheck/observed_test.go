package docscheck_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestObservedDefaults compares docs/configuration.md with what zero fields turn into,
// where the public API shows it: the defaulted value itself (an error message, a mailbox
// capacity, a name), or the behaviour it decides (records accepted before the budget
// runs out, restart delays and counts under testing/synctest's fake clock).
func TestObservedDefaults(t *testing.T) {
	page := readConfigPage(t)

	t.Run("producer", func(t *testing.T) {
		observeProducerDefaults(t, page)
	})
	t.Run("consumer.Stage", func(t *testing.T) {
		observeStageCapacity(t, page)
	})
	t.Run("broker.Config", func(t *testing.T) {
		_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
		cl, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close(ctxT(t))
		snap, err := cl.Refresh(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Conn(snap.Nodes()[0], broker.Produce); err != nil { // made, not dialled
			t.Fatal(err)
		}
		var conn *actor.Info
		for _, c := range cl.Brokers() {
			if strings.Contains(c.Name, " produce ") {
				conn = &c
			}
		}
		if conn == nil {
			t.Fatalf("no produce connection among %v", cl.Brokers())
		}
		if want := docDefault[int](t, page, "broker.Config", "QueueSize"); conn.Mailbox.Cap != want {
			t.Errorf("QueueSize: a connection's mailbox holds %d calls; the page says %d", conn.Mailbox.Cap, want)
		}
	})
	t.Run("actor", func(t *testing.T) {
		_, p := actor.Start(context.Background(), "kind", actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
			_, _, err := in.Receive(nil)
			return err
		}), actor.Options[int]{})
		if got, want := p.Info().Mailbox.Cap, docDefault[int](t, page, "actor.MailboxConfig", "Capacity"); got != want {
			t.Errorf("MailboxConfig.Capacity: a zero config makes a mailbox of %d; the page says %d", got, want)
		}
		if err := p.Stop(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if got, want := p.Info().Kind, docDefault[string](t, page, "actor.Options", "Kind"); got != want {
			t.Errorf("Options.Kind: %q; the page says %q", got, want)
		}
	})
	t.Run("supervisor", func(t *testing.T) {
		observeSupervisorDefaults(t, page)
	})
}

// observeProducerDefaults observes what the producer's zero fields become.
func observeProducerDefaults(t *testing.T, page configPage) {
	// Records wait for a topic no broker can describe (the seed is dead) for an hour, so
	// that nothing returns budget while the test fills it; the budget fields themselves
	// are left zero.
	dead := []string{"127.0.0.1:" + strconv.Itoa(kafkatest.FreePort(t))}
	waiting := func(t *testing.T) *producer.Producer {
		p, err := producer.New(producer.Config{Seeds: dead, UnknownTopicWait: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer cancel()
			_ = p.Close(ctx) // fails what waits, as not written
		})
		return p
	}
	// fill produces records of size bytes (as the budget counts them) with a context that
	// ends the moment Produce waits on it, which it does only once the budget is spent:
	// Produce then refuses at once. (A context already done is refused at the door.)
	fill := func(t *testing.T, p *producer.Producer, size, most int) (accepted int) {
		value := make([]byte, size-16) // the budget counts key + value + 16
		ctx := &endsWhenWaitedOn{Context: context.Background()}
		for accepted < most {
			var refused error
			p.Produce(ctx, &troupe.Record{Topic: "t", Value: value}, func(_ *troupe.Record, err error) {
				refused = err // runs before Produce returns only for a refused record
			})
			if refused != nil {
				if !errors.Is(refused, context.Canceled) {
					t.Fatalf("record %d refused with %v", accepted, refused)
				}
				return accepted
			}
			accepted++
		}
		t.Fatalf("the budget took more than %d records", most)
		return 0
	}

	t.Run("MaxBufferedRecords", func(t *testing.T) {
		p := waiting(t)
		n := fill(t, p, 17, 1<<20)
		if want := docDefault[int](t, page, "producer.Config", "MaxBufferedRecords"); n != want {
			t.Errorf("the budget took %d records; the page says %d", n, want)
		}
		if recs, _ := p.Buffered(); recs != n {
			t.Errorf("Buffered says %d records held, %d were accepted", recs, n)
		}
	})
	t.Run("MaxBufferedBytes", func(t *testing.T) {
		p := waiting(t)
		const size = 512 << 10
		fill(t, p, size, 1<<20)
		_, held := p.Buffered()
		if want := docDefault[int](t, page, "producer.Config", "MaxBufferedBytes"); want < held || want >= held+size {
			t.Errorf("the budget took %d bytes in records of %d, so it is in [%d, %d); the page says %d", held, size, held, held+size, want)
		}
	})
	t.Run("MaxRecordBytes", func(t *testing.T) {
		p := waiting(t)
		var refused error
		p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: make([]byte, 4<<20)}, func(_ *troupe.Record, err error) { refused = err })
		m := regexp.MustCompile(`MaxRecordBytes is (\d+)`).FindStringSubmatch(fmt.Sprint(refused))
		if !errors.Is(refused, producer.ErrRecordTooLarge) || m == nil {
			t.Fatalf("a 4 MiB record: %v", refused)
		}
		got, _ := strconv.Atoi(m[1])
		if want := docDefault[int](t, page, "producer.Config", "MaxRecordBytes"); got != want {
			t.Errorf("MaxRecordBytes is %d; the page says %d", got, want)
		}
	})
	t.Run("Partitioner", func(t *testing.T) {
		if want := docText(t, page, "producer.Config", "Partitioner"); want != "HashPartitioner()" {
			t.Fatalf("the page's default partitioner is %s; this test observes HashPartitioner()", want)
		}
		const parts = 6
		_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(parts, "keys"))
		p := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Millisecond})
		hash := producer.HashPartitioner().ForTopic("keys")
		for i := range 30 {
			r := &troupe.Record{Topic: "keys", Key: []byte(fmt.Sprint("key-", i)), Value: []byte("v")}
			if err := p.ProduceSync(ctxT(t), r); err != nil {
				t.Fatal(err)
			}
			if want := int32(hash.Partition(&troupe.Record{Key: r.Key}, parts, 0)); r.Partition != want {
				t.Fatalf("key %s went to partition %d; HashPartitioner() puts it in %d", r.Key, r.Partition, want)
			}
		}
	})
}

// observeStageCapacity reads the capacity of a custom stage's mailbox from the consumer's
// actor tree.
func observeStageCapacity(t *testing.T, page configPage) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "s"))
	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctxT(t))
	stage := consumer.Stage{New: func(string, int32) actor.Actor[*consumer.Batch] {
		return actor.Receive(func(ctx context.Context, b *consumer.Batch) error { return nil })
	}}
	if _, err := c.ConsumePartition(ctxT(t), "s", 0, consumer.Oldest(), consumer.WithStage(stage)); err != nil {
		t.Fatal(err)
	}
	parts := child(c.Actors(), "partitions")
	if parts == nil {
		t.Fatal("no partitions supervisor")
	}
	for _, a := range parts.Children {
		if strings.HasPrefix(a.Name, "stage ") {
			if want := docDefault[int](t, page, "consumer.Stage", "Capacity"); a.Mailbox.Cap != want {
				t.Errorf("Stage.Capacity: the stage's mailbox holds %d batches; the page says %d", a.Mailbox.Cap, want)
			}
			return
		}
	}
	t.Fatalf("no stage among %v", parts.Children)
}

// events records a supervisor's events, stamped with the (fake) time they happened.
type events struct {
	mu   sync.Mutex
	list []stamped
	hook func(supervisor.Event)
}

type stamped struct {
	at time.Time
	e  supervisor.Event
}

func (ev *events) add(e supervisor.Event) {
	ev.mu.Lock()
	ev.list = append(ev.list, stamped{time.Now(), e})
	hook := ev.hook
	ev.mu.Unlock()
	if hook != nil {
		hook(e)
	}
}

func eventsOf[E supervisor.Event](ev *events) []E {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []E
	for _, s := range ev.list {
		if e, ok := s.e.(E); ok {
			out = append(out, e)
		}
	}
	return out
}

func firstAt[E supervisor.Event](ev *events) (E, time.Time, bool) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, s := range ev.list {
		if e, ok := s.e.(E); ok {
			return e, s.at, true
		}
	}
	var zero E
	return zero, time.Time{}, false
}

// failing is a child that fails after running for d (at once for d == 0).
func failing(d time.Duration) func() actor.Actor[int] {
	return func() actor.Actor[int] {
		return actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
			if d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return errors.New("failed")
		})
	}
}

// observeSupervisorDefaults runs supervisors with zero configs under testing/synctest,
// where time is fake and exact, and reads their defaults off what they do.
func observeSupervisorDefaults(t *testing.T, page configPage) {
	t.Run("Name and Kind", func(t *testing.T) {
		s := supervisor.New(supervisor.Config{})
		ready := make(chan struct{})
		_, _ = supervisor.Add(s, supervisor.ChildSpec[int]{Name: "c", New: func() actor.Actor[int] {
			return actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
				close(ready)
				_, _, err := in.Receive(nil)
				return err
			})
		}})
		proc := s.Start(context.Background())
		<-ready
		if want, got := docDefault[string](t, page, "supervisor.Config", "Name"), proc.Info().Name; got != want {
			t.Errorf("Config.Name: %q; the page says %q", got, want)
		}
		if want, got := docDefault[string](t, page, "supervisor.ChildSpec", "Kind"), s.Children()[0].Kind; got != want {
			t.Errorf("ChildSpec.Kind: %q; the page says %q", got, want)
		}
		if err := proc.Stop(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Intensity and Period", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ev := &events{}
			s := supervisor.New(supervisor.Config{OnEvent: ev.add})
			_, _ = supervisor.Add(s, supervisor.ChildSpec[int]{Name: "c", New: failing(0)})
			proc := s.Start(context.Background())
			<-proc.Done()
			if !errors.Is(proc.Err(), supervisor.ErrIntensity) {
				t.Fatalf("a child that always fails: the supervisor ended with %v", proc.Err())
			}
			ie, _, ok := firstAt[supervisor.IntensityExceeded](ev)
			if !ok {
				t.Fatal("no IntensityExceeded event")
			}
			restarts := len(eventsOf[supervisor.Restarted](ev))
			if want := docDefault[int](t, page, "supervisor.Config", "Intensity"); restarts != want || ie.Intensity != want {
				t.Errorf("Intensity: %d restarts before giving up (event: %d); the page says %d", restarts, ie.Intensity, want)
			}
			if want := docDefault[time.Duration](t, page, "supervisor.Config", "Period"); ie.Period != want {
				t.Errorf("Period: %v; the page says %v", ie.Period, want)
			}
		})
	})
	t.Run("Backoff Min and Max", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const attempts = 12 // past the cap: 50ms·2^11 is far above 10s
			enough := make(chan struct{})
			var once sync.Once
			ev := &events{}
			ev.hook = func(e supervisor.Event) {
				if r, ok := e.(supervisor.Restarted); ok && r.Attempt >= attempts {
					once.Do(func() { close(enough) })
				}
			}
			s := supervisor.New(supervisor.Config{Intensity: supervisor.Unlimited, OnEvent: ev.add})
			_, _ = supervisor.Add(s, supervisor.ChildSpec[int]{Name: "c", New: failing(0)})
			proc := s.Start(context.Background())
			<-enough
			if err := proc.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			lo := docDefault[time.Duration](t, page, "supervisor.Backoff", "Min")
			hi := docDefault[time.Duration](t, page, "supervisor.Backoff", "Max")
			restarts := eventsOf[supervisor.Restarted](ev)
			if len(restarts) < attempts {
				t.Fatalf("%d restarts observed, want %d", len(restarts), attempts)
			}
			for _, r := range restarts {
				ceiling := lo << (r.Attempt - 1)
				if r.Attempt > 20 || ceiling > hi {
					ceiling = hi
				}
				if r.Delay < ceiling/2 || r.Delay > ceiling {
					t.Errorf("restart %d came after %v; with the page's Min %v and Max %v it is in [%v, %v]",
						r.Attempt, r.Delay, lo, hi, ceiling/2, ceiling)
				}
			}
		})
	})
	t.Run("ResetAfter", func(t *testing.T) {
		reset := docDefault[time.Duration](t, page, "supervisor.Config", "ResetAfter")
		attempts := func(ran time.Duration) []int {
			var out []int
			synctest.Test(t, func(t *testing.T) {
				ev := &events{}
				done := make(chan struct{})
				var once sync.Once
				ev.hook = func(e supervisor.Event) {
					if len(eventsOf[supervisor.Restarted](ev)) >= 2 {
						once.Do(func() { close(done) })
					}
				}
				s := supervisor.New(supervisor.Config{Intensity: 100, OnEvent: ev.add})
				_, _ = supervisor.Add(s, supervisor.ChildSpec[int]{Name: "c", New: failing(ran)})
				proc := s.Start(context.Background())
				<-done
				_ = proc.Stop(context.Background())
				for _, r := range eventsOf[supervisor.Restarted](ev)[:2] {
					out = append(out, r.Attempt)
				}
			})
			return out
		}
		if got := attempts(reset - time.Millisecond); got[1] != 2 {
			t.Errorf("a child that failed twice after running %v restarted with attempts %v: ResetAfter is shorter than the page's %v", reset-time.Millisecond, got, reset)
		}
		if got := attempts(reset); got[1] != 1 {
			t.Errorf("a child that failed twice after running %v restarted with attempts %v: ResetAfter is longer than the page's %v", reset, got, reset)
		}
	})
	t.Run("ChildSpec StopTimeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ev := &events{}
			s := supervisor.New(supervisor.Config{OnEvent: ev.add})
			_, _ = supervisor.Add(s, supervisor.ChildSpec[int]{Name: "deaf", New: func() actor.Actor[int] {
				return actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
					<-ctx.Done() // ignores the drain stop
					return nil
				})
			}})
			proc := s.Start(context.Background())
			synctest.Wait()
			begin := time.Now()
			_ = proc.Stop(context.Background())
			_, at, ok := firstAt[supervisor.StopTimedOut](ev)
			if !ok {
				t.Fatal("no StopTimedOut for a child that ignores its stop")
			}
			if want := docDefault[time.Duration](t, page, "supervisor.ChildSpec", "StopTimeout"); at.Sub(begin) != want {
				t.Errorf("StopTimeout: the stop timed out after %v; the page says %v", at.Sub(begin), want)
			}
		})
	})
	t.Run("ChildSpec Restart", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ev := &events{}
			s := supervisor.New(supervisor.Config{OnEvent: ev.add})
			_, _ = supervisor.Add(s, supervisor.ChildSpec[int]{Name: "done", New: func() actor.Actor[int] {
				return actor.Func[int](func(context.Context, *actor.Inbox[int]) error { return nil })
			}})
			proc := s.Start(context.Background())
			synctest.Wait()
			_ = proc.Stop(context.Background())
			if len(eventsOf[supervisor.Restarted](ev)) == 0 {
				t.Errorf("a child that ended normally was not restarted: the default restart type is not %s",
					docText(t, page, "supervisor.ChildSpec", "Restart"))
			}
		})
	})
	t.Run("BreakerConfig Timeout and Successes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ev := &events{}
			closedCh := make(chan struct{})
			ev.hook = func(e supervisor.Event) {
				if _, ok := e.(supervisor.BreakerClosed); ok {
					close(closedCh)
				}
			}
			s := supervisor.New(supervisor.Config{OnEvent: ev.add})
			first := true
			_, _ = supervisor.Add(s, supervisor.ChildSpec[int]{Name: "flaky", Breaker: &supervisor.BreakerConfig{Errors: 1},
				New: func() actor.Actor[int] {
					fail := first
					first = false
					return actor.Func[int](func(ctx context.Context, in *actor.Inbox[int]) error {
						if fail {
							return errors.New("failed")
						}
						in.MarkHealthy()
						<-ctx.Done()
						return nil
					})
				}})
			proc := s.Start(context.Background())
			synctest.Wait() // failed once: the breaker opens
			opened, at, ok := firstAt[supervisor.BreakerOpened](ev)
			if !ok {
				t.Fatal("no BreakerOpened after a failure with Errors 1")
			}
			if want := docDefault[time.Duration](t, page, "supervisor.BreakerConfig", "Timeout"); opened.Until.Sub(at) != want {
				t.Errorf("BreakerConfig.Timeout: open for %v; the page says %v", opened.Until.Sub(at), want)
			}
			// In fake time: the breaker half-opens after Timeout, one incarnation is let
			// through and marks itself healthy. Wait a minute more for the breaker to close.
			closed := false
			select {
			case <-closedCh:
				closed = true
			case <-time.After(time.Until(opened.Until) + time.Minute):
			}
			if want := docDefault[int](t, page, "supervisor.BreakerConfig", "Successes"); (want == 1) != closed {
				t.Errorf("BreakerConfig.Successes: after one healthy incarnation the breaker closed: %v; the page says %d healthy incarnation(s) close it", closed, want)
			}
			_ = proc.Stop(context.Background())
		})
	})
}

// endsWhenWaitedOn is a context that is cancelled the first time someone waits on it
// (calls Done), and not before.
type endsWhenWaitedOn struct {
	context.Context
	waited atomic.Bool
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *endsWhenWaitedOn) Done() <-chan struct{} {
	c.waited.Store(true)
	return closedChan
}

func (c *endsWhenWaitedOn) Err() error {
	if c.waited.Load() {
		return context.Canceled
	}
	return nil
}
