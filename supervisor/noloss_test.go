package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"pgregory.net/rapid"
)

// ledger records, per message, how many handler invocations it was passed to, how many
// of them returned (nil or an error), and how many times it was reported through OnDrop.
type ledger struct {
	slow     time.Duration // how long a handler takes over a "slow" message, deaf to its context
	mu       sync.Mutex
	passed   map[int]int
	returned map[int]int
	dropped  map[int]int
}

func newLedger() *ledger {
	return &ledger{passed: map[int]int{}, returned: map[int]int{}, dropped: map[int]int{}}
}

func (l *ledger) pass(m int) {
	l.mu.Lock()
	l.passed[m]++
	l.mu.Unlock()
}

func (l *ledger) ret(m int) {
	l.mu.Lock()
	l.returned[m]++
	l.mu.Unlock()
}

func (l *ledger) drop(m int) {
	l.mu.Lock()
	l.dropped[m]++
	l.mu.Unlock()
}

// droppedUnpassed lists the messages reported through OnDrop that no handler was given:
// those a drain stop, a discard or a give-up reported, rather than poison messages.
func (l *ledger) droppedUnpassed() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for m := range l.dropped {
		if l.passed[m] == 0 {
			out = append(out, m)
		}
	}
	sort.Ints(out)
	return out
}

func (l *ledger) count(of map[int]int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range of {
		n += c
	}
	return n
}

// check returns what breaks the guarantee: every accepted message is passed to at most
// one handler invocation, and either that invocation returned and the message was never
// reported, or it was reported through OnDrop exactly once (never passed to a handler, or
// passed to one that panicked). No message that was not accepted appears.
func (l *ledger) check(accepted []int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	acc := make(map[int]bool, len(accepted))
	var bad []string
	for _, m := range accepted {
		acc[m] = true
		p, r, d := l.passed[m], l.returned[m], l.dropped[m]
		if p > 1 || !(r == 1 && d == 0 || r == 0 && d == 1) {
			bad = append(bad, fmt.Sprintf("%d: passed %d, returned %d, dropped %d", m, p, r, d))
		}
	}
	for _, of := range []map[int]int{l.passed, l.dropped} {
		for m := range of {
			if !acc[m] {
				bad = append(bad, fmt.Sprintf("%d: seen but never accepted", m))
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	n := len(bad)
	if n > 10 {
		bad = append(bad[:10], "...")
	}
	return fmt.Errorf("%d messages broke the guarantee (%d accepted): %v", n, len(accepted), bad)
}

// receiveChild is a supervised child built with actor.Receive whose handler records in l
// and then does what outcome says about the message: "panic", "error", "slow" (handle it
// after l.slow of fake time, whatever its context says), or handle it.
func receiveChild(name string, l *ledger, outcome func(int) string) supervisor.ChildSpec[int] {
	return handlerChild(name, false, 0, l, outcome)
}

// handlerChild is receiveChild built with actor.ReceiveBatch when batch is set: the batch
// handler panics if outcome says so of any message in its batch, else fails if it says so
// of any. capacity is the child's mailbox capacity (zero: the default).
func handlerChild(name string, batch bool, capacity int, l *ledger, outcome func(int) string) supervisor.ChildSpec[int] {
	spec := supervisor.ChildSpec[int]{
		Name:    name,
		Mailbox: actor.MailboxConfig[int]{Capacity: capacity, OnDrop: l.drop},
	}
	if !batch {
		spec.New = func() actor.Actor[int] {
			return actor.Receive(func(ctx context.Context, m int) error {
				l.pass(m)
				switch outcome(m) {
				case "panic":
					panic(fmt.Sprintf("poison %d", m))
				case "error":
					l.ret(m)
					return fmt.Errorf("message %d: %w", m, errInjected)
				case "slow":
					time.Sleep(l.slow) // fake time: a stop of this child takes this long
				}
				l.ret(m)
				return nil
			})
		}
		return spec
	}
	spec.New = func() actor.Actor[int] {
		return actor.ReceiveBatch(func(ctx context.Context, b []int) error {
			worst, slow := "", false
			for _, m := range b {
				l.pass(m)
				switch o := outcome(m); {
				case o == "panic":
					worst = o
				case o == "error" && worst == "":
					worst = o
				case o == "slow":
					slow = true
				}
			}
			if slow {
				time.Sleep(l.slow)
			}
			if worst == "panic" {
				panic(fmt.Sprintf("poison in %v", b))
			}
			for _, m := range b {
				l.ret(m)
			}
			if worst == "error" {
				return fmt.Errorf("batch %v: %w", b, errInjected)
			}
			return nil
		})
	}
	return spec
}

// TestReceivePanicKeepsTheRestOfTheBatch is the first case of issue 15: a supervised
// Receive child is sent 50 messages and panics on every multiple of 10. The 45 others are
// all handled (the rest of each panicking batch waits for the next incarnation), and each
// poison message is reported through OnDrop once, not retried.
func TestReceivePanicKeepsTheRestOfTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLedger()
		s := supervisor.New(supervisor.Config{Intensity: 100, Period: time.Minute})
		ref, err := supervisor.Add(s, receiveChild("w", l, func(m int) string {
			if m%10 == 0 {
				return "panic"
			}
			return ""
		}))
		if err != nil {
			t.Fatal(err)
		}
		accepted := make([]int, 50)
		for i := range accepted {
			accepted[i] = i
			send := ref.TrySend(i) // queued before the child starts: one batch
			if send != nil {
				t.Fatal(send)
			}
		}
		p := s.Start(context.Background())
		time.Sleep(time.Minute) // fake time: every restart's backoff has passed
		synctest.Wait()
		stop(t, p)
		if err := l.check(accepted); err != nil {
			t.Fatal(err)
		}
		if h, d := l.count(l.returned), l.count(l.dropped); h != 45 || d != 5 {
			t.Fatalf("handled %d, dropped %d; want 45 and the 5 poison messages", h, d)
		}
	})
}

