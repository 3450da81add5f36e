package broker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/sasl"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// oauthProxy stands in for an OAUTHBEARER broker, which kfake is not: it answers
// SaslHandshake and SaslAuthenticate itself, accepting only the bearer token good, and
// forwards every other request to a kfake without SASL, one at a time, so answers keep
// their order. A rejected token gets RFC 7628's error status; the client must then send
// 0x01, which the proxy answers with SASL_AUTHENTICATION_FAILED.
type oauthProxy struct {
	ln       net.Listener
	upstream string
	good     string

	mu      sync.Mutex
	initial []string // the client initial responses received
	after   []string // what clients sent after an error status
	conns   []net.Conn
	wg      sync.WaitGroup
}

func startOAuthProxy(t *testing.T, good string) *oauthProxy {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &oauthProxy{ln: ln, upstream: seeds[0], good: good}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *oauthProxy) accept() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = nc.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, nc, up)
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(nc, up)
	}
}

func readFrame(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(r, b)
	return b, err
}

func (p *oauthProxy) serve(nc, up net.Conn) {
	defer p.wg.Done()
	defer nc.Close()
	defer up.Close()
	failed := false
	for {
		frame, err := readFrame(nc)
		if err != nil {
			return
		}
		r := kbin.Reader{Src: frame}
		key, version, corr := r.Int16(), r.Int16(), r.Int32()
		r.NullableString() // client ID
		var resp kmsg.Response
		switch key {
		case int16(kmsg.SASLHandshake):
			hs := kmsg.NewPtrSASLHandshakeResponse()
			hs.SupportedMechanisms = []string{"OAUTHBEARER"}
			resp = hs
		case int16(kmsg.SASLAuthenticate):
			req := kmsg.NewPtrSASLAuthenticateRequest()
			req.Version = version
			if req.IsFlexible() {
				kmsg.SkipTags(&r)
			}
			if err := req.ReadFrom(r.Src); err != nil {
				return
			}
			ar := kmsg.NewPtrSASLAuthenticateResponse()
			p.mu.Lock()
			switch {
			case failed:
				p.after = append(p.after, string(req.SASLAuthBytes))
				ar.ErrorCode = errcode.SASLAuthenticationFailed.Code
				ar.ErrorMessage = kmsg.StringPtr("invalid token")
			case string(req.SASLAuthBytes) == "n,,\x01auth=Bearer "+p.good+"\x01\x01":
				p.initial = append(p.initial, string(req.SASLAuthBytes))
			default:
				p.initial = append(p.initial, string(req.SASLAuthBytes))
				failed = true
				ar.SASLAuthBytes = []byte(`{"status":"invalid_token","scope":"kafka"}`)
			}
			p.mu.Unlock()
			resp = ar
		default:
			if _, err := up.Write(binary.BigEndian.AppendUint32(nil, uint32(len(frame)))); err != nil {
				return
			}
			if _, err := up.Write(frame); err != nil {
				return
			}
			answer, err := readFrame(up)
			if err != nil {
				return
			}
			if _, err := nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(answer))), answer...)); err != nil {
				return
			}
			continue
		}
		resp.SetVersion(version)
		body := binary.BigEndian.AppendUint32(nil, uint32(corr))
		if resp.IsFlexible() {
			body = append(body, 0) // no tagged fields in the header
		}
		body = resp.AppendTo(body)
		if _, err := nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)); err != nil {
			return
		}
	}
}

func tokenSource(tok string) func(context.Context) (sasl.Token, error) {
	return func(context.Context) (sasl.Token, error) { return sasl.Token{Value: tok}, nil }
}

// TestOAuthBearerAccepted authenticates with OAUTHBEARER through the proxy, then sends a
// request that the kfake behind it answers.
func TestOAuthBearerAccepted(t *testing.T) {
	p := startOAuthProxy(t, "good-token")
	if err := metadataOver(t, broker.Config{SASL: sasl.OAuthBearer{TokenSource: tokenSource("good-token")}}, p.ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.initial) != 1 || len(p.after) != 0 {
		t.Fatalf("initial responses %q, then %q", p.initial, p.after)
	}
}

// TestOAuthBearerRejected: the proxy answers a bad token with an error status; the client
// must answer 0x01 (RFC 7628 §3.2.3), and fails with ErrAuthentication carrying the
// broker's code and message, never the token.
func TestOAuthBearerRejected(t *testing.T) {
	p := startOAuthProxy(t, "good-token")
	addr := p.ln.Addr().String()
	err := metadataOver(t, broker.Config{SASL: sasl.OAuthBearer{TokenSource: tokenSource("bad-token")}}, addr)
	if !errors.Is(err, broker.ErrAuthentication) || !errors.Is(err, errcode.SASLAuthenticationFailed) || broker.Retriable(err) {
		t.Fatalf("got %v, want ErrAuthentication with SASL_AUTHENTICATION_FAILED", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "OAUTHBEARER") || !strings.Contains(msg, addr) || strings.Contains(msg, "bad-token") {
		t.Fatalf("error does not name the mechanism and broker, or shows the token: %v", msg)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.after) == 0 || p.after[0] != "\x01" {
		t.Fatalf("after the error status the client sent %q, want 0x01", p.after)
	}
}

// TestOAuthBearerTokenSourceFails: the token source's error fails the authentication,
// before anything is sent in SaslAuthenticate.
func TestOAuthBearerTokenSourceFails(t *testing.T) {
	p := startOAuthProxy(t, "good-token")
	boom := errors.New("identity provider unreachable")
	m := sasl.OAuthBearer{TokenSource: func(context.Context) (sasl.Token, error) { return sasl.Token{}, boom }}
	err := metadataOver(t, broker.Config{SASL: m}, p.ln.Addr().String())
	if !errors.Is(err, broker.ErrAuthentication) || !errors.Is(err, boom) {
		t.Fatalf("got %v, want ErrAuthentication wrapping the token source's error", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.initial) != 0 {
		t.Fatalf("sent %q without a token", p.initial)
	}
}
