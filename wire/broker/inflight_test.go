package broker_test

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestPipeliningBound holds a fetch at the broker and sends more calls behind it: the
// connection never has more than MaxInflight requests written and unanswered (counted on
// the socket: request frames written against response frames read), and every call is
// answered once the broker lets go.
func TestPipeliningBound(t *testing.T) {
	const maxInflight = 2
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "z"))
	fetch, held, release := holdFetch(kc)
	var tap *frameTap
	var d net.Dialer
	p := startPool(t, broker.Config{MaxInflight: maxInflight, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tap = &frameTap{Conn: nc, wrote: make(chan struct{}, 1)}
		return tap, nil
	}})
	h, err := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	done := make(chan *broker.Call, 8)
	send := func(req api.Request) {
		if err := h.Send(ctx, &broker.Call{Request: req, VersionCap: 12, Done: func(c *broker.Call) { done <- c }}); err != nil {
			t.Fatal(err)
		}
	}
	send(fetch)
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the fetch did not reach the broker")
	}
	const behind = 4
	for range behind {
		send(metadataReq())
	}
	// ApiVersions, the fetch and one more: the connection is as full as it may be.
	for tap.counts().written < 3 {
		select {
		case <-tap.wrote:
		case <-ctx.Done():
			t.Fatalf("%d requests written, want 3", tap.counts().written)
		}
	}
	release()
	for i := range 1 + behind {
		select {
		case c := <-done:
			if c.Err != nil {
				t.Fatalf("call %d: %v", i, c.Err)
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d calls done", i, 1+behind)
		}
	}
	if c := tap.counts(); c.worst > maxInflight {
		t.Fatalf("%d requests were in flight at once, MaxInflight is %d", c.worst, maxInflight)
	}
}

// frameTap counts the Kafka frames written to and read from a connection, and the most
// requests written and not yet answered at any time.
type frameTap struct {
	net.Conn
	wrote chan struct{} // a token after each write that completed a frame

	mu         sync.Mutex
	wbuf, rbuf []byte
	c          tapCounts
}

type tapCounts struct{ written, read, worst int }

func (f *frameTap) counts() tapCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.c
}

func (f *frameTap) Write(p []byte) (int, error) {
	n, err := f.Conn.Write(p)
	f.mu.Lock()
	var frames int
	f.wbuf, frames = splitFrames(append(f.wbuf, p[:n]...))
	f.c.written += frames
	f.c.worst = max(f.c.worst, f.c.written-f.c.read)
	f.mu.Unlock()
	if frames > 0 {
		select {
		case f.wrote <- struct{}{}:
		default:
		}
	}
	return n, err
}

func (f *frameTap) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	f.mu.Lock()
	var frames int
	f.rbuf, frames = splitFrames(append(f.rbuf, p[:n]...))
	f.c.read += frames // before the reader can act on the response
	f.mu.Unlock()
	return n, err
}

// splitFrames drops the whole size-prefixed frames at the head of b and says how many.
func splitFrames(b []byte) ([]byte, int) {
	var n int
	for len(b) >= 4 {
		size := int(binary.BigEndian.Uint32(b))
		if len(b) < 4+size {
			break
		}
		b, n = b[4+size:], n+1
	}
	return b, n
}
