package kafkatest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Admin sends one request encoded by kmsg (the test-only oracle) to the broker at addr on
// a connection of its own, and returns kmsg's decoding of the answer. Tests use it for
// what troupe's own codec does not speak (creating partitions, deleting topics) and to
// check troupe's view against an independent one. The request's version must be set
// (SetVersion) to one the broker accepts.
func Admin(t testing.TB, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	resp, err := AdminErr(addr, req)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	return resp
}

// AdminErr is Admin returning its error.
func AdminErr(addr string, req kmsg.Request) (kmsg.Response, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	return RoundTrip(nc, req, "kafkatest")
}

// RoundTrip writes req (its version set), encoded by kmsg, on nc as the connection's
// only request, and returns kmsg's decoding of the answer. The caller owns nc and its
// deadline.
func RoundTrip(nc net.Conn, req kmsg.Request, clientID string) (kmsg.Response, error) {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))
	if _, err := nc.Write(f.AppendRequest(nil, req, 1)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(nc, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(nc, body); err != nil {
		return nil, err
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	r := kbin.Reader{Src: body}
	r.Int32() // correlation ID
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		kmsg.SkipTags(&r)
	}
	if !r.Ok() {
		return nil, fmt.Errorf("kafkatest: a response of %d bytes, shorter than its header", len(body))
	}
	if err := resp.ReadFrom(r.Src); err != nil {
		return nil, err
	}
	return resp, nil
}
