package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Event is something that happened in a supervisor: one of Started, Exited, Restarted,
// BreakerOpened, BreakerHalfOpen, BreakerClosed, IntensityExceeded and StopTimedOut.
// Switch on the concrete type; each embeds About, which names the supervisor and the
// child. It has the shape of troupe.Event (String and Source), so the Kafka components
// pass supervisor events on to their users as they are.
type Event interface {
	// Source names the actor the event is about as Children lists it: the child, or the
	// supervisor itself when there is no child.
	Source() string
	fmt.Stringer
	level() slog.Level
	attrs() []any
}

// About identifies the supervisor and child an event concerns; every event embeds it.
type About struct {
	Supervisor string // the supervisor the event comes from
	Child      string // the child it is about; "" when it is about the supervisor
}

// Source names the child the event is about, or the supervisor when there is none.
func (a About) Source() string {
	if a.Child == "" {
		return a.Supervisor
	}
	return a.Child
}

// Started: an incarnation of a child was started. Incarnation counts from 1.
type Started struct {
	About
	Incarnation int
}

// Exited: an incarnation of a child ended unasked, or failed while it was being stopped
// (a drain stop, or a cancel stop to restart it). Err is nil for a normal end.
type Exited struct {
	About
	Err    error
	Uptime time.Duration
}

// Restarted: a child was started again after Delay (its backoff), its Attempt-th
// consecutive restart.
type Restarted struct {
	About
	Attempt int
	Delay   time.Duration
}

// BreakerOpened: the child's breaker opened; restarts are suspended until Until and sends
// to the child fail fast.
type BreakerOpened struct {
	About
	Until time.Time
}

// BreakerHalfOpen: the child's breaker is half-open; one restart is let through.
type BreakerHalfOpen struct {
	About
}

// BreakerClosed: the child's breaker closed again after a healthy incarnation.
type BreakerClosed struct {
	About
}

// IntensityExceeded: more than Intensity restarts happened within Period; the supervisor
// stops its children and fails to its parent.
type IntensityExceeded struct {
	About
	Intensity int
	Period    time.Duration
}

// StopTimedOut: a child did not stop within its StopTimeout and was cancelled.
type StopTimedOut struct {
	About
	Err error
}

func (e Started) String() string {
	return fmt.Sprintf("%s: started %s (#%d)", e.Supervisor, e.Child, e.Incarnation)
}
func (e Exited) String() string {
	return fmt.Sprintf("%s: %s exited after %v: %v", e.Supervisor, e.Child, e.Uptime.Round(time.Millisecond), e.Err)
}
func (e Restarted) String() string {
	return fmt.Sprintf("%s: restarted %s (attempt %d, after %v)", e.Supervisor, e.Child, e.Attempt, e.Delay.Round(time.Millisecond))
}
func (e BreakerOpened) String() string {
	return fmt.Sprintf("%s: breaker of %s opened until %s", e.Supervisor, e.Child, e.Until.Format(time.TimeOnly))
}
func (e BreakerHalfOpen) String() string {
	return fmt.Sprintf("%s: breaker of %s half-open", e.Supervisor, e.Child)
}
func (e BreakerClosed) String() string {
	return fmt.Sprintf("%s: breaker of %s closed", e.Supervisor, e.Child)
}
func (e IntensityExceeded) String() string {
	return fmt.Sprintf("%s: more than %d restarts in %v; giving up", e.Supervisor, e.Intensity, e.Period)
}
func (e StopTimedOut) String() string {
	return fmt.Sprintf("%s: %s did not stop in time: %v", e.Supervisor, e.Child, e.Err)
}

func (e Started) level() slog.Level { return slog.LevelDebug }
func (e Exited) level() slog.Level {
	if e.Err != nil {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
func (e Restarted) level() slog.Level         { return slog.LevelInfo }
func (e BreakerOpened) level() slog.Level     { return slog.LevelWarn }
func (e BreakerHalfOpen) level() slog.Level   { return slog.LevelInfo }
func (e BreakerClosed) level() slog.Level     { return slog.LevelInfo }
func (e IntensityExceeded) level() slog.Level { return slog.LevelError }
func (e StopTimedOut) level() slog.Level      { return slog.LevelWarn }

func (e Started) attrs() []any { return []any{"child", e.Child, "incarnation", e.Incarnation} }
func (e Exited) attrs() []any  { return []any{"child", e.Child, "err", e.Err, "uptime", e.Uptime} }
func (e Restarted) attrs() []any {
	return []any{"child", e.Child, "attempt", e.Attempt, "delay", e.Delay}
}
func (e BreakerOpened) attrs() []any {
	return []any{"child", e.Child, "until", e.Until}
}
func (e BreakerHalfOpen) attrs() []any { return []any{"child", e.Child} }
func (e BreakerClosed) attrs() []any   { return []any{"child", e.Child} }
func (e IntensityExceeded) attrs() []any {
	return []any{"intensity", e.Intensity, "period", e.Period}
}
func (e StopTimedOut) attrs() []any { return []any{"child", e.Child, "err", e.Err} }

// ErrIntensity is matched by the error a supervisor fails with when its children fail
// faster than its Intensity allows.
var ErrIntensity = errors.New("supervisor: restart intensity exceeded")

// ErrBreakerOpen is matched, together with actor.ErrUnavailable, by the error sends to a
// child get while its circuit breaker is open. It is the breaker package's own value.
var ErrBreakerOpen = breakerErrOpen

// ErrSupervisorDown is matched, together with actor.ErrUnavailable, by the error sends to
// a child get while its supervisor is not running but may run again (it failed or was
// cancelled, and its parent may restart it). Queued messages are kept for the
// supervisor's next incarnation. Once a supervisor has ended for good (a top-level one,
// however it ended), its children's mailboxes are discarded: sends get actor.ErrStopped
// and what was queued has gone to OnDrop.
var ErrSupervisorDown = errors.New("supervisor: not running")
