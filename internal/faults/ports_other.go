//go:build !unix

package faults

import (
	"fmt"
	"net"
)

// holdsWhileStopped: a reservation here listens, so a stopped broker's port is let go
// (a listening reservation would queue connections that a stopped broker refuses).
const holdsWhileStopped = false

// reservation holds a port on 127.0.0.1 with a listener: without the unix sockets API,
// a port cannot be held bound and refusing connections, so a reservation listens from
// the start (connections to it wait in its backlog until the broker takes it over).
type reservation struct {
	l    net.Listener
	port int
}

// reserve listens on 127.0.0.1:port (0: a free port, chosen by the kernel).
func reserve(port int) (*reservation, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("faults: holding 127.0.0.1:%d: %w", port, err)
	}
	return &reservation{l: l, port: l.Addr().(*net.TCPAddr).Port}, nil
}

// listen hands the listener over; the reservation is used up.
func (r *reservation) listen() (net.Listener, error) {
	l := r.l
	r.l = nil
	return l, nil
}

// close lets the port go, unless listen already did.
func (r *reservation) close() {
	if r.l != nil {
		r.l.Close()
		r.l = nil
	}
}
