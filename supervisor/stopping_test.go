package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
)

// names lists the children of s, in start order.
func names(s *supervisor.Supervisor) []string {
	var out []string
	for _, c := range s.Children() {
		out = append(out, c.Name)
	}
	return out
}

// TestSlowStopDoesNotHoldUpSiblings: a child whose drain stop (Remove) takes long, because
// it is busy with a message until the test releases it, does not freeze its supervisor.
// Meanwhile a sibling fails, is restarted after its backoff, and handles a message queued
// behind its failure; the slow child's Remove answers only once it has drained.
func TestSlowStopDoesNotHoldUpSiblings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{hang: make(chan struct{})}
		released := false
		release := func() {
			if !released {
				released = true
				close(j.hang)
			}
		}
		s := supervisor.New(supervisor.Config{OnEvent: j.event})
		slow := addWorker(t, s, j, "slow", func(c *supervisor.ChildSpec[cmd]) { c.StopTimeout = time.Minute })
		b := addWorker(t, s, j, "b", nil)
		p := s.Start(context.Background())
		end := func() { release(); _ = p.Cancel(context.Background()) }
		defer end() // let everything end, even when the test fails
		synctest.Wait()
		send(t, slow, cmd{op: "hang"})
		send(t, slow, cmd{op: "work", value: 1}) // to drain once released
		synctest.Wait()

		removed := make(chan error, 1)
		removal := func() { removed <- s.Remove(context.Background(), "slow") }
		go removal()
		synctest.Wait() // the supervisor has begun slow's drain stop

		if _, err := b.SendBatch(context.Background(), []cmd{{op: "fail"}, {op: "work", value: 2}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // fake time: past b's backoff, well within slow's StopTimeout
		synctest.Wait()
		if got := j.count("b:start"); got != 2 || j.count("b:work:2") != 1 {
			t.Fatalf("while slow was stopping, b started %d times and handled work 2 %d times, want 2 and 1: %v",
				got, j.count("b:work:2"), j.all())
		}
		select {
		case err := <-removed:
			t.Fatalf("Remove answered %v before slow had drained", err)
		default:
		}
		if got := names(s); !slices.Equal(got, []string{"slow", "b"}) {
			t.Fatalf("children while slow is stopping: %v", got)
		}

		release()
		if err := <-removed; err != nil {
			t.Fatalf("Remove of a child that drained everything: %v", err)
		}
		if j.count("slow:work:1") != 1 || j.count("slow:drained") != 1 {
			t.Fatalf("slow did not drain: %v", j.all())
		}
		if got := names(s); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("children after the removal: %v", got)
		}
		if n := len(j.eventsOf("supervisor.StopTimedOut")); n != 0 {
			t.Fatalf("%d stop timeouts reported, want none", n)
		}
		stop(t, p)
	})
}

// TestSlowRemoveTimesOutAndAccountsForItsMessages: a child that does not drain within its
// StopTimeout is reported (a StopTimedOut event, and Remove's error matching
// ErrStopTimeout) at exactly its deadline, while the supervisor goes on restarting a
// failed sibling; the messages still queued for it go to its OnDrop.
func TestSlowRemoveTimesOutAndAccountsForItsMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{hang: make(chan struct{})}
		var dropped []cmd
		s := supervisor.New(supervisor.Config{OnEvent: j.event})
		slow := addWorker(t, s, j, "slow", func(c *supervisor.ChildSpec[cmd]) {
			c.StopTimeout = time.Minute
			c.Mailbox.OnDrop = func(m cmd) { dropped = append(dropped, m) }
		})
		b := addWorker(t, s, j, "b", nil)
		p := s.Start(context.Background())
		end := func() { close(j.hang); _ = p.Cancel(context.Background()) }
		defer end() // let everything end, even when the test fails
		synctest.Wait()
		send(t, slow, cmd{op: "hang"})
		synctest.Wait() // slow is stuck on the hang; what follows stays queued
		if _, err := slow.SendBatch(context.Background(), []cmd{{op: "work", value: 1}, {op: "work", value: 2}}); err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		removed := make(chan error, 1)
		removal := func() { removed <- s.Remove(context.Background(), "slow") }
		go removal()
		synctest.Wait()
		if _, err := b.SendBatch(context.Background(), []cmd{{op: "fail"}, {op: "work", value: 3}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // past b's backoff
		synctest.Wait()
		if j.count("b:start") != 2 || j.count("b:work:3") != 1 {
			t.Fatalf("b was not restarted while slow was stopping: %v", j.all())
		}
		err := <-removed
		if !errors.Is(err, actor.ErrStopTimeout) || time.Since(begin) != time.Minute {
			t.Fatalf("Remove returned %v after %v, want slow's stop timeout after its StopTimeout (1m)", err, time.Since(begin))
		}
		if n := len(j.eventsOf("supervisor.StopTimedOut")); n != 1 {
			t.Fatalf("%d StopTimedOut events, want 1: %v", n, j.all())
		}
		if want := []cmd{{op: "work", value: 1}, {op: "work", value: 2}}; !slices.Equal(dropped, want) {
			t.Fatalf("OnDrop got %v, want the two messages still queued %v", dropped, want)
		}
		if got := names(s); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("children after the removal: %v", got)
		}
		stop(t, p)
	})
}