// TestChildFailingDuringDrainStopIsReported is the second case of issue 15: a child whose
// handler fails on the 5th of 10 queued messages while its supervisor is drain-stopped.
// The supervisor does not restart it during the drain: the 5 messages after the failure
// go to OnDrop, the Exited event names the failure, and Stop returns an error wrapping
// it.
func TestChildFailingDuringDrainStopIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLedger()
		j := &journal{}
		s := supervisor.New(supervisor.Config{OnEvent: j.event})
		ref, err := supervisor.Add(s, receiveChild("w", l, func(m int) string {
			if m == 4 {
				return "error"
			}
			return ""
		}))
		if err != nil {
			t.Fatal(err)
		}
		accepted := make([]int, 10)
		for i := range accepted {
			accepted[i] = i
			if err := ref.TrySend(i); err != nil {
				t.Fatal(err)
			}
		}
		p := s.Start(context.Background())
		err = p.Stop(context.Background())
		if !errors.Is(err, errInjected) {
			t.Fatalf("Stop returned %v, want an error wrapping the child's failure", err)
		}
		if err := l.check(accepted); err != nil {
			t.Fatal(err)
		}
		if h, d := l.count(l.returned), l.count(l.dropped); h != 5 || d != 5 {
			t.Fatalf("handled %d, dropped %d; want 5 (the failing one included) and 5", h, d)
		}
		exits := j.eventsOf("supervisor.Exited")
		if len(exits) != 1 || !errors.Is(exits[0].(supervisor.Exited).Err, errInjected) {
			t.Fatalf("Exited events %v, want one naming the failure", exits)
		}
	})
}

