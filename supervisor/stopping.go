package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/actorhook"
)

// A running supervisor stops a child without waiting for it: the loop begins the stop
// (a drain or cancel stop that does not wait, through internal/actorhook) and goes on serving its other children's exits,
// restarts, breakers and health, and its own requests. The stop's end comes back to the
// loop as the child's exit notice (ctlExit, sent by its exit hook); its StopTimeout is a
// deadline on the loop's timer. Until the old incarnation has exited the slot is
// stopping: no new incarnation reads the mailbox, because two must never drain one.
//
// Two things stop children while the supervisor runs:
//   - the strategy (one-for-all, rest-for-one) takes down the siblings of a failed child:
//     the takedown stops them one at a time in reverse start order, each stop beginning
//     when the one before has ended or overrun its StopTimeout, and the children it took
//     down restart, in start order, only once it is over;
//   - Remove drain-stops the child; its answer is sent when the stop ends.
//
// The supervisor's own stop (shutdown) stays sequential and blocking: once it begins,
// nothing else is left to serve (no child is restarted, no request is taken), so waiting
// for each child in turn costs nothing, and it keeps the reverse order plain.

// stopping is a stop the loop has begun of a slot's incarnation.
type stopping struct {
	drain    bool // a drain stop (Remove); otherwise a cancel stop (the strategy)
	began    time.Time
	deadline time.Time // began + the child's StopTimeout
	timedOut bool      // the deadline passed; the child was cancelled and reported
}

// beginStop begins a stop of sl's running incarnation, unless it has exited or a stop of
// it is already under way. A child that overran an earlier stop gets a new deadline.
func (s *Supervisor) beginStop(sl *slot, drain bool, now time.Time) {
	p := sl.proc
	if p == nil || (sl.stop != nil && !sl.stop.timedOut) {
		return
	}
	sl.stop = &stopping{drain: drain, began: now, deadline: now.Add(sl.stopTimeout)}
	if drain {
		actorhook.Process(p).BeginStop()
	} else {
		actorhook.Process(p).BeginCancel()
	}
}

// stopEnded handles the exit of an incarnation the loop was stopping. A child that failed
// while it was being stopped is reported with an Exited event (unless its stop had timed
// out, which was reported already).
func (s *Supervisor) stopEnded(sl *slot) {
	st, err := sl.stop, sl.proc.Err()
	sl.stop = nil
	s.setProc(sl, nil, err)
	if err != nil && !st.timedOut {
		s.emit(Exited{About: s.about(sl), Err: err, Uptime: time.Since(sl.started)})
	}
	if sl.removing {
		s.finishRemove(sl, err)
	}
}

// overdue reports every stop whose deadline has passed at now and cancels its child. The
// slot stays stopping until the child has really exited; a removal is finished at once,
// with the timeout as its error.
func (s *Supervisor) overdue(now time.Time) {
	for _, sl := range slices.Clone(s.slots) {
		st := sl.stop
		if st == nil || st.timedOut || now.Before(st.deadline) {
			continue
		}
		st.timedOut = true
		actorhook.Process(sl.proc).BeginCancel()
		err := &actor.StopTimeoutError{Actor: sl.name, Waited: now.Sub(st.began), Drained: st.drain, Cause: context.DeadlineExceeded}
		s.emit(StopTimedOut{About: s.about(sl), Err: err})
		if sl.removing {
			s.finishRemove(sl, err)
		}
	}
}

// advance carries the takedown on: it begins the next stop once the one before it has
// ended or timed out.
func (s *Supervisor) advance(now time.Time) {
	for len(s.takedown) > 0 {
		o := s.takedown[0]
		if o.stop == nil && !o.removed {
			s.beginStop(o, false, now)
		}
		if o.stop != nil && !o.stop.timedOut {
			return // under way
		}
		s.takedown = s.takedown[1:]
	}
	s.takedown = nil
}

// canStart says whether a new incarnation of sl may start now, its timing aside: the old
// one has exited, it is not being removed, and no takedown it waits for is under way.
func (s *Supervisor) canStart(sl *slot) bool {
	return sl.proc == nil && !sl.removing && !(sl.held && len(s.takedown) > 0)
}

// remove begins the removal of the named child: a drain stop, after which its mailbox is
// discarded, it is forgotten, and answer (with everyone else who asked) gets what
// unfinished reports. A child that is down is removed at once; one already being stopped
// is removed when that stop ends.
func (s *Supervisor) remove(name string, answer actor.Reply[struct{}], now time.Time) {
	s.mu.Lock()
	sl := s.names[name]
	s.mu.Unlock()
	if sl == nil {
		answer.Send(struct{}{}, fmt.Errorf("%w: %q under %q", ErrUnknownChild, name, s.cfg.Name))
		return
	}
	sl.removers = append(sl.removers, answer)
	if sl.removing {
		return
	}
	sl.removing = true
	sl.removeDown = sl.downErr()
	if sl.proc == nil {
		s.finishRemove(sl, nil)
		return
	}
	s.beginStop(sl, true, now)
}

// finishRemove discards sl's mailbox, forgets it and answers whoever asked for its
// removal; stopErr is how its stop ended.
func (s *Supervisor) finishRemove(sl *slot, stopErr error) {
	err := s.unfinished(sl, stopErr, sl.removeDown, sl.discard())
	s.forget(sl)
	for _, r := range sl.removers {
		r.Send(struct{}{}, err)
	}
	sl.removers = nil
}

// stopChild stops sl's incarnation, if it has one, and waits for it within its
// StopTimeout: a drain stop (final) or a cancel stop. Only the supervisor's own shutdown
// waits like this. A child that overruns is reported and left stopping (a zombie in
// sl.proc), never restarted while it could still drain the mailbox; one that fails while
// it is being stopped is reported with an Exited event.
func (s *Supervisor) stopChild(sl *slot, drain bool) error {
	p := sl.proc
	if p == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), sl.stopTimeout)
	defer cancel()
	var err error
	if drain {
		err = p.Stop(ctx)
	} else {
		err = p.Cancel(ctx)
	}
	if errors.Is(err, actor.ErrStopTimeout) {
		s.emit(StopTimedOut{About: s.about(sl), Err: err})
		sl.stop = &stopping{drain: drain, timedOut: true}
		return err
	}
	sl.stop = nil
	s.setProc(sl, nil, err)
	if err != nil {
		s.emit(Exited{About: s.about(sl), Err: err, Uptime: time.Since(sl.started)})
	}
	return err
}
