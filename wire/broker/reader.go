package broker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
)

// reader is a connection's structured reading goroutine. It takes the in-flight calls in
// the order they were written (Kafka answers in order on a connection), reads each one's
// response before its deadline, decodes it and completes the call.
//
// Owner: the conn incarnation that started it, which closes the socket to stop it and
// waits for done before returning. On any failure it completes the call it was reading
// with the error, records the error, and exits; the conn fails the rest.
type reader struct {
	name     string
	nc       net.Conn
	inflight <-chan *Call
	slots    <-chan struct{} // a token back per call answered (conn.slots)
	writing  chan struct{}   // the writer holds its token while calls it handed over are unwritten
	maxBytes int
	noSASL   bool // the connection did not authenticate: a close before any answer hints at SASL
	answered bool // a response has been read

	done chan struct{} // closed when run returns
	err  error         // why it stopped (nil: the in-flight queue was closed and emptied)
}

func (r *reader) run() {
	defer close(r.done)
	for call := range r.inflight {
		if call.barrier != nil {
			close(call.barrier) // nothing before it is unanswered; the writer has the socket
			continue
		}
		if err := r.read(call); err != nil {
			r.err = err
			return
		}
		<-r.slots
	}
}

// failed closes the socket before the failing call completes, so that whoever reacts to
// that completion finds the connection closed: the writer's next write fails at once,
// with nothing written, and its calls go to the next connection instead. The reader
// takes a call as soon as it is handed over, before it is encoded and written: the call
// completes only once the writer gives up the writing token, which it holds until
// everything it handed over has been written (closing the socket ends a write under
// way), so that its record batches, written from their own storage, are not handed back
// to their owner while the writer or the kernel may still read them.
func (r *reader) failed(call *Call, err *Error) error {
	_ = r.nc.Close()
	r.writing <- struct{}{} // a channel, not a mutex: waiting on it is durable under testing/synctest
	<-r.writing
	call.finish(err)
	return err
}

// read reads and decodes call's response. A failure to read is the connection's failure:
// it is returned after failing call. A decode failure also breaks the connection: after a
// response that cannot be parsed, the stream cannot be trusted.
func (r *reader) read(call *Call) error {
	key := call.Request.APIKey()
	_ = r.nc.SetReadDeadline(call.deadline)
	// Each response gets a buffer of its own, the call's Frame if it is large enough, else
	// a fresh one: the decoded response aliases it (record batches in a fetch response
	// are read in place), so the connection never reuses it.
	body, err := codec.ReadFrame(r.nc, call.Frame, r.maxBytes)
	if err != nil {
		kind := ErrNetwork
		if errors.Is(err, os.ErrDeadlineExceeded) {
			kind = ErrRequestTimeout
		} else if errors.Is(err, codec.ErrFrameTooLarge) || errors.Is(err, codec.ErrInvalidLength) {
			kind = ErrProtocol
		} else if errors.Is(err, io.EOF) && r.noSASL && !r.answered {
			err = fmt.Errorf("broker closed the connection before answering the first request after ApiVersions (the broker may require SASL): %w", err)
		} else if errors.Is(err, io.EOF) {
			err = fmt.Errorf("broker closed the connection: %w", err)
		}
		return r.failed(call, &Error{Broker: r.name, Key: key, Sent: true, Err: fmt.Errorf("%w: %w", kind, err)})
	}
	call.Frame = body
	resp := call.Response
	if resp == nil {
		if resp, err = api.NewResponse(key); err != nil {
			return r.failed(call, &Error{Broker: r.name, Key: key, Sent: true, Err: fmt.Errorf("%w: %w", ErrProtocol, err)})
		}
		call.Response = resp
	}
	if err := api.ReadResponse(body, resp, call.Version, call.corr); err != nil {
		return r.failed(call, &Error{Broker: r.name, Key: key, Sent: true, Err: fmt.Errorf("%w: %w", ErrProtocol, err)})
	}
	r.answered = true
	call.finish(nil)
	return nil
}
