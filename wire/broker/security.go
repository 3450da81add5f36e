package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// Errors of a secured connection. A connection that fails with one of them fails every
// call waiting for it with a *Error matching it (and ErrNotSent); unlike ErrNetwork, they
// are not Retriable: they do not go away by waiting, and both match ErrPermanent, so the
// cluster client and the producer fail what waits on them at once. Neither error ever
// holds a password or token.
var (
	// ErrAuthentication: SASL authentication failed. The broker rejected the credentials
	// or the mechanism (SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM), closed
	// the connection during SaslAuthenticate (what some brokers do on a wrong password),
	// or the mechanism refused the server (a SCRAM server that does not know the
	// password). The error names the broker and the mechanism.
	ErrAuthentication = Permanent(errors.New("broker: authentication failed"))
	// ErrTLS: the TLS handshake failed: an unknown certificate authority, a name mismatch,
	// a rejected client certificate, or a listener that does not speak TLS.
	ErrTLS = Permanent(errors.New("broker: TLS handshake failed"))
)

// maxLifetimeMs caps the session lifetime a broker announces (about 100 years), so that
// any value converts to a time.Duration without overflow.
const maxLifetimeMs = 100 * 365 * 24 * 3600 * 1000

// maxSASLSteps bounds the SaslAuthenticate round trips of one authentication, so that a
// server (or a mechanism) that never ends the exchange cannot hold the connection.
const maxSASLSteps = 16

// startTLS wraps nc in TLS for the broker at addr and shakes hands within ctx.
func (c *conn) startTLS(ctx context.Context, nc net.Conn) (net.Conn, error) {
	cfg := c.cfg.TLS.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(c.addr)
		if err != nil {
			host = c.addr
		}
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, c.fail(-1, false, ErrNetwork, fmt.Errorf("TLS handshake: %w", context.Cause(ctx)))
		}
		if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
			// A plaintext Kafka listener closes the connection on a ClientHello, whose
			// first bytes read as a huge frame size; a lenient one waits for the frame.
			return nil, c.fail(-1, false, ErrNetwork, fmt.Errorf("no TLS answer within ConnectTimeout (the listener may be plaintext): %w", err))
		}
		if closedEarly(err) {
			err = fmt.Errorf("broker closed the connection (the listener may be plaintext): %w", err)
		}
		return nil, c.fail(-1, false, ErrTLS, err)
	}
	return tc, nil
}

