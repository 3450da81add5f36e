// Command pipeline runs a supervised pipeline of actors, without Kafka, and prints what
// its supervisor does.
//
//	go run ./examples/pipeline
//
// The pipeline is source -> flaky -> sink. The flaky stage fails now and then; its
// supervisor restarts it with backoff, and the items it was holding are handed back so
// none is lost. During a "storm" it fails several times in a row: its circuit breaker
// opens, the source sees sends fail fast with actor.ErrUnavailable and waits; after the
// breaker's timeout one restart is let through, the stage reports itself healthy, and the
// breaker closes again. At the end the sink checks that every item arrived once, in order.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// config is what the flags set.
type config struct {
	items     int     // how many items the source sends
	failRate  float64 // chance that the flaky stage fails on an item outside the storm
	stormFrom int     // items in [stormFrom, stormTo) make the stage fail on their first
	stormTo   int     // four tries: enough to open the breaker, and to fail its first probe
	seed      uint64
}

func main() {
	var cfg config
	flag.IntVar(&cfg.items, "items", 2000, "items to send through the pipeline")
	flag.Float64Var(&cfg.failRate, "fail-rate", 0.002, "chance that the flaky stage fails on an item")
	flag.IntVar(&cfg.stormFrom, "storm-from", 1000, "first item of the failure storm that opens the breaker")
	flag.IntVar(&cfg.stormTo, "storm-to", 1001, "end of the failure storm")
	flag.Uint64Var(&cfg.seed, "seed", 1, "random seed for the failures")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

// item is what flows through the pipeline. A storm item fails the stage until it has been
// tried often enough to open the breaker.
type item struct {
	n     int
	tries int
}

// flaky is the stage that fails. It owns the batch it is working on; when it fails, the
// supervisor's release hook puts the unfinished items back at the head of its mailbox.
type flaky struct {
	next    actor.Ref[item]
	rng     *rand.Rand
	cfg     config
	working []item // drained and not yet passed on: what a failure must give back
	inbox   *actor.Inbox[item]
}

func (f *flaky) Run(ctx context.Context, in *actor.Inbox[item]) error {
	f.inbox = in
	healthy := false
	for {
		batch, closed, err := in.Receive(f.working[:0])
		if err != nil {
			return err
		}
		f.working = batch
		for len(f.working) > 0 {
			it := f.working[0]
			storm := it.n >= f.cfg.stormFrom && it.n < f.cfg.stormTo && it.tries < 4
			if storm || f.rng.Float64() < f.cfg.failRate {
				f.working[0].tries++
				return fmt.Errorf("transient fault on item %d", it.n)
			}
			if err := f.next.Send(ctx, it); err != nil {
				return err
			}
			f.working = f.working[1:]
			if !healthy {
				in.MarkHealthy() // one item through: this incarnation works
				healthy = true
			}
		}
		if closed {
			return nil
		}
	}
}

// giveBack is the flaky stage's release hook: the items it held go back, in order, to the
// head of its mailbox for the next incarnation.
func giveBack(a actor.Actor[item], _ error) {
	f := a.(*flaky)
	if f.inbox != nil && len(f.working) > 0 {
		f.inbox.Unread(f.working)
		f.working = nil
	}
}

// sink checks order and counts; it closes done when it has seen everything.
type sink struct {
	want int
	seen int
	err  error
	done chan struct{}
}

func (s *sink) Run(ctx context.Context, in *actor.Inbox[item]) error {
	var batch []item
	for {
		var (
			closed bool
			err    error
		)
		batch, closed, err = in.Receive(batch[:0])
		if err != nil {
			return err
		}
		for _, it := range batch {
			if it.n != s.seen && s.err == nil {
				s.err = fmt.Errorf("item %d arrived when %d was expected", it.n, s.seen)
			}
			s.seen++
			if s.seen == s.want {
				close(s.done)
			}
		}
		if closed {
			return nil
		}
	}
}

func run(ctx context.Context, w io.Writer, cfg config) error {
	if cfg.items <= 0 {
		return errors.New("-items must be positive")
	}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(w, "[%6.3fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	var restarts, opened, closedBreaker int
	sup := supervisor.New(supervisor.Config{
		Name:      "pipeline",
		Intensity: 50,
		Period:    10 * time.Second,
		Backoff:   supervisor.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		OnEvent: func(e supervisor.Event) {
			switch e := e.(type) {
			case supervisor.Exited:
				say("%s failed: %v", e.Child, e.Err)
			case supervisor.Restarted:
				restarts++
				say("%s restarted (attempt %d, after %v)", e.Child, e.Attempt, e.Delay.Round(time.Millisecond))
			case supervisor.BreakerOpened:
				opened++
				say("%s: circuit breaker OPEN, restarts suspended, sends fail fast", e.Child)
			case supervisor.BreakerHalfOpen:
				say("%s: circuit breaker half-open, letting one restart through", e.Child)
			case supervisor.BreakerClosed:
				closedBreaker++
				say("%s: circuit breaker closed", e.Child)
			case supervisor.IntensityExceeded:
				say("supervisor gives up: %v", e)
			}
		},
	})
	sk := &sink{want: cfg.items, done: make(chan struct{})}
	sinkRef, err := supervisor.Add(sup, supervisor.ChildSpec[item]{
		Name: "sink",
		New:  func() actor.Actor[item] { return sk },
	})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed))
	stage, err := supervisor.Add(sup, supervisor.ChildSpec[item]{
		Name:    "flaky",
		New:     func() actor.Actor[item] { return &flaky{next: sinkRef, rng: rng, cfg: cfg} },
		Mailbox: actor.MailboxConfig[item]{Capacity: 256},
		Breaker: &supervisor.BreakerConfig{Errors: 3, Timeout: 500 * time.Millisecond},
		Release: giveBack,
	})
	if err != nil {
		return err
	}
	proc := sup.Start(ctx)
	say("sending %d items through source -> flaky -> sink", cfg.items)

	// The source: the main goroutine. While the breaker is open it waits and tries again
	// rather than piling items up.
	waited := 0
	for n := 0; n < cfg.items; {
		err := stage.Send(ctx, item{n: n})
		switch {
		case err == nil:
			n++
		case errors.Is(err, actor.ErrUnavailable):
			if waited == 0 {
				say("source: %v; holding item %d", err, n)
			}
			waited++
			select {
			case <-time.After(50 * time.Millisecond):
			case <-proc.Done():
				return fmt.Errorf("supervisor stopped: %w", proc.Err())
			}
			continue
		default:
			return err
		}
		if waited > 0 {
			say("source: flaky accepts again after %d retries", waited)
			waited = 0
		}
	}
	select {
	case <-sk.done:
	case <-proc.Done():
		return fmt.Errorf("supervisor stopped: %w", proc.Err())
	case <-time.After(time.Minute):
		return errors.New("items did not all arrive within a minute")
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := proc.Stop(stopCtx); err != nil {
		return err
	}
	if sk.err != nil {
		return sk.err
	}
	say("done: %d items arrived once each, in order; %d restarts; breaker opened %d and closed %d times",
		sk.seen, restarts, opened, closedBreaker)
	return nil
}
