package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/eapache/go-resiliency/breaker"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/actorhook"
)

// breakerRecheck is how soon the loop looks again at a breaker that should have turned
// half-open but has not yet: the breaker package flips its state on a timer goroutine of
// its own, which may run a moment after the loop's timer.
const breakerRecheck = time.Millisecond

// run is the supervisor's loop, one incarnation of it. It starts every child in order,
// then reacts to its children's exits, health notices, timers and requests until it is
// stopped. It never waits for a child to stop while it runs (see stopping.go); once it is
// stopped, it stops them in turn: a drain stop (its mailbox closed) stops the children
// for good, in reverse order; a cancellation stops them and keeps their mailboxes
// (suspended) for a next incarnation, as does a failure. (A supervisor that has no next incarnation, a top-level
// one or one its parent will not restart, has its children's mailboxes discarded by
// whoever ran it.)
//
// A drain stop does not restart a child that fails during its drain, nor start one that
// was down (waiting out its backoff or its breaker): the messages still queued for them go
// to their mailboxes' OnDrop, and Run returns an error naming each such child and
// wrapping its error, as it does for a child that overran its StopTimeout. run returns
// nil when every child drained its mailbox.
func (s *Supervisor) run(ctx context.Context, in *actor.Inbox[control]) error {
	s.window.times = s.window.times[:0]
	s.takedown = nil
	s.adopt()
	s.mu.Lock()
	for _, sl := range s.slots {
		sl.held = false
		if sl.state != slotBroken {
			sl.state = slotNew
			sl.ctl.Resume()
		}
	}
	s.mu.Unlock()
	if err := s.startNew(ctx); err != nil {
		s.shutdown(false)
		return err
	}

	var alarm actor.Alarm
	defer alarm.Stop()
	var batch []control
	for {
		alarm.Set(s.nextDue())
		select {
		case <-ctx.Done():
			s.shutdown(false)
			return ctx.Err()
		case <-alarm.C():
			if err := s.runDue(ctx, time.Now()); err != nil {
				s.shutdown(false)
				return err
			}
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			for i, c := range batch {
				if err := s.handle(ctx, c); err != nil {
					in.Unread(batch[i+1:]) // requests wait for the next incarnation
					s.shutdown(false)
					return err
				}
			}
			clear(batch)
			if closed {
				return s.shutdown(true)
			}
			// A stop that ended may have let a takedown go on, or a restart happen.
			if err := s.runDue(ctx, time.Now()); err != nil {
				s.shutdown(false)
				return err
			}
		}
	}
}

func (s *Supervisor) handle(ctx context.Context, c control) error {
	switch c.kind {
	case ctlWake:
		s.adopt()
		return s.startNew(ctx)
	case ctlHealthy:
		if sl := c.slot; !sl.removed && sl.inc == c.inc && sl.proc != nil {
			s.markHealthy(sl)
		}
	case ctlExit:
		sl := c.slot
		if sl.removed || sl.inc != c.inc || sl.proc == nil {
			return nil // an incarnation the loop stopped itself, or one already handled
		}
		p := sl.proc
		<-p.Done() // the exit notice is sent from the child's exit hook, just before Done
		if sl.stop != nil {
			s.stopEnded(sl) // a stop the loop began has ended
			return nil
		}
		err := p.Err()
		s.setProc(sl, nil, err)
		if sl.state != slotRunning {
			// Taken down by the strategy, it ended before its stop began: as if it had
			// failed while being stopped. Its restart is scheduled.
			if err != nil {
				s.emit(Exited{About: s.about(sl), Err: err, Uptime: time.Since(sl.started)})
			}
			return nil
		}
		s.emit(Exited{About: s.about(sl), Err: err, Uptime: time.Since(sl.started)})
		return s.failed(ctx, sl, err)
	case ctlRemove:
		s.remove(c.name, c.answer, time.Now())
	}
	return nil
}

