package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"pgregory.net/rapid"
)

// timedEvent is an event with the (fake) time it happened.
type timedEvent struct {
	at time.Time
	e  supervisor.Event
}

// modelChild is the test's model of one child.
type modelChild struct {
	started  time.Time
	failures int
}

// TestPropertyRestartsObeyStrategyIntensityBackoff drives a supervisor with a random
// failure schedule under testing/synctest (exact fake time) and checks every event
// against a model: which children restart (strategy), in which order (start order), after
// which delay (backoff with jitter, reset after a healthy run), exactly when (fake time),
// and when the supervisor gives up (intensity).
func TestPropertyRestartsObeyStrategyIntensityBackoff(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		strategy := supervisor.Strategy(rapid.IntRange(0, 2).Draw(rt, "strategy"))
		n := rapid.IntRange(1, 4).Draw(rt, "children")
		maxRestarts := rapid.IntRange(1, 6).Draw(rt, "intensity")
		period := time.Duration(rapid.IntRange(1, 50).Draw(rt, "period100ms")) * 100 * time.Millisecond
		bmin := time.Duration(rapid.IntRange(1, 50).Draw(rt, "backoffMinMs")) * time.Millisecond
		bo := supervisor.Backoff{
			Min: bmin,
			Max: bmin * time.Duration(rapid.IntRange(1, 8).Draw(rt, "backoffFactor")),
		}
		resetAfter := time.Duration(rapid.IntRange(1, 30).Draw(rt, "resetAfter100ms")) * 100 * time.Millisecond
		type step struct {
			child int
			gap   time.Duration
		}
		steps := make([]step, rapid.IntRange(1, 12).Draw(rt, "steps"))
		for i := range steps {
			steps[i] = step{
				child: rapid.IntRange(0, n-1).Draw(rt, "child"),
				gap:   time.Duration(rapid.IntRange(0, 3000).Draw(rt, "gapMs")) * time.Millisecond,
			}
		}

		var failure string
		synctest.Test(t, func(*testing.T) {
			var mu sync.Mutex
			var events []timedEvent
			s := supervisor.New(supervisor.Config{
				Strategy: strategy, Intensity: maxRestarts, Period: period, Backoff: bo, ResetAfter: resetAfter,
				OnEvent: func(e supervisor.Event) {
					mu.Lock()
					events = append(events, timedEvent{time.Now(), e})
					mu.Unlock()
				},
			})
			j := &journal{}
			names := make([]string, n)
			refs := make([]actor.Ref[cmd], n)
			for i := range n {
				names[i] = fmt.Sprintf("c%d", i)
				ref, err := supervisor.Add(s, supervisor.ChildSpec[cmd]{Name: names[i], New: func() actor.Actor[cmd] {
					return &worker{name: names[i], log: j}
				}})
				if err != nil {
					failure = err.Error()
					return
				}
				refs[i] = ref
			}
			p := s.Start(context.Background())
			defer func() {
				_ = p.Stop(context.Background())
			}()
			synctest.Wait()
			model := make([]modelChild, n)
			for i := range model {
				model[i].started = time.Now()
			}
			var restarts []time.Time // the model's intensity window
			seen := len(events)
			for si, st := range steps {
				time.Sleep(st.gap)
				now := time.Now()
				_ = refs[st.child].Send(context.Background(), cmd{op: "fail"})
				synctest.Wait()
				time.Sleep(bo.Max + time.Millisecond) // every restart of this failure is due by now
				synctest.Wait()

				mu.Lock()
				got := events[seen:]
				seen = len(events)
				mu.Unlock()
				fail := func(format string, args ...any) {
					var b strings.Builder
					for _, e := range got {
						fmt.Fprintf(&b, "\n  %v %v", e.at.Sub(now), e.e)
					}
					failure = fmt.Sprintf("step %d (fail %s at %v): ", si, names[st.child], now) + fmt.Sprintf(format, args...) + b.String()
				}

				// Model: a child's consecutive-failure count restarts from zero once an
				// incarnation has run for ResetAfter.
				m := &model[st.child]
				if now.Sub(m.started) >= resetAfter {
					m.failures = 0
				}
				m.failures++
				kept := restarts[:0]
				for _, r := range restarts {
					if now.Sub(r) < period {
						kept = append(kept, r)
					}
				}
				restarts = append(kept, now)

				if len(got) == 0 {
					fail("no events")
					return
				}
				if ex, ok := got[0].e.(supervisor.Exited); !ok || ex.Child != names[st.child] || !errors.Is(ex.Err, errInjected) {
					fail("first event is not the child's exit")
					return
				}
				if len(restarts) > maxRestarts {
					if len(got) != 2 {
						fail("want exit and IntensityExceeded only")
						return
					}
					if _, ok := got[1].e.(supervisor.IntensityExceeded); !ok {
						fail("intensity not exceeded after %d restarts in %v", len(restarts), period)
						return
					}
					<-p.Done()
					if !errors.Is(p.Err(), supervisor.ErrIntensity) {
						fail("supervisor ended with %v", p.Err())
					}
					return
				}
				group := groupOf(strategy, n, st.child)
				for _, idx := range group {
					if idx != st.child && now.Sub(model[idx].started) >= resetAfter {
						model[idx].failures = 0 // it ran well before it was taken down
					}
				}
				if len(got) != 1+2*len(group) {
					fail("want %d restarts", len(group))
					return
				}
				// Model of the backoff ceiling: Min doubled per earlier consecutive failure.
				ceiling := bo.Min
				for f := 1; f < m.failures && ceiling < bo.Max; f++ {
					ceiling *= 2
				}
				ceiling = min(ceiling, bo.Max)
				var delay time.Duration
				for k, idx := range group {
					r, ok := got[1+2*k].e.(supervisor.Restarted)
					s, ok2 := got[2+2*k].e.(supervisor.Started)
					if !ok || !ok2 || r.Child != names[idx] || s.Child != names[idx] {
						fail("restart %d is not of %s", k, names[idx])
						return
					}
					if k == 0 {
						delay = r.Delay
					}
					if r.Delay != delay || delay < ceiling/2 || delay > ceiling {
						fail("delay %v outside [%v, %v] for %d failures", r.Delay, ceiling/2, ceiling, m.failures)
						return
					}
					if at := got[2+2*k].at; at.Sub(now) != delay {
						fail("%s started %v after the failure, want %v", names[idx], at.Sub(now), delay)
						return
					}
					model[idx].started = now.Add(delay)
				}
			}
		})
		if failure != "" {
			rt.Fatalf("%s", failure)
		}
	})
}

func groupOf(s supervisor.Strategy, n, failed int) []int {
	switch s {
	case supervisor.OneForAll:
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	case supervisor.RestForOne:
		var out []int
		for i := failed; i < n; i++ {
			out = append(out, i)
		}
		return out
	}
	return []int{failed}
}
