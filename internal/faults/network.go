package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DialFunc opens a connection; it has the signature of net.Dialer.DialContext, of kfake's
// VirtualNetwork.DialContext and of troupe's broker.DialFunc.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Network injects the faults of Toxic into the connections opened through its Dial, which
// wraps another dial function: give Dial to the client (troupe's broker.Config.Dial,
// kgo.Dialer) and every connection it opens to a broker passes through the faults. It
// works the same on real sockets (a net.Dialer's connections to brokers on 127.0.0.1) and
// on kfake's in-memory VirtualNetwork under testing/synctest: every wait it adds (a
// latency, a cut's delay, a stall's close) is a time.Sleep or time.AfterFunc, so in a
// bubble it runs on the bubble's fake clock and takes no real time.
//
// The faults act on the client's side of each connection, as the client reads and writes
// it; the broker sees their effects (a request that never arrives, a connection reset).
// Connections to addresses whose port is not a broker's pass through untouched.
type Network struct {
	dial  DialFunc
	ports map[int]int // broker port -> node

	// Logf, if set, is told what the faults do to connections (data swallowed,
	// connections closed). Set it before the first Dial; it must be safe for concurrent
	// use.
	Logf func(format string, args ...any)

	mu    sync.Mutex
	nodes []*netNode
}

type netNode struct {
	down bool
	// downs counts the times the node went down: a dial that saw another count when it
	// began was open across a Down (and perhaps its Heal) and is refused, as a broker
	// that went down closes what it had.
	downs  int
	toxics []Toxic
	conns  map[*faultConn]struct{}
}

// ErrRefused is what Dial returns for a broker that is down. The error also matches
// syscall.ECONNREFUSED, as a refused dial on a real socket does.
var ErrRefused = errors.New("faults: connection refused (broker down)")

// errReset is what reads and writes return on a connection a fault closed.
var errReset = errors.New("faults: connection reset")

// NewNetwork returns a Network for the brokers listening on ports (node i on ports[i]),
// opening connections with dial; nil means a net.Dialer's.
func NewNetwork(dial DialFunc, ports []int) *Network {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nw := &Network{dial: dial, ports: make(map[int]int, len(ports))}
	for i, p := range ports {
		nw.ports[p] = i
		nw.nodes = append(nw.nodes, &netNode{conns: make(map[*faultConn]struct{})})
	}
	return nw
}

// Dial opens a connection through the network's faults. A broker that is down refuses
// it.
func (nw *Network) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	node := nw.nodeOf(address)
	if node < 0 {
		return nw.dial(ctx, network, address)
	}
	nw.mu.Lock()
	down, downs := nw.nodes[node].down, nw.nodes[node].downs
	nw.mu.Unlock()
	if down {
		return nil, refused(address)
	}
	c, err := nw.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	fc := &faultConn{Conn: c, nw: nw, node: node, addr: address}
	nw.mu.Lock()
	defer nw.mu.Unlock()
	// Down while dialing, or down and healed again: the connection may reach a broker
	// that has gone since (kfake's RemoveNode leaves the connections its broker accepted
	// open, answering as a broker outside the cluster; the Down that goes with it is
	// what closes them), so it goes the way of the connections the Down closed.
	if nd := nw.nodes[node]; nd.down || nd.downs != downs {
		c.Close()
		return nil, refused(address)
	}
	nw.nodes[node].conns[fc] = struct{}{}
	return fc, nil
}

func refused(address string) error {
	return fmt.Errorf("dial %s: %w: %w", address, ErrRefused, syscall.ECONNREFUSED)
}

func (nw *Network) nodeOf(address string) int {
	_, p, err := net.SplitHostPort(address)
	if err != nil {
		return -1
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return -1
	}
	node, ok := nw.ports[port]
	if !ok {
		return -1
	}
	return node
}

// Inject adds t to node's path. Down closes node's connections and refuses new ones.
func (nw *Network) Inject(node int, t Toxic) error {
	if node < 0 || node >= len(nw.nodes) {
		return fmt.Errorf("faults: no node %d", node)
	}
	nw.mu.Lock()
	nd := nw.nodes[node]
	var doomed []*faultConn
	if t.Kind == Down {
		nd.down = true
		nd.downs++
		for c := range nd.conns {
			doomed = append(doomed, c)
		}
	} else {
		nd.toxics = append(nd.toxics, t)
	}
	nw.mu.Unlock()
	for _, c := range doomed {
		c.kill()
	}
	return nil
}