// TestRemoveReportsAnUnfinishedDrain: Remove drain-stops a child whose handler fails on
// the first of three queued messages. The two after it go to OnDrop, and Remove says so.
func TestRemoveReportsAnUnfinishedDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLedger()
		s := supervisor.New(supervisor.Config{})
		ref, err := supervisor.Add(s, receiveChild("w", l, func(m int) string {
			if m == 0 {
				return "error"
			}
			return ""
		}))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := ref.TrySend(i); err != nil {
				t.Fatal(err)
			}
		}
		p := s.Start(context.Background())
		if err := s.Remove(context.Background(), "w"); !errors.Is(err, errInjected) {
			t.Fatalf("Remove returned %v, want an error wrapping the child's failure", err)
		}
		if err := l.check([]int{0, 1, 2}); err != nil {
			t.Fatal(err)
		}
		if d := l.count(l.dropped); d != 2 {
			t.Fatalf("%d reported, want 2", d)
		}
		stop(t, p)
	})
}

// TestGivingUpReportsEveryAcceptedMessage is the third case of issue 15: children fail
// until their supervisor exceeds its intensity and gives up. Of 1000 accepted messages,
// every one is handled or reported through OnDrop, exactly once.
func TestGivingUpReportsEveryAcceptedMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLedger()
		s := supervisor.New(supervisor.Config{Intensity: 3, Period: time.Minute})
		var refs []actor.Ref[int]
		for _, name := range []string{"a", "b"} {
			ref, err := supervisor.Add(s, receiveChild(name, l, func(m int) string {
				if m%97 == 96 {
					return "error"
				}
				return ""
			}))
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		p := s.Start(context.Background())
		var accepted []int
		for i := range 1000 {
			if err := refs[i%2].Send(context.Background(), i); err == nil {
				accepted = append(accepted, i)
			}
		}
		<-p.Done()
		if !errors.Is(p.Err(), supervisor.ErrIntensity) {
			t.Fatalf("supervisor ended with %v, want ErrIntensity", p.Err())
		}
		if len(accepted) != 1000 {
			t.Fatalf("%d sends accepted, want 1000 (the mailboxes have room)", len(accepted))
		}
		if err := l.check(accepted); err != nil {
			t.Fatal(err)
		}
		if l.count(l.dropped) == 0 {
			t.Fatalf("nothing was reported: the supervisor gave up before the children had handled everything, so some must be")
		}
		// It has ended for good: its children's mailboxes are discarded, not suspended.
		if err := refs[0].TrySend(-1); !errors.Is(err, actor.ErrStopped) {
			t.Fatalf("send after giving up: %v, want ErrStopped", err)
		}
	})
}

// propStep is one step of TestPropertyEveryAcceptedMessageEndsOnce: messages to TrySend to
// a child, or a pause (fake time) that lets restarts and backoffs run.
type propStep struct {
	child int
	msgs  []int
	pause time.Duration
}

