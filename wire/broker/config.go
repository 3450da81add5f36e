package broker

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/sasl"
)

// DialFunc opens a connection to a broker. Replace it to add TLS, a proxy, or an in-memory
// network (kfake's VirtualNetwork under testing/synctest).
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Config configures broker connections. The zero value is valid: every zero field means
// the documented default.
type Config struct {
	// ClientID is sent in every request header. Empty means "troupe".
	ClientID string
	// SoftwareName and SoftwareVersion identify the client in ApiVersions (v3+). Empty
	// means "troupe" and "0.1.0".
	SoftwareName    string
	SoftwareVersion string
	// Dial opens connections. Nil means a net.Dialer's DialContext. With TLS set, Dial
	// opens the plain connection that TLS then wraps.
	Dial DialFunc
	// TLS, when not nil, wraps every connection in TLS (after Dial, before ApiVersions).
	// Each connection uses a clone whose ServerName is its broker's host unless ServerName
	// is set; put a client certificate in Certificates for mutual TLS. Nil means
	// plaintext. A failed handshake fails the connection with an error matching ErrTLS.
	TLS *tls.Config
	// SASL, when not nil, authenticates every connection with this mechanism right after
	// ApiVersions (SaslHandshake, then SaslAuthenticate until the mechanism is done),
	// within ConnectTimeout. Nil means no SASL. A rejection fails the connection with an
	// error matching ErrAuthentication that names the broker and the mechanism.
	SASL sasl.Mechanism
	// ConnectTimeout bounds dialing, the TLS handshake, ApiVersions and SASL
	// authentication together. Zero means 10s.
	ConnectTimeout time.Duration
	// RequestTimeout is the deadline of a call without one, counted from when it is
	// written, and bounds every write. Zero means 30s.
	RequestTimeout time.Duration
	// MaxInflight is how many requests one connection pipelines before it waits for a
	// response. Zero means 10.
	MaxInflight int
	// MaxResponseBytes caps the size of a response frame; a larger one fails the
	// connection without being read into memory. Zero means 100 MiB.
	MaxResponseBytes int
	// QueueSize is the capacity of each connection's mailbox of calls; Send blocks when it
	// is full. Zero means 1024.
	QueueSize int
	// Breaker puts each connection behind a circuit breaker: after Errors failures
	// (dial or I/O) without a quiet Timeout, calls to that broker fail at once with an
	// error matching ErrUnavailable until a reconnect is let through; calls queued for
	// a broker whose breaker opens fail at once rather than wait it out. Every connection
	// has one: a zero BreakerConfig means these defaults, as everywhere. Zero Errors
	// means 3; zero Timeout means 5s.
	Breaker supervisor.BreakerConfig
	// Backoff spaces reconnects after failures; a connection up for the supervisor's
	// Config.ResetAfter (10s) starts its next run from Min. Zero fields mean 50ms and 5s.
	Backoff supervisor.Backoff
	// Logger receives connection records. Nil discards them.
	Logger *slog.Logger
	// OnEvent, if set, receives the connection supervisor's events (restarts, breaker
	// changes), passed as they are (a supervisor.Event is a troupe.Event), on the
	// supervisor's goroutine: it must not block.
	OnEvent func(troupe.Event)

	// seams are this package's test seams: an empty struct unless built with the
	// troupecheck tag (seams_checked.go).
	//lint:ignore U1000 the test seams; an empty struct in normal builds
	seams seams
}

// Documented defaults of Config.
const (
	DefaultClientID         = "troupe"
	DefaultSoftwareName     = "troupe"
	DefaultSoftwareVersion  = "0.1.0"
	DefaultConnectTimeout   = 10 * time.Second
	DefaultRequestTimeout   = 30 * time.Second
	DefaultMaxInflight      = 10
	DefaultMaxResponseBytes = 100 << 20
	DefaultQueueSize        = 1024
	DefaultBreakerErrors    = 3
	DefaultBreakerTimeout   = 5 * time.Second
	DefaultBackoffMax       = 5 * time.Second
)

func (c Config) withDefaults() (Config, error) {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.SoftwareName == "" {
		c.SoftwareName = DefaultSoftwareName
	}
	if c.SoftwareVersion == "" {
		c.SoftwareVersion = DefaultSoftwareVersion
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"ConnectTimeout", &c.ConnectTimeout, DefaultConnectTimeout}, {"RequestTimeout", &c.RequestTimeout, DefaultRequestTimeout}} {
		if *f.v < 0 {
			return c, fmt.Errorf("%w: %s %v is negative", ErrInvalidConfig, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{{"MaxInflight", &c.MaxInflight, DefaultMaxInflight}, {"MaxResponseBytes", &c.MaxResponseBytes, DefaultMaxResponseBytes}, {"QueueSize", &c.QueueSize, DefaultQueueSize}} {
		if *f.v < 0 {
			return c, fmt.Errorf("%w: %s %d is negative", ErrInvalidConfig, f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.Breaker.Errors == 0 {
		c.Breaker.Errors = DefaultBreakerErrors
	}
	if c.Breaker.Timeout == 0 {
		c.Breaker.Timeout = DefaultBreakerTimeout
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = DefaultBackoffMax
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// ErrInvalidConfig is matched by the error for a Config that cannot work.
var ErrInvalidConfig = fmt.Errorf("broker: invalid config")

// supervisorHook adapts an OnEvent hook to a supervisor.Config's: a nil hook stays nil,
// and each supervisor event is passed on as it is.
func supervisorHook(hook func(troupe.Event)) func(supervisor.Event) {
	if hook == nil {
		return nil
	}
	return func(e supervisor.Event) { hook(e) }
}
