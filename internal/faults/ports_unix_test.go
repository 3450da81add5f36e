//go:build unix

package faults

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

// A reservation keeps every other socket off its port, as the kernel keeps a connection's
// local port off it (a socket bound without SO_REUSEADDR stands for both), and refuses
// connections; closed, it lets the port go.
func TestReservationKeepsThePort(t *testing.T) {
	r, err := reserve(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if err := plainBind(r.port); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("binding a held port: %v, want EADDRINUSE", err)
	}
	if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port)); !errors.Is(err, syscall.ECONNREFUSED) {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("dialing a held port: %v, want ECONNREFUSED", err)
	}
	r.close()
	if err := plainBind(r.port); err != nil {
		t.Fatalf("binding the port let go: %v", err)
	}
}

// plainBind binds a socket to 127.0.0.1:port without SO_REUSEADDR, and closes it.
func plainBind(port int) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	return syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
}