// tlsAlert reports whether err is an alert the TLS peer sent.
func tlsAlert(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

// closedEarly reports whether err is the peer closing or resetting the connection.
func closedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// authenticate runs the SASL exchange on nc, after ApiVersions: SaslHandshake names the
// mechanism, then SaslAuthenticate carries the mechanism's messages until its session is
// done. Nothing else is written or read on nc meanwhile: during setup the connection has
// no reader yet, and during re-authentication its reader waits, with nothing in flight.
//
// It returns the session's lifetime (SessionLifetimeMs of the last SaslAuthenticate,
// KIP-368), zero when the broker sets none.
func (c *conn) authenticate(ctx context.Context, nc net.Conn, vers *Versions) (time.Duration, error) {
	mech := c.cfg.SASL.Name()
	authErr := func(format string, args ...any) (time.Duration, error) {
		return 0, c.fail(-1, false, ErrAuthentication, fmt.Errorf("%s: "+format, append([]any{mech}, args...)...))
	}
	hv, err := vers.Pick(api.SaslHandshake, 0)
	if err != nil {
		return authErr("the broker does not speak SaslHandshake v1: %w", err)
	}
	av, err := vers.Pick(api.SaslAuthenticate, 0)
	if err != nil {
		return authErr("the broker does not speak SaslAuthenticate: %w", err)
	}
	var hs api.SaslHandshakeResponse
	if err := c.roundTrip(nc, &api.SaslHandshakeRequest{Mechanism: mech}, hv, &hs); err != nil {
		return 0, c.ioFailure(ctx, "SaslHandshake", err)
	}
	if code := errcode.ForCode(hs.ErrorCode); code != nil {
		return authErr("SaslHandshake: %w (the broker enables %v)", code, hs.Mechanisms)
	}
	sess, msg, err := c.cfg.SASL.Start(ctx, c.addr)
	if err != nil {
		return authErr("%w", err)
	}
	for range maxSASLSteps {
		var ar api.SaslAuthenticateResponse
		if err := c.roundTrip(nc, &api.SaslAuthenticateRequest{AuthBytes: msg}, av, &ar); err != nil {
			if closedEarly(err) && ctx.Err() == nil {
				return authErr("the broker closed the connection during SaslAuthenticate (wrong credentials or mechanism?): %w", err)
			}
			return 0, c.ioFailure(ctx, "SaslAuthenticate", err)
		}
		if code := errcode.ForCode(ar.ErrorCode); code != nil {
			if ar.ErrorMessage != nil && *ar.ErrorMessage != "" {
				return authErr("%w: %s", code, *ar.ErrorMessage)
			}
			return authErr("%w", code)
		}
		var done bool
		msg, done, err = sess.Step(ar.AuthBytes)
		if err != nil {
			return authErr("%w", err)
		}
		if done {
			// Clamped: a lifetime of centuries is no lifetime, and must not overflow.
			return time.Duration(min(max(ar.SessionLifetimeMs, 0), maxLifetimeMs)) * time.Millisecond, nil
		}
	}
	return authErr("the exchange did not end within %d SaslAuthenticate round trips", maxSASLSteps)
}

// ioFailure is the error for a request of the connection's setup that could not be
// written or answered.
func (c *conn) ioFailure(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ErrProtocol) {
		err = fmt.Errorf("%w: %w", err, context.Cause(ctx))
	}
	if errors.Is(err, ErrProtocol) {
		return c.fail(-1, false, ErrProtocol, fmt.Errorf("%s: %w", what, err))
	}
	return c.fail(-1, false, ErrNetwork, fmt.Errorf("%s: %w", what, err))
}

// roundTrip writes req at version v and reads its response into resp, on a connection
// whose reader is not reading (it has none yet, or it waits at a barrier).
func (c *conn) roundTrip(nc net.Conn, req api.Request, v int16, resp api.Response) error {
	c.corr++
	clientID := c.cfg.ClientID
	frame, err := api.AppendRequest(nil, req, v, c.corr, &clientID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if _, err := nc.Write(frame); err != nil {
		return err
	}
	body, err := codec.ReadFrame(nc, nil, c.cfg.MaxResponseBytes)
	if err != nil {
		return err
	}
	if err := api.ReadResponse(body, resp, v, c.corr); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return nil
}

// reauthAt is when to authenticate again a session of the given lifetime that began at
// start: at a random point between 85% and 95% of it (KIP-368), so that the connections
// of many clients do not all re-authenticate at once, and none is cut off by the broker.
// Zero lifetime means never (the zero time).
func reauthAt(start time.Time, lifetime time.Duration) time.Time {
	if lifetime <= 0 {
		return time.Time{}
	}
	return start.Add(time.Duration(float64(lifetime) * (0.85 + 0.10*rand.Float64())))
}

// reauthenticate authenticates the connection again before its session expires
// (KIP-368). It stops writing calls, hands the reader a barrier and waits until every
// call written so far has been answered; then, with the reader idle and nothing else
// written, it runs SaslHandshake and every SaslAuthenticate on the socket itself. Calls
// queued meanwhile are written after it. A failure ends the connection incarnation.
func (c *conn) reauthenticate(ctx context.Context) error {
	marker := &Call{barrier: make(chan struct{})}
	select {
	case c.inflight <- marker:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.rd.done:
		return c.rd.err
	}
	select {
	case <-marker.barrier:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.rd.done:
		return c.rd.err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_ = c.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) }) // unblock on cancel
	defer stop()
	start := time.Now()
	lifetime, err := c.authenticate(ctx, c.nc, c.vers)
	if err != nil {
		return err
	}
	_ = c.nc.SetDeadline(time.Time{})
	c.reauth = reauthAt(start, lifetime)
	c.cfg.Logger.Debug("re-authenticated", "conn", c.name, "mechanism", c.cfg.SASL.Name(), "lifetime", lifetime)
	return nil
}
