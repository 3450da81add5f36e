package consumer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerConsumers lists the running broker consumers.
func brokerConsumers(c *Consumer) []string {
	var out []string
	for _, a := range c.Actors() {
		if a.Name != "brokers" {
			continue
		}
		for _, b := range a.Children {
			out = append(out, b.Name)
		}
	}
	return out
}

func TestBrokerConsumersAreSharedAndStopWithTheirLastPartition(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	for p := range int32(3) {
		produce(t, seeds, "t", p, 0, 5)
	}
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	var pcs []*PartitionConsumer
	for p := range int32(3) {
		pc := consume(t, c, "t", p, Oldest())
		newReader(t, pc, 0).mustRead(5)
		pcs = append(pcs, pc)
	}
	if bs := brokerConsumers(c); len(bs) != 1 {
		t.Fatalf("broker consumers for three partitions on one broker: %v", bs)
	}
	waitFor(t, func() bool { return sum(c.brokers.Counts()) == 3 })
	for i, pc := range pcs {
		if err := pc.Close(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return sum(c.brokers.Counts()) == 2-i })
	}
	waitFor(t, func() bool { return len(brokerConsumers(c)) == 0 })
	for _, a := range c.Actors() {
		if a.Name == "partitions" && len(a.Children) != 0 {
			t.Fatalf("partition actors left after Close: %v", a.Children)
		}
	}
}

func TestCloseWakesABlockedNext(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	pc := consume(t, c, "t", 0, Oldest())
	errc := make(chan error, 1)
	go func() {
		_, err := pc.Next(context.Background())
		errc <- err
	}()
	// Wait until the partition is subscribed (fetching, with nothing to fetch).
	waitFor(t, func() bool { return pc.HighWaterMark() == 0 })
	if err := pc.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked Next after Close: %v", err)
	}
	if !errors.Is(pc.Err(), ErrClosed) {
		t.Fatalf("Err after Close: %v", pc.Err())
	}
	<-pc.Done()
	if err := pc.Close(ctxT(t)); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// stubborn is a stage that ignores a drain stop; only cancellation ends it.
type stubborn struct{ started chan<- struct{} }

func (s stubborn) Run(ctx context.Context, in *actor.Inbox[*Batch]) error {
	s.started <- struct{}{}
	for {
		select {
		case <-ctx.Done():
			b, _ := in.Drain(nil)
			in.Unread(b)
			return ctx.Err()
		case <-in.Ready():
			in.Drain(nil) // the batches are the stage's: dropping them is all it does
		}
	}
}

func TestConsumerCloseReturnsWithinItsContext(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	produce(t, seeds, "t", 0, 0, 10)
	c, err := New(testConfig(seeds, newRecorder()))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{}, 1)
	consume(t, c, "t", 0, Oldest(), WithStage(Stage{
		New:         func(string, int32) actor.Actor[*Batch] { return stubborn{started: started} },
		StopTimeout: time.Minute,
	}))
	pc := consume(t, c, "t", 1, Oldest())
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = c.Close(ctx)
	if !errors.Is(err, actor.ErrStopTimeout) {
		t.Fatalf("Close with a stuck stage: %v", err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("Close took %v with a 300ms context", took)
	}
	if _, err := pc.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	// The stuck stage was cancelled: everything ends (TestMain checks for leaks).
	if err := c.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	waitFor(t, func() bool { return !strings.Contains(dumpActors(c.Actors()), "running") })
}

func dumpActors(as []actor.Info) string {
	var b strings.Builder
	var walk func([]actor.Info)
	walk = func(as []actor.Info) {
		for _, a := range as {
			b.WriteString(a.Name + " " + a.State.String() + "\n")
			walk(a.Children)
		}
	}
	walk(as)
	return b.String()
}

// A consumer that opened its own cluster client does not wait for its fetches' answers
// when it closes: Close with a context far shorter than MaxWait returns without error
// while a long poll is in flight (the broker holds it for MaxWait), and leaves no
// goroutine behind (TestMain).
func TestCloseDoesNotWaitOutALongPoll(t *testing.T) {
	cl, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	polling := make(chan struct{}, 1)
	cl.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		select {
		case polling <- struct{}{}:
		default:
		}
		return nil, nil, false
	})
	cfg := testConfig(seeds, newRecorder())
	cfg.MaxWait = time.Minute // the partition is empty: the broker holds every fetch this long
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	consume(t, c, "t", 0, Oldest())
	select {
	case <-polling:
	case <-ctxT(t).Done():
		t.Fatal("no fetch reached the broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close during a long poll: %v", err)
	}
}
