package kafkatest

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OAuthBearer is a kfake option that makes every broker of the cluster an OAUTHBEARER
// broker, which kfake itself is not. It wraps kfake's listener (kfake.ListenFn), so the
// addresses metadata advertises need no rewriting: on each connection it answers
// SaslHandshake (offering OAUTHBEARER only) and SaslAuthenticate itself, accepting only
// the bearer token good (in RFC 7628's client initial response, with any extensions), and
// passes every other request to kfake, which must not have SASL enabled. A rejected
// token gets RFC 7628's error status (JSON); the client's next message (it must be
// 0x01) is answered with SASL_AUTHENTICATION_FAILED. Requests other than ApiVersions
// before a successful authentication close the connection. It serves plaintext
// listeners only (kfake puts TLS above the listener), and assumes, as clients do during
// authentication, that nothing else is in flight while SASL requests are.
func OAuthBearer(good string) kfake.Opt {
	return kfake.ListenFn(func(network, address string) (net.Listener, error) {
		l, err := net.Listen(network, address)
		if err != nil {
			return nil, err
		}
		return oauthListener{Listener: l, good: good}, nil
	})
}

type oauthListener struct {
	net.Listener
	good string
}

func (l oauthListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &oauthConn{Conn: c, good: l.good}, nil
}

// oauthConn is one connection of OAuthBearer's listener. kfake reads it from one
// goroutine (Read: the SASL requests are taken out of the stream and answered) and
// writes it from another (Write); wmu keeps the two writers' frames whole.
type oauthConn struct {
	net.Conn
	good string

	raw, pass      []byte // bytes read but not yet a whole frame; whole frames for kfake
	authed, failed bool   // touched by the reading goroutine only
	buf            [4096]byte

	wmu sync.Mutex
}

var errUnauthenticated = errors.New("kafkatest: a request before OAUTHBEARER authentication")

func (c *oauthConn) Read(p []byte) (int, error) {
	for len(c.pass) == 0 {
		n, err := c.Conn.Read(c.buf[:])
		c.raw = append(c.raw, c.buf[:n]...)
		if ferr := c.frames(); ferr != nil {
			_ = c.Conn.Close()
			return 0, ferr
		}
		if err != nil {
			if len(c.pass) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(p, c.pass)
	c.pass = c.pass[n:]
	return n, nil
}

func (c *oauthConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}

// frames moves the whole frames of raw to pass, or answers them if they are SASL's.
func (c *oauthConn) frames() error {
	for len(c.raw) >= 4 {
		size := int(binary.BigEndian.Uint32(c.raw))
		if len(c.raw) < 4+size {
			return nil
		}
		frame := c.raw[4 : 4+size]
		c.raw = c.raw[4+size:]
		r := kbin.Reader{Src: frame}
		key, version, corr := r.Int16(), r.Int16(), r.Int32()
		r.NullableString() // client ID
		var resp kmsg.Response
		switch key {
		case int16(kmsg.ApiVersions):
			c.pass = append(binary.BigEndian.AppendUint32(c.pass, uint32(size)), frame...)
			continue
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
				return err
			}
			ar := kmsg.NewPtrSASLAuthenticateResponse()
			switch {
			case c.failed:
				ar.ErrorCode = errcode.SASLAuthenticationFailed.Code
				ar.ErrorMessage = kmsg.StringPtr("invalid token")
			case goodBearer(req.SASLAuthBytes, c.good):
				c.authed = true
			default:
				c.failed = true
				ar.SASLAuthBytes = []byte(`{"status":"invalid_token","scope":"kafka"}`)
			}
			resp = ar
		default:
			if !c.authed {
				return errUnauthenticated
			}
			c.pass = append(binary.BigEndian.AppendUint32(c.pass, uint32(size)), frame...)
			continue
		}
		resp.SetVersion(version)
		body := binary.BigEndian.AppendUint32(nil, uint32(corr))
		if resp.IsFlexible() {
			body = append(body, 0) // no tagged fields in the header
		}
		body = resp.AppendTo(body)
		if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)); err != nil {
			return err
		}
	}
	return nil
}

// goodBearer reports whether msg is a client initial response (RFC 7628 §3.1) carrying
// the bearer token good.
func goodBearer(msg []byte, good string) bool {
	m := string(msg)
	if !strings.HasPrefix(m, "n,,\x01") || !strings.HasSuffix(m, "\x01\x01") {
		return false
	}
	return slices.Contains(strings.Split(m[len("n,,\x01"):len(m)-2], "\x01"), "auth=Bearer "+good)
}
