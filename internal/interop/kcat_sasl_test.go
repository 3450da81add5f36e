package interop

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handshakeV0Listener is the shim that lets librdkafka 2.0.2 (Debian 12's kcat) start SASL
// against kfake. librdkafka starts SASL only when its feature "SaslHandshake" is on, and
// that feature wants the broker's ApiVersions answer to list SaslHandshake v0; kfake lists
// v1 only (kfake/17_sasl_handshake.go; it does not serve v0's unframed authentication).
// kcat -d broker,security,protocol,feature shows it:
//
//	ApiKey SaslHandshake (17) Versions 1..1
//	Feature SaslHandshake: SaslHandshake (0..0) NOT supported by broker
//	Feature SaslAuthReq: SaslHandshake (1..1) supported by broker
//	Failed to initialize SASL authentication: SASL Handshake not supported by broker (required by mechanism PLAIN)
//
// and kcat stops before sending SaslHandshake. Given the range 0..1, librdkafka sends
// SaslHandshake v1 and authenticates with SaslAuthenticate, which kfake serves: no v0
// request ever reaches kfake.
//
// The shim wraps kfake's listener (kfake.ListenFn), so every broker has it and the
// addresses metadata advertises need no rewriting. On each accepted connection it reads
// the requests as they pass to notice the correlation IDs of ApiVersions requests, and in
// the answers to those, and only those, it sets SaslHandshake's MinVersion from 1 to 0
// (decoded and re-encoded with kmsg, every other field unchanged). Every other byte in
// either direction passes as is. troupe's connections go through it too; troupe uses
// SaslHandshake v1 whatever the minimum. It works on plaintext listeners only: kfake puts
// TLS above the listener it is given.
type handshakeV0Listener struct {
	net.Listener
	rewritten *int64 // answers rewritten, under mu
	mu        *sync.Mutex
}

func (l handshakeV0Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeV0Conn{Conn: c, versions: map[int32]int16{}, mu: l.mu, rewritten: l.rewritten}, nil
}

// handshakeV0Conn is one connection of handshakeV0Listener. kfake reads it from one
// goroutine and writes it from another; versions is shared under mu.
type handshakeV0Conn struct {
	net.Conn
	in, out   []byte          // partial request / response frames
	versions  map[int32]int16 // ApiVersions correlation ID -> request version
	mu        *sync.Mutex
	rewritten *int64
}

// Read passes the requests through unchanged, noting ApiVersions correlation IDs.
func (c *handshakeV0Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in = append(c.in, p[:n]...)
	for len(c.in) >= 4 {
		size := int(binary.BigEndian.Uint32(c.in))
		if len(c.in) < 4+size {
			break
		}
		frame := c.in[4 : 4+size]
		if len(frame) >= 8 && int16(binary.BigEndian.Uint16(frame)) == 18 {
			c.mu.Lock()
			c.versions[int32(binary.BigEndian.Uint32(frame[4:]))] = int16(binary.BigEndian.Uint16(frame[2:]))
			c.mu.Unlock()
		}
		c.in = c.in[4+size:]
	}
	return n, err
}

// Write holds back partial response frames, rewrites ApiVersions answers, and writes
// every other frame as it came.
func (c *handshakeV0Conn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	var send []byte
	for len(c.out) >= 8 {
		size := int(binary.BigEndian.Uint32(c.out))
		if len(c.out) < 4+size {
			break
		}
		frame := c.out[:4+size]
		c.out = c.out[4+size:]
		c.mu.Lock()
		v, ok := c.versions[int32(binary.BigEndian.Uint32(frame[4:]))]
		delete(c.versions, int32(binary.BigEndian.Uint32(frame[4:])))
		c.mu.Unlock()
		if ok {
			frame = c.rewrite(frame, v)
		}
		send = append(send, frame...)
	}
	if len(send) > 0 {
		if _, err := c.Conn.Write(send); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// rewrite returns the ApiVersions answer frame with SaslHandshake's MinVersion 0. The
// answer's header is always the 4-byte correlation ID (KIP-511).
func (c *handshakeV0Conn) rewrite(frame []byte, version int16) []byte {
	resp := kmsg.ApiVersionsResponse{Version: version}
	if err := resp.ReadFrom(frame[8:]); err != nil {
		return frame
	}
	changed := false
	for i := range resp.ApiKeys {
		if resp.ApiKeys[i].ApiKey == 17 && resp.ApiKeys[i].MinVersion == 1 {
			resp.ApiKeys[i].MinVersion = 0
			changed = true
		}
	}
	if !changed {
		return frame
	}
	c.mu.Lock()
	*c.rewritten++
	c.mu.Unlock()
	body := resp.AppendTo(nil)
	out := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	out = append(out, frame[4:8]...)
	return append(out, body...)
}

// TestKcatSASL: over SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, kcat
// (librdkafka) reads what troupe writes and troupe reads what kcat writes, byte for
// byte, on one kfake cluster of two brokers behind handshakeV0Listener (the shim that
// lets librdkafka 2.0.2 start SASL against kfake; see its comment). Each direction also
// checks that kcat authenticated: kcat with a wrong password must fail, and the shim
// must have rewritten answers. With TROUPE_KCAT_NO_SHIM=1 in the environment the
// shim is left out, and the test fails where kcat first reads ("Broker transport
// failure"): the negative control for the diagnosis above.
func TestKcatSASL(t *testing.T) {
	kcat(t)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			var mu sync.Mutex
			var rewritten int64
			shim := kfake.ListenFn(func(network, address string) (net.Listener, error) {
				l, err := net.Listen(network, address)
				if err != nil || os.Getenv("TROUPE_KCAT_NO_SHIM") != "" {
					return l, err
				}
				return handshakeV0Listener{Listener: l, mu: &mu, rewritten: &rewritten}, nil
			})
			s := kafkatest.Security{Mechanism: mech}
			sc := kafkatest.StartSecure(t, s, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"), shim)
			sec := cluster.Config{Broker: broker.Config{SASL: sc.SASL}}
			props := kcatSecurity(t, s, sc)
			const n = 20

			p, err := producer.New(producer.Config{Seeds: sc.Seeds, Cluster: sec})
			if err != nil {
				t.Fatal(err)
			}
			var want [2]bytes.Buffer // per partition, in kcat's "%k=%s\n"
			for i := range n {
				r := &troupe.Record{Topic: "t", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "troupe %d \x00\xff", i)}
				if err := p.ProduceSync(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&want[r.Partition], "%s=%s\n", r.Key, r.Value)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			for part := range int32(2) {
				out := runKcat(t, "", append([]string{"-b", sc.Seeds[0], "-C", "-t", "t", "-p", fmt.Sprint(part), "-e", "-q", "-f", "%k=%s\n", "-o", "beginning"}, props...)...)
				if !bytes.Equal(out, want[part].Bytes()) {
					t.Fatalf("kcat read from partition %d:\n%q\nwant\n%q", part, out, want[part].Bytes())
				}
			}

			var in strings.Builder
			for i := range n {
				fmt.Fprintf(&in, "kcat %d\n", i)
			}
			runKcat(t, in.String(), append([]string{"-b", sc.Seeds[1], "-P", "-t", "t", "-p", "1"}, props...)...)
			c, err := consumer.New(consumer.Config{Seeds: sc.Seeds, Cluster: sec})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pc, err := c.ConsumePartition(ctx, "t", 1, consumer.At(int64(strings.Count(want[1].String(), "\n"))))
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for r, err := range pc.Records(ctx) {
				if err != nil {
					t.Fatalf("after %d records: %v", i, err)
				}
				if want := fmt.Sprintf("kcat %d", i); string(r.Value) != want {
					t.Fatalf("record %d is %q, want %q", i, r.Value, want)
				}
				if i++; i == n {
					break
				}
			}

			// kcat did authenticate: the same command with a wrong password fails.
			wrong := append([]string{"-b", sc.Seeds[0], "-L", "-m", "5"}, props...)
			wrong = append(wrong, "-X", "sasl.password=not-"+kafkatest.SecurePassword)
			if out, err := kcatErr(t, wrong...); err == nil {
				t.Fatalf("kcat with a wrong password listed metadata:\n%s", out)
			}
			mu.Lock()
			defer mu.Unlock()
			if rewritten == 0 {
				t.Fatal("the shim rewrote no ApiVersions answer")
			}
		})
	}
}

// kcatErr runs kcat and returns its output and error, without failing the test.
func kcatErr(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, kcat(t), args...).CombinedOutput()
}
