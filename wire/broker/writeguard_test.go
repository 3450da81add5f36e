package broker_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/twmb/franz-go/pkg/kfake"
)

// stuckConn is a connection whose writes, once armed, hang until it is closed, and then
// return only once the call under test has completed or a grace period has passed: a
// write still under way when its call completes shows up as completed-before-returned.
type stuckConn struct {
	net.Conn
	armed     *atomic.Bool
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

func (c *stuckConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return c.Conn.Close()
}

// A call that fails while it is still being written (its deadline passes, the reader
// gives up on it and closes the socket) completes only after the write has returned:
// the batches of a produce request are written from their owner's storage, which must
// not be handed back while the kernel may still read it.
func TestFailedCallCompletesOnlyAfterItsWriteReturns(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	var armed, early atomic.Bool
	completed := make(chan struct{})
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stuckConn{Conn: nc, armed: &armed, closed: make(chan struct{}), completed: completed, early: &early}, nil
	}
	p := startPool(t, broker.Config{Dial: dial})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	if _, err := h.Do(ctxT(t), metadataReq()); err != nil { // connected, handshake done
		t.Fatal(err)
	}
	armed.Store(true)
	done := make(chan *broker.Call, 1)
	call := &broker.Call{Request: metadataReq(), Deadline: time.Now().Add(100 * time.Millisecond),
		Done: func(c *broker.Call) { close(completed); done <- c }}
	if err := h.Send(ctxT(t), call); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-done:
		if !errors.Is(c.Err, broker.ErrRequestTimeout) {
			t.Fatalf("the stuck call failed with %v, want a request timeout", c.Err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stuck call never completed")
	}
	if early.Load() {
		t.Fatal("the call completed while its write was still under way")
	}
	armed.Store(false)
}
