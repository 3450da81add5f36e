//go:build unix

package faults

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// holdsWhileStopped: a stopped broker's port is held by a reservation, which refuses
// connections as a closed port does.
const holdsWhileStopped = true

// reservation holds a port on 127.0.0.1 with a socket that is bound and does not listen:
// no other socket can bind the port, connections to it are refused as to a closed port
// (no listener answers), and the kernel does not hand it out as the local port of a
// connection. listen turns it into the broker's listener with nothing in between.
type reservation struct {
	fd   int
	port int
}

// reserve binds a socket to 127.0.0.1:port (0: a free port, chosen by the kernel).
func reserve(port int) (*reservation, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	syscall.CloseOnExec(fd)
	// As net.Listen does: a port a stopped broker's connections left in TIME_WAIT can be
	// bound again.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("setsockopt", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("faults: holding 127.0.0.1:%d: %w", port, os.NewSyscallError("bind", err))
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	return &reservation{fd: fd, port: sa.(*syscall.SockaddrInet4).Port}, nil
}

// listen makes the held socket listen and returns it as a net.Listener; the reservation
// is used up either way.
func (r *reservation) listen() (net.Listener, error) {
	defer r.close()
	if err := syscall.Listen(r.fd, syscall.SOMAXCONN); err != nil {
		return nil, os.NewSyscallError("listen", err)
	}
	f := os.NewFile(uintptr(r.fd), fmt.Sprintf("127.0.0.1:%d", r.port))
	defer f.Close()
	r.fd = -1 // f owns it now; FileListener dups it
	return net.FileListener(f)
}

// close lets the port go, unless listen already did.
func (r *reservation) close() {
	if r.fd >= 0 {
		syscall.Close(r.fd)
		r.fd = -1
	}
}