// Heal removes node's toxics and brings it up. Connections that lost data to a Reset or
// a Timeout are closed now if they were not yet; the others stay up.
func (nw *Network) Heal(node int) error {
	if node < 0 || node >= len(nw.nodes) {
		return fmt.Errorf("faults: no node %d", node)
	}
	nw.mu.Lock()
	nd := nw.nodes[node]
	nd.down = false
	nd.toxics = nil
	var doomed []*faultConn
	for c := range nd.conns {
		if c.holed() {
			doomed = append(doomed, c)
		}
	}
	nw.mu.Unlock()
	for _, c := range doomed {
		c.kill()
	}
	return nil
}

// HealAll heals every node.
func (nw *Network) HealAll() {
	for i := range nw.nodes {
		_ = nw.Heal(i)
	}
}

// toxics returns the toxics that apply to data flowing in dir on node now.
func (nw *Network) toxicsFor(node int, dir Direction) []Toxic {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	var out []Toxic
	for _, t := range nw.nodes[node].toxics {
		if t.Dir == dir {
			out = append(out, t)
		}
	}
	return out
}

func (nw *Network) forget(c *faultConn) {
	nw.mu.Lock()
	delete(nw.nodes[c.node].conns, c)
	nw.mu.Unlock()
}

// faultConn is one connection through the Network: it applies its node's toxics to each
// read (downstream) and write (upstream).
type faultConn struct {
	net.Conn
	nw   *Network
	node int
	addr string

	mu     sync.Mutex
	hole   bool        // data was swallowed: the stream is broken
	closer *time.Timer // a pending close (Reset, Timeout)
	dead   bool
}

func (c *faultConn) logf(format string, args ...any) {
	if c.nw.Logf != nil {
		c.nw.Logf("fault on %s (node %d): "+format, append([]any{c.addr, c.node}, args...)...)
	}
}

// kill closes the connection now, abruptly: on a TCP socket with a reset (linger 0), so
// the broker's side fails as under a peer's reset, not as under an orderly close.
func (c *faultConn) kill() {
	c.logf("connection closed")
	c.mu.Lock()
	c.dead = true
	if c.closer != nil {
		c.closer.Stop()
	}
	c.mu.Unlock()
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
	c.Conn.Close()
}

// closeAfter closes the connection after d, unless a close is already pending.
func (c *faultConn) closeAfter(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closer != nil || c.dead {
		return
	}
	c.closer = time.AfterFunc(d, c.kill)
}

func (c *faultConn) swallow() {
	c.mu.Lock()
	c.hole = true
	c.mu.Unlock()
}

func (c *faultConn) holed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hole
}

func (c *faultConn) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// Write applies the upstream toxics to a request's bytes: a latency delays them; a reset
// swallows them and closes the connection after its delay; a timeout swallows them and
// closes it after its delay. A swallowed write reports success, as a write into a socket
// buffer does: the client learns of the loss when the connection closes.
func (c *faultConn) Write(b []byte) (int, error) {
	for _, t := range c.nw.toxicsFor(c.node, Upstream) {
		switch t.Kind {
		case Latency:
			time.Sleep(t.Delay)
		case Reset, Timeout:
			c.logf("%d bytes to the broker swallowed (%v); closing in %v", len(b), t.Kind, t.Delay)
			c.swallow()
			c.closeAfter(t.Delay)
			return len(b), nil
		}
	}
	if c.isDead() {
		return 0, errReset
	}
	return c.Conn.Write(b)
}

// Read applies the downstream toxics to a response's bytes as they arrive: a latency
// delays them; a reset drops them and closes the connection after its delay; a timeout
// drops them (and everything after) and closes the connection after its delay.
func (c *faultConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if n == 0 {
			if err != nil && c.isDead() {
				err = errReset
			}
			return n, err
		}
		swallowed := false
		for _, t := range c.nw.toxicsFor(c.node, Downstream) {
			switch t.Kind {
			case Latency:
				time.Sleep(t.Delay)
			case Reset:
				c.logf("%d bytes from the broker swallowed (reset); closing in %v", n, t.Delay)
				c.swallow()
				time.Sleep(t.Delay)
				c.kill()
				return 0, errReset
			case Timeout:
				c.logf("%d bytes from the broker swallowed (timeout); closing in %v", n, t.Delay)
				c.swallow()
				c.closeAfter(t.Delay)
				swallowed = true
			}
			if swallowed {
				break
			}
		}
		if !swallowed {
			return n, err
		}
		if err != nil {
			return 0, err
		}
	}
}

// Close closes the connection and forgets it.
func (c *faultConn) Close() error {
	c.mu.Lock()
	c.dead = true
	if c.closer != nil {
		c.closer.Stop()
	}
	c.mu.Unlock()
	c.nw.forget(c)
	return c.Conn.Close()
}
