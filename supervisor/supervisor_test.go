package supervisor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/actorhook"
	"github.com/troupe-go/troupe/supervisor"
)

// cmd is what the test sends to a worker child.
type cmd struct {
	op    string // "fail", "panic", "exit", "work", "hang"
	value int
}

var errInjected = errors.New("injected failure")

// worker is a supervised child driven by commands. It records what it handled in a log
// shared across its incarnations.
type worker struct {
	name    string
	log     *journal
	healthy bool // call MarkHealthy on start
}

func (w *worker) Run(ctx context.Context, in *actor.Inbox[cmd]) error {
	w.log.add(w.name + ":start")
	if w.healthy {
		in.MarkHealthy()
	}
	var batch []cmd
	for {
		var (
			closed bool
			err    error
		)
		batch, closed, err = in.Receive(batch[:0])
		if err != nil {
			return err
		}
		for i, c := range batch {
			switch c.op {
			case "fail":
				in.Unread(batch[i+1:])
				return fmt.Errorf("%s: %w", w.name, errInjected)
			case "panic":
				in.Unread(batch[i+1:])
				panic("worker panics")
			case "exit":
				in.Unread(batch[i+1:])
				return nil
			case "hang":
				<-w.log.hang // ignores its mailbox and context: a child that will not stop
			case "work":
				w.log.add(fmt.Sprintf("%s:work:%d", w.name, c.value))
			}
		}
		if closed {
			w.log.add(w.name + ":drained")
			return nil
		}
	}
}

// journal is a concurrency-safe list of what happened, in order.
type journal struct {
	hang    chan struct{} // closed by the test to release hanging workers
	mu      sync.Mutex
	entries []string
	events  []supervisor.Event
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.entries = append(j.entries, s)
	j.mu.Unlock()
}

func (j *journal) event(e supervisor.Event) {
	j.mu.Lock()
	j.events = append(j.events, e)
	j.entries = append(j.entries, fmt.Sprintf("event:%T:%s", e, e.Source()))
	j.mu.Unlock()
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

func (j *journal) count(s string) int {
	n := 0
	for _, e := range j.all() {
		if e == s {
			n++
		}
	}
	return n
}

func (j *journal) eventsOf(kind string) []supervisor.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []supervisor.Event
	for _, e := range j.events {
		if fmt.Sprintf("%T", e) == kind {
			out = append(out, e)
		}
	}
	return out
}

func addWorker(t *testing.T, s *supervisor.Supervisor, j *journal, name string, mod func(*supervisor.ChildSpec[cmd])) actor.Ref[cmd] {
	t.Helper()
	spec := supervisor.ChildSpec[cmd]{
		Name: name,
		New:  func() actor.Actor[cmd] { return &worker{name: name, log: j} },
	}
	if mod != nil {
		mod(&spec)
	}
	ref, err := supervisor.Add(s, spec)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func send(t *testing.T, ref actor.Ref[cmd], c cmd) {
	t.Helper()
	if err := ref.Send(context.Background(), c); err != nil {
		t.Fatalf("send %v to %s: %v", c, ref.Name(), err)
	}
}

func stop(t *testing.T, p *actor.Process) {
	t.Helper()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatalf("stopping %s: %v", p.Info().Name, err)
	}
}

func TestOneForOneRestartKeepsRefAndQueuedMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		s := supervisor.New(supervisor.Config{Name: "root", OnEvent: j.event})
		a := addWorker(t, s, j, "a", nil)
		b := addWorker(t, s, j, "b", nil)
		p := s.Start(context.Background())
		synctest.Wait()

		// Fail a, with work queued behind the failure: it must survive the restart.
		if _, err := a.SendBatch(context.Background(), []cmd{{op: "fail"}, {op: "work", value: 1}, {op: "work", value: 2}}); err != nil {
			t.Fatal(err)
		}
		send(t, b, cmd{op: "work", value: 9})
		time.Sleep(supervisor.DefaultBackoffMin) // fake time: past the first backoff
		synctest.Wait()

		if got := j.count("a:start"); got != 2 {
			t.Fatalf("a started %d times, want 2: %v", got, j.all())
		}
		if got := j.count("b:start"); got != 1 {
			t.Fatalf("one-for-one restarted b too: %v", j.all())
		}
		for _, want := range []string{"a:work:1", "a:work:2", "b:work:9"} {
			if j.count(want) != 1 {
				t.Fatalf("%s handled %d times: %v", want, j.count(want), j.all())
			}
		}
		infos := s.Children()
		if len(infos) != 2 || infos[0].Name != "a" || infos[0].Restarts != 1 || infos[1].Restarts != 0 {
			t.Fatalf("children %+v", infos)
		}
		stop(t, p)
	})
}

