//go:build troupecheck

// The seam this test needs exists only in checked builds (seams_checked.go); the house
// test command builds with -tags troupecheck.

package broker

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/twmb/franz-go/pkg/kfake"
)

// endingConn is a connection whose reads, once armed, find the stream ended.
type endingConn struct {
	net.Conn
	armed *atomic.Bool
}

func (c *endingConn) Read(b []byte) (int, error) {
	if c.armed.Load() {
		return 0, io.EOF
	}
	return c.Conn.Read(b)
}

// The writer hands a call to the reader before it encodes the call, so that the reader
// is ready for its answer; a small batch of a produce request is copied from its owner's
// storage while it is encoded. A reader that fails the call in that window (here: the
// stream ends at once) must not complete it until the writer is done with it, or the
// owner would have its storage back while the writer still reads it.
//
// The test stops the writer in the window (the handedOver hook) until every other
// goroutine of the bubble is durably blocked: the reader has taken the call and failed it
// by then, and either waits for the writing token or has completed the call.
func TestReaderCompletesAHandedOverCallOnlyAfterTheWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vn := &kfake.VirtualNetwork{}
		cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9092), kfake.ListenFn(vn.Listen))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()

		var armed atomic.Bool
		// What the writer found in the window: whether the call had completed.
		inWindow := make(chan bool, 1)
		cfg := Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := vn.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &endingConn{Conn: nc, armed: &armed}, nil
		}}
		cfg.seams.handedOver = func(call *Call) {
			if !armed.Load() {
				return
			}
			synctest.Wait()
			inWindow <- call.finished.Load()
		}
		pool, err := NewPool(cfg)
		if err != nil {
			t.Fatal(err)
		}
		proc := pool.Start(context.Background())
		defer func() {
			if err := proc.Stop(context.Background()); err != nil {
				t.Errorf("stopping the pool: %v", err)
			}
		}()
		h, err := pool.Conn(Node{ID: -1, Addr: cl.ListenAddrs()[0]}, Admin)
		if err != nil {
			t.Fatal(err)
		}
		var req api.MetadataRequest
		req.Default()
		if _, err := h.Do(context.Background(), &req); err != nil { // connected: the handshake is done
			t.Fatal(err)
		}

		armed.Store(true)
		done := make(chan *Call, 1)
		call := &Call{Request: &req, Done: func(c *Call) { done <- c }}
		if err := h.Send(context.Background(), call); err != nil {
			t.Fatal(err)
		}
		c := <-done
		armed.Store(false)
		// (A writer that never reaches the window leaves this receive blocked with the
		// whole bubble, which synctest reports as a deadlock.)
		if <-inWindow {
			t.Fatal("the reader completed the call while the writer had yet to encode it")
		}
		if !errors.Is(c.Err, ErrNetwork) {
			t.Fatalf("the call failed with %v, want ErrNetwork (the stream ended)", c.Err)
		}
	})
}
