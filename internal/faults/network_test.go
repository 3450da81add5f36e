package faults

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// echo serves an echo server on vn at port, recording what reaches it on got.
func echo(t *testing.T, vn *kfake.VirtualNetwork, port string, got chan<- string) {
	l, err := vn.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got <- string(buf[:n])
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
}

func TestNetworkFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		toxic Toxic
		check func(t *testing.T, c net.Conn, seen <-chan string)
	}{
		{"latency delays the answer", Toxic{Kind: Latency, Dir: Downstream, Delay: 100 * time.Millisecond}, func(t *testing.T, c net.Conn, seen <-chan string) {
			start := time.Now()
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("read %q, %v", buf, err)
			}
			if d := time.Since(start); d != 100*time.Millisecond {
				t.Fatalf("the answer took %v", d)
			}
		}},
		{"reset downstream: the request arrives, the answer is lost", Toxic{Kind: Reset, Dir: Downstream}, func(t *testing.T, c net.Conn, seen <-chan string) {
			c.Write([]byte("ping"))
			if got := <-seen; got != "ping" {
				t.Fatalf("the server got %q", got)
			}
			if n, err := c.Read(make([]byte, 4)); err == nil {
				t.Fatalf("read %d bytes of a lost answer", n)
			}
		}},
		{"reset upstream: the request is lost, the connection closes", Toxic{Kind: Reset, Dir: Upstream, Delay: 10 * time.Millisecond}, func(t *testing.T, c net.Conn, seen <-chan string) {
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatalf("a swallowed write failed: %v", err)
			}
			if n, err := c.Read(make([]byte, 4)); err == nil {
				t.Fatalf("read %d bytes", n)
			}
			select {
			case got := <-seen:
				t.Fatalf("the server got %q", got)
			default:
			}
		}},
		{"timeout: nothing comes back, the connection closes after the delay", Toxic{Kind: Timeout, Dir: Downstream, Delay: time.Second}, func(t *testing.T, c net.Conn, seen <-chan string) {
			start := time.Now()
			c.Write([]byte("ping"))
			if n, err := c.Read(make([]byte, 4)); err == nil {
				t.Fatalf("read %d bytes", n)
			}
			if d := time.Since(start); d != time.Second {
				t.Fatalf("closed after %v", d)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				vn := &kfake.VirtualNetwork{}
				seen := make(chan string, 10)
				echo(t, vn, "9092", seen)
				nw := NewNetwork(vn.DialContext, 9092, 1)
				c, err := nw.Dial(context.Background(), "tcp", "localhost:9092")
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := nw.Inject(0, tc.toxic); err != nil {
					t.Fatal(err)
				}
				tc.check(t, c, seen)
			})
		})
	}
}

func TestNetworkDownAndUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vn := &kfake.VirtualNetwork{}
		echo(t, vn, "9092", make(chan string, 10))
		nw := NewNetwork(vn.DialContext, 9092, 1)
		c, err := nw.Dial(context.Background(), "tcp", "localhost:9092")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		nw.Inject(0, Toxic{Kind: Down})
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a connection to a broker taken down still reads")
		}
		if _, err := nw.Dial(context.Background(), "tcp", "localhost:9092"); !errors.Is(err, ErrRefused) {
			t.Fatalf("dialing a broker that is down: %v", err)
		}
		nw.Heal(0)
		c2, err := nw.Dial(context.Background(), "tcp", "localhost:9092")
		if err != nil {
			t.Fatalf("after healing: %v", err)
		}
		c2.Close()
	})
}

// A connection that lost data to a timeout is closed when the fault heals: its byte
// stream has a hole.
func TestHealClosesConnectionsWithAHole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vn := &kfake.VirtualNetwork{}
		echo(t, vn, "9092", make(chan string, 10))
		nw := NewNetwork(vn.DialContext, 9092, 1)
		c, err := nw.Dial(context.Background(), "tcp", "localhost:9092")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		nw.Inject(0, Toxic{Kind: Timeout, Dir: Upstream, Delay: time.Hour})
		c.Write([]byte("lost"))
		nw.Heal(0)
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a connection with a hole survived the heal")
		}
	})
}
