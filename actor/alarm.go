package actor

import "time"

// Alarm is the one timer of an actor's loop: set, each time round the loop, for the
// earliest thing due, and selected on together with the mailbox.
//
//	var alarm actor.Alarm
//	defer alarm.Stop()
//	for {
//		alarm.Set(actor.Earlier(core.nextFlush(), core.nextRetry()))
//		select {
//		case <-in.Ready(): ...
//		case <-alarm.C(): ... // act on what is due at time.Now()
//		}
//	}
//
// It replaces the hand-rolled time.NewTimer(time.Hour) / Stop / Reset(max(d, 0)) dance:
// the zero value is ready and disarmed, the zero time means "nothing due", a time already
// passed rings at once, and setting the time it is already set for (still ahead) costs
// nothing, so a loop that wakes for messages does not touch the timer. It never delivers
// a stale ring: after Set or Stop returns, C rings only for the time last set (the
// time.Timer guarantee since Go 1.23).
//
// An Alarm belongs to the loop that sets it; it is not safe for concurrent use. Its
// owner stops it when the loop ends.
type Alarm struct {
	t  *time.Timer
	at time.Time // what it is set for; zero when disarmed
}

// Set arms the alarm to ring at at, in place of whatever it was set for; the zero time
// disarms it. A time that has passed rings at once.
func (a *Alarm) Set(at time.Time) {
	switch {
	case at.IsZero():
		a.Stop()
	case at.Equal(a.at) && at.After(time.Now()):
		// Already set for it, and it has not rung.
	case a.t == nil:
		a.t = time.NewTimer(time.Until(at))
		a.at = at
	default:
		a.t.Reset(max(time.Until(at), 0))
		a.at = at
	}
}

// C is the channel to select on: it receives once the time set has come. It is nil (a
// select never picks it) while the alarm is disarmed.
func (a *Alarm) C() <-chan time.Time {
	if a.at.IsZero() {
		return nil
	}
	return a.t.C
}

// At is the time the alarm is set for; zero when it is disarmed.
func (a *Alarm) At() time.Time { return a.at }

// Stop disarms the alarm. It may be set again afterwards.
func (a *Alarm) Stop() {
	if a.t != nil {
		a.t.Stop()
	}
	a.at = time.Time{}
}

// Earlier returns the earlier of two due times, where the zero time means "nothing due":
// it is the other one, so that a loop can fold any number of candidates,
// next = Earlier(next, t), starting from the zero time.
func Earlier(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
