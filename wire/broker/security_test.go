package broker_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const secret = "s3cret-Pa55word"

// metadataOver sends one metadata request through a fresh pool with cfg to the seed.
func metadataOver(t *testing.T, cfg broker.Config, seed string) error {
	t.Helper()
	p := startPool(t, cfg)
	h, err := p.Conn(broker.Node{ID: -1, Addr: seed}, broker.Admin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Do(ctxT(t), metadataReq())
	return err
}

// TestSASLMechanisms authenticates with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 against
// kfake (the SCRAM server there is the oracle for SCRAM-SHA-512), plaintext and over TLS.
func TestSASLMechanisms(t *testing.T) {
	certs := kafkatest.NewCerts(t)
	for _, m := range []sasl.Mechanism{
		sasl.Plain{User: "alice", Password: secret},
		sasl.SCRAMSHA256{User: "alice", Password: secret},
		sasl.SCRAMSHA512{User: "alice", Password: secret},
	} {
		for _, withTLS := range []bool{false, true} {
			name := m.Name()
			if withTLS {
				name += "/TLS"
			}
			t.Run(name, func(t *testing.T) {
				opts := []kfake.Opt{kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(m.Name(), "alice", secret)}
				cfg := broker.Config{SASL: m}
				if withTLS {
					opts = append(opts, kfake.TLS(certs.ServerConfig(false)))
					cfg.TLS = certs.ClientConfig(false)
				}
				_, seeds := kafkatest.Start(t, opts...)
				if err := metadataOver(t, cfg, seeds[0]); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// checkAuthError checks an authentication failure: it matches ErrAuthentication and
// ErrNotSent, is not retriable, names the mechanism and the broker, and hides the secret.
func checkAuthError(t *testing.T, err error, mech, addr string) {
	t.Helper()
	t.Log(err)
	if !errors.Is(err, broker.ErrAuthentication) || !errors.Is(err, broker.ErrNotSent) {
		t.Fatalf("got %v, want ErrAuthentication, not sent", err)
	}
	if broker.Retriable(err) || errors.Is(err, broker.ErrNetwork) {
		t.Fatalf("an authentication failure is retriable: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, mech) || !strings.Contains(msg, addr) {
		t.Fatalf("error does not name mechanism %s and broker %s: %v", mech, addr, msg)
	}
	if strings.Contains(msg, secret) || strings.Contains(msg, "wrong-password") {
		t.Fatalf("error shows the password: %v", msg)
	}
	if n := strings.Count(msg, "authentication failed"); n != 1 {
		t.Fatalf("error repeats itself: %v", msg)
	}
}

// TestSASLWrongPassword covers kfake's answer to a wrong password: it closes the
// connection during SaslAuthenticate.
func TestSASLWrongPassword(t *testing.T) {
	for _, m := range []sasl.Mechanism{
		sasl.Plain{User: "alice", Password: "wrong-password"},
		sasl.SCRAMSHA256{User: "alice", Password: "wrong-password"},
		sasl.SCRAMSHA512{User: "nobody", Password: "wrong-password"},
	} {
		t.Run(m.Name(), func(t *testing.T) {
			_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(m.Name(), "alice", secret))
			err := metadataOver(t, broker.Config{SASL: m}, seeds[0])
			checkAuthError(t, err, m.Name(), seeds[0])
			if !strings.Contains(err.Error(), "closed the connection during SaslAuthenticate") {
				t.Fatalf("error does not say the broker closed the connection: %v", err)
			}
		})
	}
}

// TestSASLAuthenticationFailedAnswer covers a broker that answers SaslAuthenticate with
// SASL_AUTHENTICATION_FAILED (injected through kfake's ControlKey).
func TestSASLAuthenticationFailedAnswer(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "alice", secret))
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = errcode.SASLAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
	err := metadataOver(t, broker.Config{SASL: sasl.Plain{User: "alice", Password: secret}}, seeds[0])
	checkAuthError(t, err, "PLAIN", seeds[0])
	if !errors.Is(err, errcode.SASLAuthenticationFailed) || !strings.Contains(err.Error(), "Invalid username or password") {
		t.Fatalf("error lacks the broker's code and message: %v", err)
	}
}

// TestSASLUnsupportedMechanism: a mechanism the broker does not enable fails at
// SaslHandshake, naming the mechanisms it does enable.
func TestSASLUnsupportedMechanism(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.EnableSASL())
	m := sasl.OAuthBearer{TokenSource: func(context.Context) (sasl.Token, error) { return sasl.Token{Value: "tok"}, nil }}
	err := metadataOver(t, broker.Config{SASL: m}, seeds[0])
	checkAuthError(t, err, "OAUTHBEARER", seeds[0])
	if !errors.Is(err, errcode.UnsupportedSASLMechanism) || !strings.Contains(err.Error(), "SCRAM-SHA-256") {
		t.Fatalf("error lacks the code or the enabled mechanisms: %v", err)
	}
}

// customMechanism is a user's own mechanism, to show the interface is enough: it sends
// PLAIN's bytes in two steps of its own and counts its sessions.
type customMechanism struct{ started chan string }

func (customMechanism) Name() string { return "PLAIN" }

func (m customMechanism) Start(_ context.Context, addr string) (sasl.Session, []byte, error) {
	m.started <- addr
	return &customSession{}, []byte("\x00alice\x00" + secret), nil
}

type customSession struct{ steps int }

func (s *customSession) Step([]byte) ([]byte, bool, error) {
	s.steps++
	return nil, true, nil
}

// TestSASLCustomMechanism authenticates with a mechanism implemented outside package sasl.
func TestSASLCustomMechanism(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "alice", secret))
	m := customMechanism{started: make(chan string, 1)}
	if err := metadataOver(t, broker.Config{SASL: m}, seeds[0]); err != nil {
		t.Fatal(err)
	}
	if addr := <-m.started; addr != seeds[0] {
		t.Fatalf("Start was given %q, want the broker's address %q", addr, seeds[0])
	}
}

// TestSASLRequiredHint: a client without SASL against a SASL listener gets ApiVersions
// answered and then the connection closed; the error hints at SASL.
func TestSASLRequiredHint(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.EnableSASL())
	err := metadataOver(t, broker.Config{}, seeds[0])
	if err == nil || !strings.Contains(err.Error(), "the broker may require SASL") {
		t.Fatalf("got %v, want a hint at SASL", err)
	}
}