// TestTakedownStopsInReverseOrderWithoutHoldingUpTheLoop: under one-for-all, a's failure
// takes down b and slow, whose cancel stop takes long. The supervisor stops slow first and
// b only once slow has exited (reverse start order), meanwhile starts a child added to it,
// holds a's restart past its backoff until the takedown is over, and then restarts a, b
// and slow in start order.
func TestTakedownStopsInReverseOrderWithoutHoldingUpTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &journal{hang: make(chan struct{})}
		released := false
		release := func() {
			if !released {
				released = true
				close(j.hang)
			}
		}
		s := supervisor.New(supervisor.Config{Strategy: supervisor.OneForAll, OnEvent: j.event})
		ended := func(c *supervisor.ChildSpec[cmd]) {
			name := c.Name
			c.Release = func(actor.Actor[cmd], error) { j.add(name + ":ended") }
			c.StopTimeout = time.Minute
		}
		a := addWorker(t, s, j, "a", ended)
		addWorker(t, s, j, "b", ended)
		slow := addWorker(t, s, j, "slow", ended)
		p := s.Start(context.Background())
		end := func() { release(); _ = p.Cancel(context.Background()) }
		defer end() // let everything end, even when the test fails
		synctest.Wait()
		send(t, slow, cmd{op: "hang"}) // ignores its context until released
		synctest.Wait()
		send(t, a, cmd{op: "fail"})
		synctest.Wait()

		addWorker(t, s, j, "d", nil)
		time.Sleep(time.Second) // past a's backoff
		synctest.Wait()
		if j.count("d:start") != 1 {
			t.Fatalf("a child added during the takedown did not start: %v", j.all())
		}
		if j.count("b:ended") != 0 || j.count("a:start") != 1 {
			t.Fatalf("b stopped or a restarted before slow had exited: %v", j.all())
		}

		release()
		synctest.Wait()
		var exits []string
		for _, e := range j.all() {
			if n, ok := strings.CutSuffix(e, ":ended"); ok {
				exits = append(exits, n)
			}
		}
		if !slices.Equal(exits, []string{"a", "slow", "b"}) {
			t.Fatalf("incarnations ended in the order %v, want [a slow b]", exits)
		}
		var order []string
		for _, e := range j.eventsOf("supervisor.Started") {
			order = append(order, e.Source())
		}
		if !slices.Equal(order, []string{"a", "b", "slow", "d", "a", "b", "slow"}) {
			t.Fatalf("start order %v, want a b slow, d, then a b slow again", order)
		}
		if n := len(j.eventsOf("supervisor.StopTimedOut")); n != 0 {
			t.Fatalf("%d stop timeouts reported, want none", n)
		}
		stop(t, p)
	})
}

// TestDropsAnsweredDrainStop stops a supervisor whose child is down (waiting out a long
// backoff) with messages queued: they go to the mailbox's OnDrop either way, and Stop
// names the child unless its spec says OnDrop answers each sender (DropsAnswered).
func TestDropsAnsweredDrainStop(t *testing.T) {
	for _, answered := range []bool{false, true} {
		t.Run(fmt.Sprintf("DropsAnswered=%v", answered), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				j := &journal{}
				s := supervisor.New(supervisor.Config{Intensity: 10, Backoff: supervisor.Backoff{Min: time.Hour, Max: time.Hour}})
				var dropped []cmd
				a := addWorker(t, s, j, "a", func(spec *supervisor.ChildSpec[cmd]) {
					spec.DropsAnswered = answered
					spec.Mailbox.OnDrop = func(c cmd) { dropped = append(dropped, c) }
				})
				p := s.Start(context.Background())
				send(t, a, cmd{op: "fail"})
				synctest.Wait() // a failed and waits out its backoff
				send(t, a, cmd{op: "work", value: 1})
				send(t, a, cmd{op: "work", value: 2})
				err := p.Stop(context.Background())
				if len(dropped) != 2 {
					t.Fatalf("OnDrop got %v, want both queued messages", dropped)
				}
				switch {
				case answered && err != nil:
					t.Fatalf("Stop: %v, want nil: OnDrop answered every sender", err)
				case !answered && (err == nil || !strings.Contains(err.Error(), "2 queued messages went to OnDrop")):
					t.Fatalf("Stop: %v, want the child named with its 2 dropped messages", err)
				}
			})
		})
	}
}
