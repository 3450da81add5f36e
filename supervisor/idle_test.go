package supervisor_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/supervisor"
)

// TestIdleSupervisorArmsNoAlarm checks that a supervisor whose children run, healthy or
// not yet, and whose breakers are closed has nothing timed to do: its loop arms no
// alarm, so an idle tree of supervisors never wakes. Health by uptime (Config.ResetAfter)
// resets the backoff at the next failure instead (TestBackoffGrowsAndResetsAfterHealth).
func TestIdleSupervisorArmsNoAlarm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		s := supervisor.New(supervisor.Config{Name: "top", OnEvent: j.event})
		a := addWorker(t, s, j, "a", nil)
		addWorker(t, s, j, "b", func(spec *supervisor.ChildSpec[cmd]) {
			spec.Breaker = &supervisor.BreakerConfig{Errors: 3, Timeout: time.Minute}
		})
		nested := supervisor.New(supervisor.Config{Name: "nested", OnEvent: j.event})
		addWorker(t, nested, j, "c", nil)
		if err := s.AddSupervisor(nested); err != nil {
			t.Fatal(err)
		}
		p := s.Start(context.Background())
		synctest.Wait()
		if j.count("a:start") != 1 || j.count("b:start") != 1 || j.count("c:start") != 1 {
			t.Fatalf("children not started: %v", j.all())
		}
		for _, sv := range []*supervisor.Supervisor{s, nested} {
			if at := sv.NextDue(); !at.IsZero() {
				t.Fatalf("idle supervisor armed for %v from now", time.Until(at))
			}
		}

		// Once a restarted child runs again, nothing is due either. (NextDue reads the
		// loop's state: read it only where the test's next step reaches the loop through
		// a message, never across a timer of the loop's, which the race detector does not
		// count as ordering the two.)
		send(t, a, cmd{op: "fail"})
		time.Sleep(supervisor.DefaultBackoffMax)
		synctest.Wait()
		if j.count("a:start") != 2 {
			t.Fatalf("a not restarted: %v", j.all())
		}
		if at := s.NextDue(); !at.IsZero() {
			t.Fatalf("after the restart, supervisor armed for %v from now", time.Until(at))
		}
		stop(t, p)
	})
}

// TestHalfOpenBreakerClosesByUptime checks the one case where health by uptime is timed:
// a child restarted by its half-open breaker that runs for ResetAfter without calling
// MarkHealthy closes the breaker then, not at its next failure.
func TestHalfOpenBreakerClosesByUptime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{}
		const resetAfter = 5 * time.Second
		s := supervisor.New(supervisor.Config{ResetAfter: resetAfter, OnEvent: j.event})
		ref := addWorker(t, s, j, "conn", func(spec *supervisor.ChildSpec[cmd]) {
			spec.Breaker = &supervisor.BreakerConfig{Errors: 1, Timeout: time.Minute}
		})
		p := s.Start(context.Background())
		synctest.Wait()
		send(t, ref, cmd{op: "fail"})
		synctest.Wait()
		if len(j.eventsOf("supervisor.BreakerOpened")) != 1 {
			t.Fatalf("breaker did not open: %v", j.all())
		}
		// The breaker half-opens on a timer of its own; allow it a moment past the timeout.
		time.Sleep(time.Minute + 10*time.Millisecond)
		synctest.Wait()
		if len(j.eventsOf("supervisor.BreakerHalfOpen")) != 1 || j.count("conn:start") != 2 {
			t.Fatalf("no half-open probe: %v", j.all())
		}
		// The probe started at most 10ms ago.
		time.Sleep(resetAfter - 20*time.Millisecond)
		synctest.Wait()
		if n := len(j.eventsOf("supervisor.BreakerClosed")); n != 0 {
			t.Fatalf("breaker closed before %v of uptime: %v", resetAfter, j.all())
		}
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if len(j.eventsOf("supervisor.BreakerClosed")) != 1 {
			t.Fatalf("breaker did not close after %v of uptime: %v", resetAfter, j.all())
		}
		if at := s.NextDue(); !at.IsZero() {
			t.Fatalf("breaker closed, supervisor still armed for %v from now", time.Until(at))
		}
		if err := ref.Send(context.Background(), cmd{op: "work", value: 1}); err != nil {
			t.Fatalf("send after close: %v", err)
		}
		synctest.Wait()
		if j.count("conn:work:1") != 1 {
			t.Fatalf("work after close not handled: %v", j.all())
		}
		stop(t, p)
	})
}
