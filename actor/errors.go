package actor

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by sends. They are sentinel values (no allocation on the send path), so a
// sender that sees one many times a second pays nothing for it.
var (
	// ErrFull is returned by a non-blocking send, or by any send to a mailbox whose
	// overflow policy is Fail, when the mailbox holds its capacity. The message was not
	// accepted and still belongs to the sender.
	ErrFull = errors.New("actor: mailbox full")

	// ErrStopped is returned by sends to a mailbox that is closed (its actor was stopped
	// or has exited) and by Ask when the target stopped before replying. The message was
	// not accepted and still belongs to the sender.
	ErrStopped = errors.New("actor: stopped")

	// ErrUnavailable is wrapped by the error returned from sends to a mailbox that its
	// supervisor has suspended, for example while the actor's circuit breaker is open.
	// Callers can route around the actor and retry later; queued messages are kept.
	ErrUnavailable = errors.New("actor: unavailable")

	// ErrPanic is matched (errors.Is) by the *PanicError an actor's Run is turned into
	// when it panics.
	ErrPanic = errors.New("actor: panic")

	// ErrStopTimeout is matched (errors.Is) by the *StopTimeoutError returned when an
	// actor does not finish within the deadline of its stop.
	ErrStopTimeout = errors.New("actor: stop timed out")
)

// PanicError is the error an actor exits with when its Run (or its exit hook) panics.
// It carries the panic value and the stack of the panicking goroutine. Its message is one
// line, naming the actor and the value; the stack stays on the value (Stack), and the
// actor's "actor failed" log record carries it as the attribute "stack".
type PanicError struct {
	Actor string // name of the actor that panicked
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the time of the panic
}

// Error reads "actor NAME panicked: VALUE", on one line.
func (e *PanicError) Error() string {
	return fmt.Sprintf("actor %q panicked: %v", e.Actor, e.Value)
}

// Is reports whether target is ErrPanic.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Unwrap returns the panic value when it is an error, so errors.Is sees through a
// panic(err).
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// StopTimeoutError reports that an actor did not exit within the deadline of a stop. The
// actor has been cancelled when this is returned, but its goroutine may still be running:
// it ignores its context.
type StopTimeoutError struct {
	Actor   string        // name of the actor that did not stop
	Waited  time.Duration // how long the stop waited
	Drained bool          // whether the stop was a drain stop (Stop) rather than a cancel
	Cause   error         // why the wait ended (the stop context's cause)
}

func (e *StopTimeoutError) Error() string {
	kind := "cancel"
	if e.Drained {
		kind = "drain"
	}
	return fmt.Sprintf("actor %q did not stop within %v (%s stop): %v", e.Actor, e.Waited, kind, e.Cause)
}

// Is reports whether target is ErrStopTimeout.
func (e *StopTimeoutError) Is(target error) bool { return target == ErrStopTimeout }

// Unwrap returns the cause, typically context.DeadlineExceeded.
func (e *StopTimeoutError) Unwrap() error { return e.Cause }