// strategyRun fails child "b" of a, b, c under strategy and returns which children
// started how many times.
func strategyRun(t *testing.T, strategy supervisor.Strategy) (starts map[string]int, order []string) {
	j := &journal{}
	synctest.Test(t, func(t *testing.T) {
		s := supervisor.New(supervisor.Config{Strategy: strategy, OnEvent: j.event})
		refs := map[string]actor.Ref[cmd]{}
		for _, n := range []string{"a", "b", "c"} {
			refs[n] = addWorker(t, s, j, n, nil)
		}
		p := s.Start(context.Background())
		synctest.Wait()
		send(t, refs["b"], cmd{op: "fail"})
		time.Sleep(supervisor.DefaultBackoffMin)
		synctest.Wait()
		stop(t, p)
	})
	starts = map[string]int{}
	for _, e := range j.all() {
		if n, ok := strings.CutSuffix(e, ":start"); ok {
			starts[n]++
		}
	}
	// The order in which the supervisor started them (its events), not the order in
	// which their goroutines happened to run.
	for _, e := range j.eventsOf("supervisor.Started") {
		order = append(order, e.Source())
	}
	return starts, order
}

func TestStrategies(t *testing.T) {
	starts, order := strategyRun(t, supervisor.OneForOne)
	if starts["a"] != 1 || starts["b"] != 2 || starts["c"] != 1 {
		t.Fatalf("one-for-one: %v", starts)
	}
	if !slices.Equal(order, []string{"a", "b", "c", "b"}) {
		t.Fatalf("one-for-one start order %v", order)
	}
	starts, order = strategyRun(t, supervisor.OneForAll)
	if starts["a"] != 2 || starts["b"] != 2 || starts["c"] != 2 || !slices.Equal(order[3:], []string{"a", "b", "c"}) {
		t.Fatalf("one-for-all: %v, order %v", starts, order)
	}
	starts, order = strategyRun(t, supervisor.RestForOne)
	if starts["a"] != 1 || starts["b"] != 2 || starts["c"] != 2 || !slices.Equal(order[3:], []string{"b", "c"}) {
		t.Fatalf("rest-for-one: %v, order %v", starts, order)
	}
}

func TestRestartTypes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		s := supervisor.New(supervisor.Config{OnEvent: j.event})
		perm := addWorker(t, s, j, "perm", nil)
		trans := addWorker(t, s, j, "trans", func(c *supervisor.ChildSpec[cmd]) { c.Restart = supervisor.Transient })
		transOK := addWorker(t, s, j, "trans-ok", func(c *supervisor.ChildSpec[cmd]) { c.Restart = supervisor.Transient })
		temp := addWorker(t, s, j, "temp", func(c *supervisor.ChildSpec[cmd]) { c.Restart = supervisor.Temporary })
		p := s.Start(context.Background())
		synctest.Wait()
		send(t, perm, cmd{op: "exit"})    // normal exit: permanent comes back
		send(t, trans, cmd{op: "fail"})   // failure: transient comes back
		send(t, transOK, cmd{op: "exit"}) // normal exit: transient stays down
		send(t, temp, cmd{op: "fail"})    // temporary never comes back
		time.Sleep(time.Second)
		synctest.Wait()
		want := map[string]int{"perm": 2, "trans": 2, "trans-ok": 1, "temp": 1}
		for n, w := range want {
			if got := j.count(n + ":start"); got != w {
				t.Fatalf("%s started %d times, want %d: %v", n, got, w, j.all())
			}
		}
		var names []string
		for _, c := range s.Children() {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, []string{"perm", "trans"}) {
			t.Fatalf("children after exits: %v", names)
		}
		if err := temp.Send(context.Background(), cmd{op: "work"}); !errors.Is(err, actor.ErrStopped) {
			t.Fatalf("send to a removed temporary child: %v", err)
		}
		stop(t, p)
	})
}

func TestIntensityExceededFailsSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		s := supervisor.New(supervisor.Config{Intensity: 3, Period: time.Minute, OnEvent: j.event})
		a := addWorker(t, s, j, "a", nil)
		p := s.Start(context.Background())
		for range 4 {
			synctest.Wait()
			_ = a.Send(context.Background(), cmd{op: "fail"})
			time.Sleep(time.Second) // past any backoff; the minute has not passed
		}
		<-p.Done()
		if err := p.Err(); !errors.Is(err, supervisor.ErrIntensity) || !errors.Is(err, errInjected) {
			t.Fatalf("supervisor ended with %v, want ErrIntensity naming the last failure", err)
		}
		if len(j.eventsOf("supervisor.IntensityExceeded")) != 1 {
			t.Fatalf("no IntensityExceeded event: %v", j.all())
		}
		if got := j.count("a:start"); got != 4 {
			t.Fatalf("a started %d times, want 4 (3 restarts allowed)", got)
		}
	})
}

func TestBackoffGrowsAndResetsAfterHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		bo := supervisor.Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond}
		const resetAfter = 5 * time.Second
		s := supervisor.New(supervisor.Config{Intensity: 100, Backoff: bo, ResetAfter: resetAfter, OnEvent: j.event})
		a := addWorker(t, s, j, "a", nil)
		p := s.Start(context.Background())
		for range 4 {
			synctest.Wait()
			send(t, a, cmd{op: "fail"})
			time.Sleep(bo.Max)
		}
		synctest.Wait()
		restarts := j.eventsOf("supervisor.Restarted")
		if len(restarts) != 4 {
			t.Fatalf("%d restarts: %v", len(restarts), j.all())
		}
		ceilings := []time.Duration{100, 200, 400, 400}
		for i, e := range restarts {
			r := e.(supervisor.Restarted)
			c := ceilings[i] * time.Millisecond
			if r.Attempt != i+1 || r.Delay < c/2 || r.Delay > c {
				t.Fatalf("restart %d: attempt %d after %v, want attempt %d within [%v, %v]", i, r.Attempt, r.Delay, i+1, c/2, c)
			}
		}
		// Running for ResetAfter makes the next failure the first again.
		time.Sleep(resetAfter)
		send(t, a, cmd{op: "fail"})
		time.Sleep(bo.Max)
		synctest.Wait()
		restarts = j.eventsOf("supervisor.Restarted")
		if r := restarts[len(restarts)-1].(supervisor.Restarted); r.Attempt != 1 || r.Delay > bo.Min {
			t.Fatalf("after a healthy run: attempt %d after %v", r.Attempt, r.Delay)
		}
		stop(t, p)
	})
}

// TestZeroBreakerConfigIsADefaultBreaker checks the one meaning of a zero BreakerConfig:
// a breaker that is on, with the default figures (it opens on the DefaultBreakerErrors-th
// failure), while a nil ChildSpec.Breaker means none; DropQueued without a breaker is
// refused.
func TestZeroBreakerConfigIsADefaultBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		s := supervisor.New(supervisor.Config{Intensity: supervisor.Unlimited, OnEvent: j.event,
			Backoff: supervisor.Backoff{Min: time.Millisecond, Max: time.Millisecond}})
		if _, err := supervisor.Add(s, supervisor.ChildSpec[cmd]{Name: "x", DropQueued: true,
			New: func() actor.Actor[cmd] { return &worker{name: "x", log: j} }}); !errors.Is(err, supervisor.ErrInvalidSpec) {
			t.Fatalf("DropQueued without a Breaker: %v", err)
		}
		refs := make(map[string]actor.Ref[cmd])
		for _, name := range []string{"with", "without"} {
			spec := supervisor.ChildSpec[cmd]{Name: name, New: func() actor.Actor[cmd] { return &worker{name: name, log: j} }}
			if name == "with" {
				spec.Breaker = &supervisor.BreakerConfig{}
			}
			ref, err := supervisor.Add(s, spec)
			if err != nil {
				t.Fatal(err)
			}
			refs[name] = ref
		}
		p := s.Start(context.Background())
		for i := 1; i <= supervisor.DefaultBreakerErrors; i++ {
			for _, name := range []string{"with", "without"} {
				synctest.Wait()
				send(t, refs[name], cmd{op: "fail"})
				time.Sleep(10 * time.Millisecond)
			}
			synctest.Wait()
			opened := j.eventsOf("supervisor.BreakerOpened")
			if want := 0; i == supervisor.DefaultBreakerErrors {
				want = 1
				if len(opened) != want || opened[0].(supervisor.BreakerOpened).Child != "with" {
					t.Fatalf("after %d failures: %v", i, j.all())
				}
			} else if len(opened) != want {
				t.Fatalf("opened after %d failures, before the default %d: %v", i, supervisor.DefaultBreakerErrors, j.all())
			}
		}
		if err := refs["with"].Send(context.Background(), cmd{op: "work"}); !errors.Is(err, supervisor.ErrBreakerOpen) {
			t.Fatalf("send to the child whose default breaker is open: %v", err)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(supervisor.DefaultBreakerTimeout) // the breaker's own timer ends (fake time)
		synctest.Wait()
	})
}

