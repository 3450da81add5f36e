package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/twmb/franz-go/pkg/kfake"
)

// stuckConn is a connection that, once armed, hangs every write until it is closed, and
// then returns it only once the call under test has completed or a grace period has
// passed: a write still under way when its call completes shows up as
// completed-before-returned. Armed, its reads return what the fault reader holds instead
// of the broker's bytes (nothing: they go on reading the broker).
type stuckConn struct {
	net.Conn
	armed     *atomic.Bool
	fault     io.Reader // nil: armed reads read the socket
	closed    chan struct{}
	completed <-chan struct{}
	early     *atomic.Bool // the call completed while a write was still under way
}

func (c *stuckConn) Write(b []byte) (int, error) {
	if !c.armed.Load() {
		return c.Conn.Write(b)
	}
	<-c.closed
	select {
	case <-c.completed:
		c.early.Store(true)
	case <-time.After(200 * time.Millisecond):
	}
	return 0, net.ErrClosed
}

func (c *stuckConn) Read(b []byte) (int, error) {
	if c.armed.Load() && c.fault != nil {
		return c.fault.Read(b)
	}
	return c.Conn.Read(b)
}

func (c *stuckConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return c.Conn.Close()
}

// frame is a response frame: its length, then body.
func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// A call that fails while it is still being written completes only after the write has
// returned: the batches of a produce request are written from their owner's storage,
// which must not be handed back while the kernel may still read it. The reader fails a
// call on its deadline, on a response it cannot take, or on a broken stream; in each
// case it closes the socket, which ends the write, and waits for the write to return.
func TestFailedCallCompletesOnlyAfterItsWriteReturns(t *testing.T) {
	cases := []struct {
		name     string
		fault    func() io.Reader // what the armed connection reads; nil: the broker, which never answers
		deadline time.Duration
		want     error
	}{
		{name: "deadline", deadline: 100 * time.Millisecond, want: broker.ErrRequestTimeout},
		{
			name: "response to another request",
			fault: func() io.Reader { // correlation ID 0x7fffffff, then a body that is never reached
				return bytes.NewReader(frame([]byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}))
			},
			deadline: time.Minute, want: broker.ErrProtocol,
		},
		{
			name:     "frame larger than allowed",
			fault:    func() io.Reader { return bytes.NewReader([]byte{0x7f, 0xff, 0xff, 0xff}) },
			deadline: time.Minute, want: broker.ErrProtocol,
		},
		{
			name:     "stream ends",
			fault:    func() io.Reader { return bytes.NewReader(nil) },
			deadline: time.Minute, want: broker.ErrNetwork,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
			var armed, early atomic.Bool
			completed := make(chan struct{})
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				c := &stuckConn{Conn: nc, armed: &armed, closed: make(chan struct{}), completed: completed, early: &early}
				if tc.fault != nil {
					c.fault = tc.fault()
				}
				return c, nil
			}
			p := startPool(t, broker.Config{Dial: dial})
			h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
			if _, err := h.Do(ctxT(t), metadataReq()); err != nil { // connected, handshake done
				t.Fatal(err)
			}
			armed.Store(true)
			defer armed.Store(false)
			done := make(chan *broker.Call, 1)
			call := &broker.Call{Request: metadataReq(), Deadline: time.Now().Add(tc.deadline),
				Done: func(c *broker.Call) { close(completed); done <- c }}
			if err := h.Send(ctxT(t), call); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-done:
				if !errors.Is(c.Err, tc.want) {
					t.Fatalf("the stuck call failed with %v, want %v", c.Err, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the stuck call never completed")
			}
			if early.Load() {
				t.Fatal("the call completed while its write was still under way")
			}
		})
	}
}