// failed applies the restart policy to a child whose incarnation ended with err.
func (s *Supervisor) failed(ctx context.Context, sl *slot, err error) error {
	now := time.Now()
	if !shouldRestart(sl.restart, err) {
		_ = sl.discard() // OnDrop is the report
		s.forget(sl)
		return nil
	}
	s.noteUptime(sl, now)
	if err == nil {
		sl.failures = 0
	} else {
		sl.failures++
	}
	if !s.window.record(now) {
		s.emit(IntensityExceeded{About: About{Supervisor: s.cfg.Name}, Intensity: s.cfg.Intensity, Period: s.cfg.Period})
		return fmt.Errorf("supervisor %q: %w: more than %d restarts in %v; last failure of %q: %w",
			s.cfg.Name, ErrIntensity, s.cfg.Intensity, s.cfg.Period, sl.name, err)
	}

	if sl.breaker != nil && err != nil {
		_ = sl.breaker.Run(func() error { return err })
		if sl.breaker.GetState() == breaker.Open {
			sl.state = slotBroken
			sl.probeAt = now.Add(sl.breakerCfg.Timeout)
			sl.ctl.Suspend(sl.unavailable)
			if sl.dropQueued {
				sl.ctl.DropQueued()
			}
			s.emit(BreakerOpened{About: s.about(sl), Until: sl.probeAt})
		}
	}

	// The others the strategy takes down with it join the takedown, which stops them in
	// reverse start order without holding up the loop; every affected child's restart is
	// due after the failed child's backoff, and waits for the takedown to end.
	idx := s.index(sl)
	group := affected(s.cfg.Strategy, len(s.slots), idx)
	for i := len(group) - 1; i >= 0; i-- {
		if o := s.slots[group[i]]; o != sl && o.state == slotRunning {
			s.noteUptime(o, now)
			s.takedown = append(s.takedown, o)
		}
	}
	sl.delay = s.cfg.Backoff.Delay(sl.failures, rand.Float64())
	for _, i := range group {
		o := s.slots[i]
		o.held = len(group) > 1
		if o.state == slotBroken {
			continue // waits for its breaker
		}
		o.state = slotWaiting
		o.restartAt = now.Add(sl.delay)
		o.delay = sl.delay
	}
	return s.runDue(ctx, now)
}

// runDue does whatever is due at now: stops that overran their StopTimeout are
// reported, the takedown goes on, then restarts whose backoff has passed, probes of
// breakers whose timeout has passed, health by uptime, and the start of children that
// waited for an old incarnation to exit.
func (s *Supervisor) runDue(ctx context.Context, now time.Time) error {
	s.overdue(now)
	s.advance(now)
	for _, sl := range append([]*slot(nil), s.slots...) {
		if sl.removed {
			continue // forgotten while this loop ran
		}
		switch {
		case sl.state == slotNew && s.canStart(sl):
			if err := s.startChild(ctx, sl); err != nil {
				return err
			}
		case sl.state == slotWaiting && s.canStart(sl) && !now.Before(sl.restartAt):
			if err := s.restartChild(ctx, sl); err != nil {
				return err
			}
		case sl.state == slotBroken && !now.Before(sl.probeAt):
			if sl.breaker.GetState() == breaker.Open {
				sl.probeAt = now.Add(breakerRecheck)
				continue
			}
			s.emit(BreakerHalfOpen{About: s.about(sl)})
			sl.ctl.Resume()
			sl.delay = sl.breakerCfg.Timeout // what the restart waited for
			if s.canStart(sl) {
				if err := s.restartChild(ctx, sl); err != nil {
					return err
				}
			} else {
				sl.state, sl.restartAt = slotWaiting, now
			}
		case sl.state == slotRunning && !sl.healthy && !now.Before(sl.healthyAt):
			s.markHealthy(sl)
		}
	}
	return nil
}

func (s *Supervisor) restartChild(ctx context.Context, sl *slot) error {
	sl.held = false
	s.mu.Lock()
	sl.restarts++
	s.mu.Unlock()
	s.emit(Restarted{About: s.about(sl), Attempt: sl.failures, Delay: sl.delay})
	return s.startChild(ctx, sl)
}

