package broker

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/wire/api"
)

// Call is one request to a broker and, once done, its outcome. The caller fills in the
// request fields and hands the Call to a connection (Handle.Send); the connection fills in
// the outcome and calls Done exactly once, unless Send returned an error, in which case
// Done is never called and the Call still belongs to the caller.
//
// Between Send and Done the Call belongs to the connection: the caller must not touch it.
type Call struct {
	// Request is what to send. Required.
	Request api.Request
	// Response, if set, is decoded into; otherwise the connection makes one of the
	// request's type. Its byte slices alias the response frame (Frame), which the
	// connection never reuses.
	Response api.Response
	// Frame, if its capacity holds the response, is the buffer the response is read into;
	// otherwise the connection allocates one of exactly the response's size. Before Done,
	// the connection sets Frame to the buffer that holds the response. A caller that
	// recycles buffers this way must not hand one out again while anything decoded from
	// it is in use, nor while the call may still be read: after Abandon, the connection
	// may still read the response into Frame.
	Frame []byte
	// VersionCap, if positive, is the highest version to send the request at; the
	// connection uses the highest version both sides speak, up to the cap.
	VersionCap int16
	// Prepare, if set, is called with the version chosen for the request, on the
	// connection's goroutine, before the request is validated and encoded — again with
	// the next connection's version if the call is sent again after a reconnect. It
	// adapts a request whose fields differ by version (a topic named by name, or by ID
	// from Produce v13). An error fails the call as not sent.
	Prepare func(version int16) error
	// Deadline bounds the whole call: waiting to be written, and the response. Zero means
	// the connection's Config.RequestTimeout from when the call is written.
	Deadline time.Time
	// NoResponse marks a request the broker does not answer (a produce with acks=0): the
	// call is done, successfully, once it is written.
	NoResponse bool
	// Done is called once the call is over, on one of the connection's goroutines, with
	// Version, Response and Err set. It must not block: hand the Call to an actor's
	// mailbox (sized for the caller's in-flight calls) or a buffered channel.
	Done func(*Call)

	// Version is the version the request was sent at (set before Done).
	Version int16
	// Err is nil if Response holds the broker's answer. Otherwise it is a *Error that
	// says, with errors.Is(err, ErrMaybeSent) or ErrNotSent, whether the request may have
	// reached the broker.
	Err error

	// Written by the connection before the call reaches its reader.
	corr      int32
	deadline  time.Time
	sent      atomic.Bool // some of the request's bytes were written
	finished  atomic.Bool // Done has been called
	abandoned atomic.Bool // the caller no longer wants it (Abandon)
	// barrier, set only on the connection's own marker calls, is closed by the reader
	// when it reaches the marker: every call written before it has been answered.
	barrier chan struct{}
}

// Abandon tells the connection that the caller no longer wants the call's outcome: a
// caller that stopped (a consumer of a partition that moved elsewhere, say) leaves its
// request behind. If the call has not been written yet, the connection finishes it as not
// sent, with ErrAbandoned, instead of writing it, so that a call nobody waits for takes
// neither the connection's time nor a pipelining slot (a long-polling fetch would hold
// both for its whole wait). Once written it runs its course: a response can only be
// skipped by reading it. Either way Done is still called exactly once. Abandon may be
// called from any goroutine, at any time after Send, and more than once.
func (c *Call) Abandon() { c.abandoned.Store(true) }

// finish records the outcome and calls Done. The connection calls it once per call; the
// guard makes a second call a no-op rather than a second outcome.
func (c *Call) finish(err error) {
	if !c.finished.CompareAndSwap(false, true) {
		return
	}
	c.Err = err
	if c.Done != nil {
		c.Done(c)
	}
}

// Errors a Call can fail with. Every failure is a *Error that matches exactly one of
// ErrNotSent and ErrMaybeSent, and one of the causes below or a protocol error.
var (
	// ErrNotSent: the request definitely did not reach the broker.
	ErrNotSent = errors.New("broker: request not sent")
	// ErrMaybeSent: the request may have reached the broker (and been acted on) though
	// no response came back.
	ErrMaybeSent = errors.New("broker: request may have been sent")

	// ErrNetwork: dialing, writing or reading failed, or the broker closed the
	// connection. Retriable.
	ErrNetwork = errors.New("broker: network error")
	// ErrRequestTimeout: the call's deadline passed before its response came. The
	// connection is closed (a response can only be skipped by reading it). Retriable.
	ErrRequestTimeout = errors.New("broker: request timed out")
	// ErrConnStopped: the connection was stopped (its broker left the cluster, or the
	// client is closing). Retriable elsewhere.
	ErrConnStopped = errors.New("broker: connection stopped")
	// ErrProtocol: the response could not be decoded, or did not match the request.
	// The connection is closed. Retriable on a new connection.
	ErrProtocol = errors.New("broker: protocol error")
	// ErrAbandoned: the caller abandoned the call (Call.Abandon) before it was written.
	// The call was not sent. Not retriable: nobody wants it.
	ErrAbandoned = errors.New("broker: call abandoned")
)

// Error is how a Call, or a connection, fails.
type Error struct {
	Broker string  // the connection's name: node, purpose and address
	Key    api.Key // the request's API key (-1 for a connection-level failure)
	Sent   bool    // whether the request may have reached the broker
	Err    error   // the cause: ErrNetwork, ErrRequestTimeout, ... wrapping the I/O error
}

func (e *Error) Error() string {
	sent := "not sent"
	if e.Sent {
		sent = "may have been sent"
	}
	cause := withoutPrefix(e.Err)
	if e.Key < 0 {
		return fmt.Sprintf("broker %s: %s", e.Broker, cause)
	}
	return fmt.Sprintf("broker %s: %v (%s): %s", e.Broker, e.Key, sent, cause)
}

// withoutPrefix is err's message without the "broker: " of this package's sentinels
// (ErrNetwork, ...), for messages that name the broker already: each says it once.
func withoutPrefix(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.TrimPrefix(err.Error(), "broker: ")
}

// Is matches ErrMaybeSent when the request may have been sent and ErrNotSent otherwise.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrMaybeSent:
		return e.Sent
	case ErrNotSent:
		return !e.Sent
	}
	return false
}

func (e *Error) Unwrap() error { return e.Err }

// Retriable reports whether a call that failed with err may succeed if sent again, here
// or to another broker: network failures, timeouts, stopped or unavailable connections —
// unless the cause is permanent (it matches ErrPermanent). Kafka error codes inside a
// response are judged by package errcode, not here.
func Retriable(err error) bool {
	if errors.Is(err, ErrPermanent) {
		return false
	}
	return errors.Is(err, ErrNetwork) || errors.Is(err, ErrRequestTimeout) ||
		errors.Is(err, ErrConnStopped) || errors.Is(err, errUnavailable)
}