// TestPropertyEveryAcceptedMessageEndsOnce drives a tree (permanent, transient or
// temporary children built with Receive or ReceiveBatch, directly under the top-level
// supervisor or under a nested one) with a
// random schedule of sends whose handlers succeed, fail or panic, so that children
// restart by their strategy, supervisors exceed their intensity (a nested one is
// restarted by its parent, the top-level one gives up), and ends it with a drain stop or
// a cancel stop unless it gave up first. Under testing/synctest (fake time), it checks
// that every accepted message is passed to at most one handler invocation and ends
// exactly once: in an invocation that returned, or in one report through OnDrop. A drain
// stop that returns nil must have reported no message that a handler was not given (the
// only reports then are of poison messages), except for temporary children, whose queue
// goes to OnDrop whenever they exit. Some handlers are slow and deaf to their context, so
// that stops (the strategy's, the supervisor's own) take long or overrun the children's
// StopTimeout: the supervisor goes on meanwhile, and never starts an incarnation while
// the old one may still drain the mailbox.
func TestPropertyEveryAcceptedMessageEndsOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 3).Draw(rt, "children")
		nested := rapid.Bool().Draw(rt, "nested")
		strategy := supervisor.Strategy(rapid.IntRange(0, 2).Draw(rt, "strategy"))
		intensity := rapid.IntRange(1, 5).Draw(rt, "intensity")
		capacity := rapid.IntRange(1, 16).Draw(rt, "capacity")
		batch := rapid.SliceOfN(rapid.Bool(), n, n).Draw(rt, "batchHandler")
		slowFor := time.Duration(rapid.IntRange(0, 30).Draw(rt, "slow100ms")) * 100 * time.Millisecond
		stopTimeout := time.Duration(rapid.IntRange(1, 30).Draw(rt, "stopTimeout100ms")) * 100 * time.Millisecond
		restart := rapid.SliceOfN(rapid.IntRange(0, 2), n, n).Draw(rt, "restartType")
		var outcomes []string
		steps := make([]propStep, rapid.IntRange(1, 16).Draw(rt, "steps"))
		for i := range steps {
			if rapid.IntRange(0, 3).Draw(rt, "pause") == 0 {
				steps[i].pause = time.Duration(rapid.IntRange(0, 300).Draw(rt, "pauseMs")) * time.Millisecond
				continue
			}
			steps[i].child = rapid.IntRange(0, n-1).Draw(rt, "child")
			for _, o := range rapid.SliceOfN(rapid.IntRange(0, 9), 1, 8).Draw(rt, "outcomes") {
				steps[i].msgs = append(steps[i].msgs, len(outcomes))
				switch o {
				case 0:
					outcomes = append(outcomes, "error")
				case 1:
					outcomes = append(outcomes, "panic")
				case 2:
					outcomes = append(outcomes, "slow")
				default:
					outcomes = append(outcomes, "")
				}
			}
		}
		drain := rapid.Bool().Draw(rt, "drainStop")

		var failure string
		l := newLedger()
		l.slow = slowFor
		var accepted []int
		var ended error
		synctest.Test(t, func(t *testing.T) {
			cfg := supervisor.Config{Name: "root", Strategy: strategy, Intensity: intensity, Period: time.Minute}
			root := supervisor.New(cfg)
			parent := root
			if nested {
				cfg.Name = "inner"
				parent = supervisor.New(cfg)
				if err := root.AddSupervisor(parent); err != nil {
					failure = err.Error()
					return
				}
			}
			refs := make([]actor.Ref[int], n)
			for i := range refs {
				spec := handlerChild(fmt.Sprintf("c%d", i), batch[i], capacity, l, func(m int) string { return outcomes[m] })
				spec.Restart = supervisor.Restart(restart[i])
				spec.StopTimeout = stopTimeout
				ref, err := supervisor.Add(parent, spec)
				if err != nil {
					failure = err.Error()
					return
				}
				refs[i] = ref
			}
			p := root.Start(context.Background())
			to := make(map[int]supervisor.Restart) // the restart type of each message's child
			for _, st := range steps {
				if st.msgs == nil {
					time.Sleep(st.pause)
					continue
				}
				for _, m := range st.msgs {
					if refs[st.child].TrySend(m) == nil {
						accepted = append(accepted, m)
						to[m] = supervisor.Restart(restart[st.child])
					}
				}
			}
			if drain {
				if err := p.Stop(context.Background()); err == nil {
					// A temporary child's queue goes to OnDrop whenever it exits: the
					// claim is about the others.
					var un []int
					for _, m := range l.droppedUnpassed() {
						if to[m] != supervisor.Temporary {
							un = append(un, m)
						}
					}
					if len(un) > 0 {
						failure = fmt.Sprintf("a drain stop returned nil, but messages %v were reported without being passed to a handler", un)
						return
					}
				}
			} else {
				_ = p.Cancel(context.Background())
			}
			<-p.Done()
			ended = p.Err()
			// A child that overran its StopTimeout may still be in a slow handler: let
			// it finish (fake time) before the bubble ends.
			time.Sleep(slowFor)
			synctest.Wait()
		})
		if failure != "" {
			rt.Fatalf("%s", failure)
		}
		// Checked once every goroutine of the bubble has exited: a child that overran its
		// StopTimeout finishes its slow message after its supervisor has ended.
		if err := l.check(accepted); err != nil {
			rt.Fatalf("%v (supervisor ended with %v)", err, ended)
		}
	})
}