// startNew starts, in order, every child not started yet.
func (s *Supervisor) startNew(ctx context.Context) error {
	for _, sl := range append([]*slot(nil), s.slots...) {
		if sl.state == slotNew && sl.proc == nil && !sl.removed {
			if err := s.startChild(ctx, sl); err != nil {
				return err
			}
		}
	}
	return nil
}

// startChild starts a new incarnation of sl. A New that panics or returns nil counts as a
// failed incarnation: it is reported as an exit and handled by the restart policy.
func (s *Supervisor) startChild(ctx context.Context, sl *slot) error {
	sl.inc++
	inc := sl.inc
	self := s.mb
	sv := actorhook.Supervision{
		Kind:        sl.kind,
		Logger:      s.cfg.Logger,
		KeepMailbox: true,
		OnExit: func(error) {
			_ = self.TrySend(control{kind: ctlExit, slot: sl, inc: inc})
		},
		OnHealthy: func() {
			_ = self.TrySend(control{kind: ctlHealthy, slot: sl, inc: inc})
		},
	}
	now := time.Now()
	sl.started, sl.healthy, sl.healthyAt = now, false, now.Add(s.cfg.ResetAfter)
	p, err := sl.spawn(ctx, sv)
	if err != nil {
		sl.state = slotRunning
		s.setProc(sl, nil, err)
		s.emit(Exited{About: s.about(sl), Err: err})
		// The backoff delay of a failure is never zero, so this cannot recurse at once.
		return s.failed(ctx, sl, err)
	}
	sl.state = slotRunning
	s.setProc(sl, p, nil)
	s.emit(Started{About: s.about(sl), Incarnation: inc})
	return nil
}

// noteUptime resets sl's backoff if the incarnation ending at now ran well: it marked
// itself healthy or ran for Config.ResetAfter. This is where health by uptime resets the
// backoff: the loop arms no timer for it (see nextDue) unless a breaker waits for it.
func (s *Supervisor) noteUptime(sl *slot, now time.Time) {
	if sl.healthy || now.Sub(sl.started) >= s.cfg.ResetAfter {
		sl.failures = 0
	}
}

// uptimeCloses reports whether health by uptime must be noticed when it comes rather than
// at the next failure: only a breaker that is not closed (half-open after its probe
// restart) counts a healthy incarnation as a success, and emits BreakerClosed when it
// closes. A closed breaker ignores successes, and the backoff's reset is lazy.
func (sl *slot) uptimeCloses() bool {
	return sl.breaker != nil && sl.breaker.GetState() != breaker.Closed
}

// markHealthy records that sl's incarnation is working: its backoff starts over and its
// breaker counts a success.
func (s *Supervisor) markHealthy(sl *slot) {
	sl.healthy = true
	sl.failures = 0
	if sl.breaker == nil {
		return
	}
	before := sl.breaker.GetState()
	_ = sl.breaker.Run(func() error { return nil })
	if before == breaker.HalfOpen && sl.breaker.GetState() == breaker.Closed {
		s.emit(BreakerClosed{About: s.about(sl)})
	}
}

// shutdown stops every child in reverse start order. A final (drain) shutdown discards
// their mailboxes and returns what unfinished reports for each child; otherwise they are
// suspended, with their queues, until a next incarnation of the supervisor resumes them
// (or whoever ran it discards them: see Start), and it returns nil.
func (s *Supervisor) shutdown(final bool) error {
	s.takedown = nil
	var errs []error
	slots := slices.Clone(s.slots)
	for i := len(slots) - 1; i >= 0; i-- {
		sl := slots[i]
		if sl.removing { // a removal under way: finished as Remove said, answered to it
			s.finishRemove(sl, s.stopChild(sl, true))
			continue
		}
		downErr := sl.downErr()
		err := s.stopChild(sl, final)
		if final {
			errs = append(errs, s.unfinished(sl, err, downErr, sl.discard()))
		} else {
			sl.ctl.Suspend(fmt.Errorf("%w: %q: %w", actor.ErrUnavailable, sl.name, ErrSupervisorDown))
		}
	}
	return errors.Join(errs...)
}