func TestBreakerOpensFailsFastHalfOpensAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		healthy := false
		var mu sync.Mutex
		s := supervisor.New(supervisor.Config{Intensity: 100, OnEvent: j.event,
			Backoff: supervisor.Backoff{Min: time.Millisecond, Max: time.Millisecond}})
		spec := supervisor.ChildSpec[cmd]{
			Name: "conn",
			New: func() actor.Actor[cmd] {
				mu.Lock()
				defer mu.Unlock()
				return &worker{name: "conn", log: j, healthy: healthy}
			},
			Breaker: &supervisor.BreakerConfig{Errors: 3, Timeout: time.Minute},
		}
		ref, err := supervisor.Add(s, spec)
		if err != nil {
			t.Fatal(err)
		}
		p := s.Start(context.Background())
		for range 3 {
			synctest.Wait()
			send(t, ref, cmd{op: "fail"})
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()
		if len(j.eventsOf("supervisor.BreakerOpened")) != 1 {
			t.Fatalf("breaker did not open: %v", j.all())
		}
		err = ref.Send(context.Background(), cmd{op: "work", value: 1})
		if !errors.Is(err, actor.ErrUnavailable) || !errors.Is(err, supervisor.ErrBreakerOpen) {
			t.Fatalf("send while open: %v", err)
		}
		if got := j.count("conn:start"); got != 3 {
			t.Fatalf("restarted while open: %d starts", got)
		}

		// Half-open after the timeout: one restart, which fails, opens it again. (The
		// breaker half-opens on a timer of its own; allow it a moment past the timeout.)
		time.Sleep(time.Minute + 10*time.Millisecond)
		synctest.Wait()
		if len(j.eventsOf("supervisor.BreakerHalfOpen")) != 1 || j.count("conn:start") != 4 {
			t.Fatalf("no half-open probe: %v", j.all())
		}
		send(t, ref, cmd{op: "fail"})
		synctest.Wait()
		if len(j.eventsOf("supervisor.BreakerOpened")) != 2 {
			t.Fatalf("failure in half-open did not reopen: %v", j.all())
		}

		// Next probe is healthy: the breaker closes and sends flow again.
		mu.Lock()
		healthy = true
		mu.Unlock()
		time.Sleep(time.Minute + 10*time.Millisecond)
		synctest.Wait()
		if len(j.eventsOf("supervisor.BreakerClosed")) != 1 {
			t.Fatalf("breaker did not close: %v", j.all())
		}
		send(t, ref, cmd{op: "work", value: 2})
		synctest.Wait()
		if j.count("conn:work:2") != 1 {
			t.Fatalf("work after close not handled: %v", j.all())
		}
		stop(t, p)
	})
}

// owned is what a child holds between receiving and finishing work.
type owned struct {
	actor.Owned
	id int
}

// holder takes owned values and keeps them until told to fail; its release hook gives
// them back to the test's owner.
type holder struct {
	held []*owned
	in   *actor.Inbox[*owned]
}

func (h *holder) Run(ctx context.Context, in *actor.Inbox[*owned]) error {
	h.in = in
	var batch []*owned
	for {
		var err error
		batch, _, err = in.Receive(batch[:0])
		if err != nil {
			return err
		}
		for _, o := range batch {
			o.Take(in.Owner())
			if o.id < 0 {
				o.Release(in.Owner())
				return errInjected
			}
			h.held = append(h.held, o)
		}
	}
}

