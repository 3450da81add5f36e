package faults

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxies puts an in-process toxiproxy proxy in front of every broker of a kfake cluster.
// Pass its Listen to kfake as the ListenFn: each broker listens where kfake asks, and the
// listener kfake gets reports the proxy's address, so the cluster advertises the proxies
// in metadata and every connection a client makes passes through them. Proxies is an
// Injector whose node i is the broker whose listener was created i-th.
//
// A broker that listens again on a port it had before (the cluster restarted on the same
// ports, kfake's AddNode of a node removed earlier) gets its old proxy back, so clients
// find it at the address they knew.
type Proxies struct {
	server *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies []*proxy       // by node, in the order the brokers first listened
	byPort  map[int]*proxy // by the broker's own port
	closed  bool
}

type proxy struct {
	px       *toxiproxy.Proxy
	name     string
	upstream string // the broker's own address, behind the proxy
	port     int    // the broker's own port
	addr     *net.TCPAddr
	n        int  // toxics added so far, to name them
	toxics   int  // toxics added since the proxy was last replaced
	down     bool // disabled by a Down toxic
}

// NewProxies returns a set of proxies with no proxy yet; each Listen adds one. Close it
// when done.
func NewProxies() *Proxies {
	// toxiproxy logs with zerolog; Nop keeps the proxies quiet.
	return &Proxies{
		server: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		byPort: make(map[int]*proxy),
	}
}

// Listen listens at address (kfake passes "127.0.0.1:port", port 0 for any) and returns a
// listener whose Addr is its proxy's address. It has kfake's ListenFn signature.
func (ps *Proxies) Listen(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		l.Close()
		return nil, fmt.Errorf("faults: proxies closed")
	}
	p := ps.byPort[port]
	if p == nil {
		name := "broker-" + strconv.Itoa(len(ps.proxies))
		px := toxiproxy.NewProxy(ps.server, name, "127.0.0.1:0", l.Addr().String())
		if err := px.Start(); err != nil {
			l.Close()
			return nil, fmt.Errorf("faults: starting proxy %s: %w", name, err)
		}
		addr, err := net.ResolveTCPAddr("tcp", px.Listen)
		if err != nil {
			px.Stop()
			l.Close()
			return nil, err
		}
		p = &proxy{px: px, name: name, upstream: l.Addr().String(), port: port, addr: addr}
		ps.proxies = append(ps.proxies, p)
		ps.byPort[port] = p
	}
	return &proxiedListener{Listener: l, addr: p.addr}, nil
}

// proxiedListener is a broker's listener that reports its proxy's address.
type proxiedListener struct {
	net.Listener
	addr net.Addr
}

func (l *proxiedListener) Addr() net.Addr { return l.addr }

// Ports returns the brokers' own ports (behind the proxies) by node: what kfake.Ports
// takes to start the cluster again on the same ports.
func (ps *Proxies) Ports() []int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ports := make([]int, len(ps.proxies))
	for i, p := range ps.proxies {
		ports[i] = p.port
	}
	return ports
}

// Addrs returns the proxies' addresses by node: the addresses the cluster advertises.
func (ps *Proxies) Addrs() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	addrs := make([]string, len(ps.proxies))
	for i, p := range ps.proxies {
		addrs[i] = p.addr.String()
	}
	return addrs
}

func (ps *Proxies) node(node int) (*proxy, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if node < 0 || node >= len(ps.proxies) {
		return nil, fmt.Errorf("faults: no proxy for node %d (%d proxies)", node, len(ps.proxies))
	}
	return ps.proxies[node], nil
}

// Inject adds t to node's proxy: a toxiproxy toxic (reset_peer, timeout, latency), or for
// Down, the proxy disabled (its listener and connections closed).
func (ps *Proxies) Inject(node int, t Toxic) error {
	p, err := ps.node(node)
	if err != nil {
		return err
	}
	ps.mu.Lock() // serializes changes to one proxy's state
	defer ps.mu.Unlock()
	ms := t.Delay.Milliseconds()
	var typ, attrs string
	switch t.Kind {
	case Down:
		if !p.down {
			p.px.Stop()
			p.down = true
		}
		return nil
	case Reset:
		typ, attrs = "reset_peer", fmt.Sprintf(`{"timeout":%d}`, ms)
	case Timeout:
		// A timeout of 0 would never close the connection; every Timeout closes it.
		typ, attrs = "timeout", fmt.Sprintf(`{"timeout":%d}`, max(ms, 1))
	case Latency:
		typ, attrs = "latency", fmt.Sprintf(`{"latency":%d,"jitter":0}`, ms)
	default:
		return fmt.Errorf("faults: unknown toxic %v", t.Kind)
	}
	p.n++
	p.toxics++
	body := fmt.Sprintf(`{"name":"%s-%d","type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, typ, p.n, typ, t.Dir, attrs)
	if _, err := p.px.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		return fmt.Errorf("faults: adding %s to node %d: %w", body, node, err)
	}
	return nil
}

// Heal takes every toxic off node's proxy and enables it again if it was down. A proxy
// that had toxics is replaced rather than cleared: it is stopped, closing its connections
// (as a timeout toxic does anyway), and a fresh proxy without toxics listens at the same
// address. Toxics are never removed from a proxy with live connections, because
// toxiproxy v2.5.0 mishandles it: removing a timeout toxic from a link leaves the link's
// stages out of step with the toxic chain, so that a later AddToxic on that link panics
// (index out of range, link.go), and a removal can block forever on a stage stuck
// handing on its last chunk (see property_test's toxiproxyLeftovers).
func (ps *Proxies) Heal(node int) error {
	p, err := ps.node(node)
	if err != nil {
		return err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p.toxics == 0 && !p.down {
		return nil // nothing to heal: its connections stay up
	}
	if !p.down {
		p.px.Stop()
	}
	px := toxiproxy.NewProxy(ps.server, p.name, p.addr.String(), p.upstream)
	if err := px.Start(); err != nil {
		return fmt.Errorf("faults: replacing node %d's proxy: %w", node, err)
	}
	p.px, p.toxics, p.down = px, 0, false
	return nil
}

// HealAll heals every node.
func (ps *Proxies) HealAll() error {
	ps.mu.Lock()
	n := len(ps.proxies)
	ps.mu.Unlock()
	for i := range n {
		if err := ps.Heal(i); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every proxy, closing its listener and connections. Listen fails afterwards.
func (ps *Proxies) Close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.closed = true
	for _, p := range ps.proxies {
		p.px.Stop() // toxics are left on: removing them from live links is unsafe (Heal)
	}
}