// unfinished says why a child's drain stop did not handle everything accepted for it:
// stopErr is how its drain stop ended, downErr how its previous incarnation ended (if it
// was down when the stop began), dropped how many queued messages went to OnDrop. It
// returns nil when nothing queued was left over and the child did not overrun its
// StopTimeout: a child that fails during its drain having handled everything is reported
// by its Exited event alone, and so is one whose OnDrop answered every sender
// (ChildSpec.DropsAnswered). A nested supervisor whose own drain was unfinished passes its
// report up.
func (s *Supervisor) unfinished(sl *slot, stopErr, downErr error, dropped int) error {
	if sl.dropsAnswered {
		dropped = 0 // each sender has its answer: nothing is left to report
	}
	var nested *unfinishedError
	var err error
	switch {
	case dropped == 0 && (errors.Is(stopErr, actor.ErrStopTimeout) || errors.As(stopErr, &nested)):
		err = fmt.Errorf("supervisor %q: drain stop of %q: %w", s.cfg.Name, sl.name, stopErr)
	case dropped == 0:
		return nil
	case stopErr != nil:
		err = fmt.Errorf("supervisor %q: drain stop of %q: %d queued messages went to OnDrop after %w", s.cfg.Name, sl.name, dropped, stopErr)
	case downErr != nil:
		err = fmt.Errorf("supervisor %q: drain stop of %q: %d queued messages went to OnDrop; it was down after %w", s.cfg.Name, sl.name, dropped, downErr)
	default:
		err = fmt.Errorf("supervisor %q: drain stop of %q: %d queued messages went to OnDrop; it did not drain them", s.cfg.Name, sl.name, dropped)
	}
	return &unfinishedError{err}
}

// downErr is how sl's last incarnation ended if sl is down (no incarnation running), else
// nil.
func (sl *slot) downErr() error {
	if sl.proc != nil {
		return nil
	}
	return sl.lastErr
}

// unfinishedError marks a report of unfinished's, so that a parent supervisor recognises
// it in its nested supervisor's exit error. It reads as the error it carries.
type unfinishedError struct{ error }

func (e *unfinishedError) Unwrap() error { return e.error }

// nextDue is when the earliest thing runDue does is due: a stop's deadline, a restart, a
// breaker probe, health by uptime where it closes a breaker; zero when nothing is. Health
// by uptime is otherwise not timed: what it does to the backoff, the failure count
// starting over, is applied at the next failure (noteUptime), so a supervisor whose
// children run and whose breakers are closed arms no alarm and never wakes.
func (s *Supervisor) nextDue() time.Time {
	var next time.Time
	for _, sl := range s.slots {
		if st := sl.stop; st != nil && !st.timedOut {
			next = actor.Earlier(next, st.deadline)
		}
		switch {
		case sl.state == slotWaiting && s.canStart(sl):
			next = actor.Earlier(next, sl.restartAt)
		case sl.state == slotBroken:
			next = actor.Earlier(next, sl.probeAt)
		case sl.state == slotRunning && !sl.healthy && sl.uptimeCloses():
			next = actor.Earlier(next, sl.healthyAt)
		}
	}
	return next
}

func (s *Supervisor) setProc(sl *slot, p *actor.Process, err error) {
	s.mu.Lock()
	sl.proc = p
	if p == nil {
		sl.lastErr = err
	}
	s.mu.Unlock()
}

func (s *Supervisor) index(sl *slot) int {
	for i, o := range s.slots {
		if o == sl {
			return i
		}
	}
	return -1
}

func (s *Supervisor) about(sl *slot) About { return About{Supervisor: s.cfg.Name, Child: sl.name} }

func (s *Supervisor) emit(e Event) {
	s.cfg.Logger.Log(context.Background(), e.level(), e.String(), append([]any{"supervisor", s.cfg.Name}, e.attrs()...)...)
	if s.onEvent != nil {
		s.onEvent(e)
	}
}