// TestTLS connects over TLS and over mutual TLS. The client config leaves ServerName
// empty, so the handshake succeeds only if the connection sets it to the broker's host
// (the certificate is for 127.0.0.1).
func TestTLS(t *testing.T) {
	certs := kafkatest.NewCerts(t)
	for _, mutual := range []bool{false, true} {
		name := map[bool]string{false: "server", true: "mutual"}[mutual]
		t.Run(name, func(t *testing.T) {
			_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.TLS(certs.ServerConfig(mutual)))
			cfg := certs.ClientConfig(mutual)
			if err := metadataOver(t, broker.Config{TLS: cfg}, seeds[0]); err != nil {
				t.Fatal(err)
			}
			if cfg.ServerName != "" {
				t.Fatal("the user's tls.Config was modified")
			}
		})
	}
}

// TestTLSFailures checks each TLS failure matches ErrTLS (not retriable) and says why.
func TestTLSFailures(t *testing.T) {
	certs := kafkatest.NewCerts(t)
	_, tlsSeeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.TLS(certs.ServerConfig(false)))
	_, mutualSeeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.TLS(certs.ServerConfig(true)))
	closing := closingListener(t)
	unknownCA := kafkatest.NewCerts(t).ClientConfig(false)
	wrongName := certs.ClientConfig(false)
	wrongName.ServerName = "kafka.example.com"
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		seed string
		want string
	}{
		{"unknown authority", unknownCA, tlsSeeds[0], "unknown authority"},
		{"name mismatch", wrongName, tlsSeeds[0], "kafka.example.com"},
		{"no client certificate", certs.ClientConfig(false), mutualSeeds[0], "certificate"},
		{"listener closing on a ClientHello", certs.ClientConfig(false), closing, "the listener may be plaintext"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := metadataOver(t, broker.Config{TLS: tc.cfg}, tc.seed)
			t.Log(err)
			if !errors.Is(err, broker.ErrTLS) || broker.Retriable(err) || !errors.Is(err, broker.ErrNotSent) {
				t.Fatalf("got %v, want ErrTLS, not sent, not retriable", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.seed) {
				t.Fatalf("error does not say %q or name the broker: %v", tc.want, err)
			}
		})
	}
}