func TestReleaseHookGetsBackWhatAFailedChildOwned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var violations []actor.Violation
		home := actor.NewOwner("home", func(v actor.Violation) { violations = append(violations, v) })
		returned := make(chan *owned, 10)
		s := supervisor.New(supervisor.Config{})
		ref, err := supervisor.Add(s, supervisor.ChildSpec[*owned]{
			Name: "holder",
			New:  func() actor.Actor[*owned] { return &holder{} },
			Release: func(a actor.Actor[*owned], err error) {
				h := a.(*holder)
				for _, o := range h.held {
					o.Give(h.in.Owner())
					returned <- o
				}
				h.held = nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		p := s.Start(context.Background())
		for i := range 3 {
			o := &owned{id: i}
			o.Acquire(home)
			if err := actor.Hand(context.Background(), home, ref, o); err != nil {
				t.Fatal(err)
			}
		}
		poison := &owned{id: -1}
		poison.Acquire(home)
		_ = actor.Hand(context.Background(), home, ref, poison)
		synctest.Wait()
		if len(returned) != 3 {
			t.Fatalf("release hook returned %d of 3 owned values", len(returned))
		}
		for range 3 {
			o := <-returned
			o.Take(home)
			o.Release(home)
		}
		stop(t, p)
		if len(violations) != 0 || len(actorhook.Violations()) != 0 {
			t.Fatalf("ownership violations: %v %v", violations, actorhook.Violations())
		}
	})
}

func TestStopIsReverseOrderWithDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{hang: make(chan struct{})}
		var logs bytes.Buffer
		s := supervisor.New(supervisor.Config{OnEvent: j.event, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		a := addWorker(t, s, j, "a", nil)
		b := addWorker(t, s, j, "b", func(c *supervisor.ChildSpec[cmd]) { c.StopTimeout = time.Second })
		c := addWorker(t, s, j, "c", nil)
		p := s.Start(context.Background())
		synctest.Wait()
		send(t, a, cmd{op: "work", value: 1})
		send(t, c, cmd{op: "work", value: 3})
		send(t, b, cmd{op: "hang"})
		synctest.Wait()
		begin := time.Now()
		// b overran its drain: Stop says so, naming it.
		if err := p.Stop(context.Background()); !errors.Is(err, actor.ErrStopTimeout) || !strings.Contains(err.Error(), `"b"`) {
			close(j.hang)
			t.Fatalf("Stop returned %v, want b's stop timeout", err)
		}
		if waited := time.Since(begin); waited != time.Second {
			t.Fatalf("stop took %v; b's StopTimeout is 1s", waited)
		}
		var drained []string
		for _, e := range j.all() {
			if n, ok := strings.CutSuffix(e, ":drained"); ok {
				drained = append(drained, n)
			}
		}
		if !slices.Equal(drained, []string{"c", "a"}) {
			t.Fatalf("drain order %v, want [c a] (b hangs)", drained)
		}
		if len(j.eventsOf("supervisor.StopTimedOut")) != 1 || !strings.Contains(logs.String(), "did not stop in time") {
			t.Fatalf("stop timeout not reported: %v\n%s", j.all(), logs.String())
		}
		if err := a.Send(context.Background(), cmd{}); !errors.Is(err, actor.ErrStopped) {
			t.Fatalf("send after tree stop: %v", err)
		}
		close(j.hang) // let b's goroutine end
	})
}

// A nested supervisor's stop, its children's stops included, is bounded by its own
// Config.StopTimeout, not by the longer StopTimeout of a child that will not stop.
func TestNestedSupervisorStopIsBoundedByItsStopTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{hang: make(chan struct{})}
		root := supervisor.New(supervisor.Config{Name: "root", OnEvent: j.event})
		sub := supervisor.New(supervisor.Config{Name: "sub", StopTimeout: 2 * time.Second})
		w := addWorker(t, sub, j, "w", func(c *supervisor.ChildSpec[cmd]) { c.StopTimeout = 10 * time.Second })
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		p := root.Start(context.Background())
		synctest.Wait()
		send(t, w, cmd{op: "hang"})
		synctest.Wait()
		begin := time.Now()
		err := p.Stop(context.Background())
		waited := time.Since(begin)
		close(j.hang) // let w's goroutine, and sub's waiting for it, end
		if !errors.Is(err, actor.ErrStopTimeout) || !strings.Contains(err.Error(), `"sub"`) {
			t.Fatalf("Stop returned %v, want sub's stop timeout", err)
		}
		if waited != 2*time.Second {
			t.Fatalf("stop took %v; sub's StopTimeout is 2s", waited)
		}
		if evs := j.eventsOf("supervisor.StopTimedOut"); len(evs) != 1 || evs[0].Source() != "sub" {
			t.Fatalf("StopTimedOut events %v, want one about sub", evs)
		}
	})
}

