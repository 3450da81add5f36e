package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
)

// Config configures a Client. Seeds is required; every zero field means its documented
// default.
type Config struct {
	// Seeds are "host:port" addresses of brokers to bootstrap from. Required.
	Seeds []string
	// Broker configures the connections (dialing, timeouts, pipelining, breakers).
	Broker broker.Config
	// MinRefreshInterval is the least time between two metadata requests: refreshes asked
	// for sooner are merged into one sent when it has passed. Zero means 250ms.
	MinRefreshInterval time.Duration
	// RefreshInterval is how often metadata is refreshed when nobody asks. Zero means 5m.
	RefreshInterval time.Duration
	// TopicRetries is how many more times a refresh asks for a topic that does not exist
	// yet or has a partition without a leader before it answers with what it has. Zero
	// means 5; TopicBackoff spaces them.
	TopicRetries int
	// TopicBackoff spaces those asks: Min·2^(n-1) before the n-th, capped at Max, with
	// equal jitter, as every supervisor.Backoff; never sooner than MinRefreshInterval
	// after the request before. Zero Min means MinRefreshInterval; zero Max means 2s.
	TopicBackoff supervisor.Backoff
	// AllowAutoTopicCreation lets the brokers create topics that metadata requests name
	// (if the brokers are configured to). Off by default.
	AllowAutoTopicCreation bool
	// Breaker guards metadata requests: after Errors failed metadata requests without a
	// quiet Timeout, refreshes fail at once with an error matching ErrUnavailable (and
	// wrapping the last failure) until Timeout has passed; callers waiting on a refresh
	// fail with ErrUnavailable as soon as it opens. The client always has it: a zero
	// BreakerConfig means these defaults, as everywhere. Zero Errors means 5; zero
	// Timeout means 5s.
	Breaker supervisor.BreakerConfig
	// Logger receives the client's records. Nil discards them.
	Logger *slog.Logger
	// OnEvent, if set, receives the client supervisor's events (connection restarts,
	// breakers), passed as they are (a supervisor.Event is a troupe.Event), on the
	// supervisor's goroutine: it must not block. Nil Broker.OnEvent becomes this.
	OnEvent func(troupe.Event)
}

// Documented defaults of Config.
const (
	DefaultMinRefreshInterval = 250 * time.Millisecond
	DefaultRefreshInterval    = 5 * time.Minute
	DefaultTopicRetries       = 5
	DefaultBreakerErrors      = 5
	DefaultBreakerTimeout     = 5 * time.Second
	DefaultTopicBackoffMax    = 2 * time.Second
)

// ErrInvalidConfig is matched by the error for a Config that cannot work.
var ErrInvalidConfig = errors.New("cluster: invalid config")

func (c Config) withDefaults() (Config, error) {
	if len(c.Seeds) == 0 {
		return c, fmt.Errorf("%w: no seed brokers", ErrInvalidConfig)
	}
	for _, s := range c.Seeds {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return c, fmt.Errorf("%w: seed %q: %w", ErrInvalidConfig, s, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || host == "" {
			return c, fmt.Errorf("%w: seed %q: want host:port", ErrInvalidConfig, s)
		}
	}
	if c.MinRefreshInterval < 0 || c.RefreshInterval < 0 || c.TopicRetries < 0 ||
		c.TopicBackoff.Min < 0 || c.TopicBackoff.Max < 0 {
		return c, fmt.Errorf("%w: negative interval, retries or backoff", ErrInvalidConfig)
	}
	if c.MinRefreshInterval == 0 {
		c.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.TopicRetries == 0 {
		c.TopicRetries = DefaultTopicRetries
	}
	if c.TopicBackoff.Min == 0 {
		c.TopicBackoff.Min = c.MinRefreshInterval
	}
	if c.TopicBackoff.Max == 0 {
		c.TopicBackoff.Max = DefaultTopicBackoffMax
	}
	c.TopicBackoff.Max = max(c.TopicBackoff.Max, c.TopicBackoff.Min)
	if c.Breaker.Errors == 0 {
		c.Breaker.Errors = DefaultBreakerErrors
	}
	if c.Breaker.Timeout == 0 {
		c.Breaker.Timeout = DefaultBreakerTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Broker.Logger == nil {
		c.Broker.Logger = c.Logger
	}
	if c.Broker.OnEvent == nil {
		c.Broker.OnEvent = c.OnEvent
	}
	return c, nil
}

// supervisorHook adapts an OnEvent hook to a supervisor.Config's: a nil hook stays nil,
// and each supervisor event is passed on as it is.
func supervisorHook(hook func(troupe.Event)) func(supervisor.Event) {
	if hook == nil {
		return nil
	}
	return func(e supervisor.Event) { hook(e) }
}