// TestTLSRequiredHint: a plaintext client against a TLS listener is told the listener
// may require TLS.
func TestTLSRequiredHint(t *testing.T) {
	certs := kafkatest.NewCerts(t)
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.TLS(certs.ServerConfig(false)))
	err := metadataOver(t, broker.Config{}, seeds[0])
	if err == nil || !strings.Contains(err.Error(), "the listener may require TLS") {
		t.Fatalf("got %v, want a hint at TLS", err)
	}
}

// closingListener is a plaintext listener that reads what a client sends and closes the
// connection, as a Kafka listener does with a TLS ClientHello (whose first bytes read as a
// frame larger than it accepts). It stops when the test ends.
func closingListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = nc.Read(make([]byte, 4))
			_ = nc.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

// TestTLSSilentPlaintextListener: a plaintext listener that waits for the frame a
// ClientHello seems to announce (kfake does) ends the connection at ConnectTimeout, with
// the same hint; it is a network error (the broker may just be slow), so it is retried.
func TestTLSSilentPlaintextListener(t *testing.T) {
	certs := kafkatest.NewCerts(t)
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	err := metadataOver(t, broker.Config{TLS: certs.ClientConfig(false), ConnectTimeout: 500 * time.Millisecond}, seeds[0])
	if !errors.Is(err, broker.ErrNetwork) || !strings.Contains(err.Error(), "the listener may be plaintext") {
		t.Fatalf("got %v, want a network error hinting at a plaintext listener", err)
	}
}

// TestSASLReauthentication: with connections.max.reauth.ms set, the broker announces a
// session lifetime and the connection authenticates again before it ends (KIP-368), on
// the same connection, while calls keep coming. kfake sees every request of the one
// connection in order: after each SaslHandshake, the SaslAuthenticate requests of the
// exchange must follow with no other request between them.
func TestSASLReauthentication(t *testing.T) {
	for _, m := range []sasl.Mechanism{
		sasl.Plain{User: "alice", Password: secret},
		sasl.SCRAMSHA256{User: "alice", Password: secret},
	} {
		t.Run(m.Name(), func(t *testing.T) {
			c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(m.Name(), "alice", secret),
				kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "300"}))
			steps := 1 // SaslAuthenticate requests per exchange
			if m.Name() != "PLAIN" {
				steps = 2
			}
			var mu sync.Mutex
			var keys []int16
			handshakes := make(chan struct{}, 100)
			c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				mu.Lock()
				keys = append(keys, req.Key())
				mu.Unlock()
				if req.Key() == int16(kmsg.SASLHandshake) {
					handshakes <- struct{}{}
				}
				return nil, nil, false
			})
			var dials atomic.Int32
			p := startPool(t, broker.Config{SASL: m, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}})
			h, err := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			// Keep calls in flight, several at a time, until three handshakes: the first
			// authentication and two re-authentications.
			seen := 0
			for seen < 3 {
				calls := make(chan *broker.Call, 4)
				for range cap(calls) {
					if err := h.Send(ctx, &broker.Call{Request: metadataReq(), Done: func(c *broker.Call) { calls <- c }}); err != nil {
						t.Fatal(err)
					}
				}
				for range cap(calls) {
					select {
					case call := <-calls:
						if call.Err != nil {
							t.Fatal(call.Err)
						}
					case <-ctx.Done():
						t.Fatalf("calls not answered; %d handshakes", seen)
					}
				}
				for drained := false; !drained; {
					select {
					case <-handshakes:
						seen++
					default:
						drained = true
					}
				}
			}
			// A handshake kfake has seen is one the writer is in the middle of: a call
			// sent now is written after the exchange, so its answer means the whole
			// exchange reached kfake.
			if _, err := h.Do(ctx, metadataReq()); err != nil {
				t.Fatal(err)
			}
			if n := dials.Load(); n != 1 {
				t.Fatalf("%d connections, want the one connection re-authenticated", n)
			}
			mu.Lock()
			defer mu.Unlock()
			for i, k := range keys {
				if k != int16(kmsg.SASLHandshake) {
					continue
				}
				for j := 1; j <= steps; j++ {
					if i+j >= len(keys) || keys[i+j] != int16(kmsg.SASLAuthenticate) {
						t.Fatalf("request %d after a SaslHandshake is not SaslAuthenticate: %v", j, keys[i:min(i+steps+2, len(keys))])
					}
				}
			}
		})
	}
}