func TestNestedSupervisorRestartKeepsGrandchildMailbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		root := supervisor.New(supervisor.Config{Name: "root", OnEvent: j.event})
		sub := supervisor.New(supervisor.Config{Name: "sub", Intensity: 1, Period: time.Hour, OnEvent: j.event})
		leaf := addWorker(t, sub, j, "leaf", nil)
		if err := root.AddSupervisor(sub); err != nil {
			t.Fatal(err)
		}
		p := root.Start(context.Background())
		synctest.Wait()
		send(t, leaf, cmd{op: "fail"})
		time.Sleep(time.Second)
		synctest.Wait()
		// Second failure within the hour exceeds sub's intensity: root restarts sub, which
		// starts leaf again. Work queued for leaf survives the whole thing.
		if _, err := leaf.SendBatch(context.Background(), []cmd{{op: "fail"}, {op: "work", value: 7}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if len(j.eventsOf("supervisor.IntensityExceeded")) != 1 {
			t.Fatalf("sub did not give up: %v", j.all())
		}
		if j.count("leaf:work:7") != 1 || j.count("leaf:start") != 3 {
			t.Fatalf("leaf after sub's restart: %v", j.all())
		}
		tree := root.Children()
		if len(tree) != 1 || tree[0].Name != "sub" || tree[0].Restarts != 1 || len(tree[0].Children) != 1 || tree[0].Children[0].Name != "leaf" {
			t.Fatalf("tree %+v", tree)
		}
		stop(t, p)
	})
}

func TestRemoveAndBadSpecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		var dropped []cmd
		s := supervisor.New(supervisor.Config{OnEvent: j.event})
		a := addWorker(t, s, j, "a", func(c *supervisor.ChildSpec[cmd]) {
			c.Mailbox.OnDrop = func(m cmd) { dropped = append(dropped, m) }
		})
		if _, err := supervisor.Add(s, supervisor.ChildSpec[cmd]{Name: "a", New: func() actor.Actor[cmd] { return &worker{} }}); !errors.Is(err, supervisor.ErrDuplicateChild) {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := supervisor.Add(s, supervisor.ChildSpec[cmd]{Name: "x"}); !errors.Is(err, supervisor.ErrInvalidSpec) {
			t.Fatalf("no New: %v", err)
		}
		p := s.Start(context.Background())
		synctest.Wait()
		send(t, a, cmd{op: "work", value: 1})
		if err := s.Remove(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		if j.count("a:work:1") != 1 || j.count("a:drained") != 1 {
			t.Fatalf("remove is a drain stop: %v", j.all())
		}
		if err := s.Remove(context.Background(), "a"); !errors.Is(err, supervisor.ErrUnknownChild) {
			t.Fatalf("second remove: %v", err)
		}
		if len(s.Children()) != 0 {
			t.Fatal("removed child still listed")
		}
		// A child added while running starts at once.
		b := addWorker(t, s, j, "b", nil)
		send(t, b, cmd{op: "work", value: 2})
		synctest.Wait()
		if j.count("b:work:2") != 1 {
			t.Fatalf("child added while running: %v", j.all())
		}
		stop(t, p)
		if _, err := supervisor.Add(s, supervisor.ChildSpec[cmd]{Name: "late", New: func() actor.Actor[cmd] { return &worker{} }}); !errors.Is(err, actor.ErrStopped) {
			t.Fatalf("add to a stopped supervisor: %v", err)
		}
		if len(dropped) != 0 {
			t.Fatalf("a drain stop dropped %v", dropped)
		}
	})
}

func TestPanickingChildAndPanickingNew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		s := supervisor.New(supervisor.Config{OnEvent: j.event, Intensity: 100})
		a := addWorker(t, s, j, "a", nil)
		builds := 0
		if _, err := supervisor.Add(s, supervisor.ChildSpec[cmd]{Name: "bad-new", New: func() actor.Actor[cmd] {
			builds++
			if builds < 3 {
				panic("cannot build")
			}
			return &worker{name: "bad-new", log: j}
		}}); err != nil {
			t.Fatal(err)
		}
		p := s.Start(context.Background())
		synctest.Wait()
		send(t, a, cmd{op: "panic"})
		time.Sleep(time.Second)
		synctest.Wait()
		var panics int
		for _, e := range j.eventsOf("supervisor.Exited") {
			if errors.Is(e.(supervisor.Exited).Err, actor.ErrPanic) {
				panics++
			}
		}
		if panics != 3 || j.count("a:start") != 2 || j.count("bad-new:start") != 1 {
			t.Fatalf("panics %d: %v", panics, j.all())
		}
		stop(t, p)
	})
}
