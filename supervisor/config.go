package supervisor

import (
	"log/slog"
	"time"

	"github.com/troupe-go/troupe/actor"
)

// Strategy says which children restart when one fails.
type Strategy uint8

const (
	// OneForOne restarts only the child that failed. It is the default.
	OneForOne Strategy = iota
	// OneForAll stops every other child (in reverse start order) and restarts all of
	// them in start order: for children that cannot work without each other.
	OneForAll
	// RestForOne stops the children started after the failed one and restarts it and
	// them in start order: for children that depend on those started before them.
	RestForOne
)

func (s Strategy) String() string {
	switch s {
	case OneForOne:
		return "one-for-one"
	case OneForAll:
		return "one-for-all"
	case RestForOne:
		return "rest-for-one"
	}
	return "invalid"
}

// Restart says whether a child that exits comes back.
type Restart uint8

const (
	// Permanent children are always restarted, even after a normal exit. The default.
	Permanent Restart = iota
	// Transient children are restarted only after a failure (a non-nil error).
	Transient
	// Temporary children are never restarted; when they exit they are removed.
	Temporary
)

func (r Restart) String() string {
	switch r {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Temporary:
		return "temporary"
	}
	return "invalid"
}

// Config configures a supervisor. The zero value is valid: a one-for-one supervisor
// allowing 5 restarts in 10 seconds, with the default backoff.
type Config struct {
	// Name names the supervisor's own actor and prefixes nothing else. Empty means
	// "supervisor".
	Name string
	// Strategy is the restart strategy. Zero means OneForOne.
	Strategy Strategy
	// Intensity is the most restarts allowed within Period; one more and the supervisor
	// stops its children and fails with an error matching ErrIntensity, to its parent.
	// Zero means 5. Unlimited (or any negative value) means the supervisor never gives
	// up: its children are restarted, with backoff, however often they fail.
	Intensity int
	// Period is the window of Intensity. Zero means 10s; it does not matter when
	// Intensity is Unlimited.
	Period time.Duration
	// Backoff spaces restarts of a child that keeps failing.
	Backoff Backoff
	// ResetAfter is how long an incarnation must run before it counts as healthy (as if
	// it had called Inbox.MarkHealthy): its next failure is the first again for Backoff,
	// and a half-open breaker counts it as a success. Zero means 10s. It costs no timer
	// unless a half-open breaker waits for it: the backoff's reset is applied at the next
	// failure, so a supervisor whose children run arms no alarm.
	ResetAfter time.Duration
	// OnEvent, if set, receives every Event, on the supervisor's goroutine; it must not
	// block.
	OnEvent func(Event)
	// Logger receives the supervisor's events as log records. Nil discards them.
	Logger *slog.Logger
	// StopTimeout bounds each stop of the supervisor as the child of another
	// (AddSupervisor), its children's stops included: they stop in reverse start order,
	// each within its own StopTimeout. Zero means 30s.
	StopTimeout time.Duration
}

// Documented defaults of Config.
const (
	DefaultIntensity             = 5
	DefaultPeriod                = 10 * time.Second
	DefaultSupervisorStopTimeout = 30 * time.Second
	DefaultResetAfter            = 10 * time.Second
)

// Unlimited, as Config.Intensity, makes a supervisor that never gives up: no number of
// restarts within Period exceeds it, so it never fails with ErrIntensity. Use it where
// something else bounds what failures cost (a circuit breaker, the backoff between
// restarts) and a supervisor that gave up would take a healthy subtree down with it.
const Unlimited = -1

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "supervisor"
	}
	switch {
	case c.Intensity < 0:
		c.Intensity = Unlimited
	case c.Intensity == 0:
		c.Intensity = DefaultIntensity
	}
	if c.Period <= 0 {
		c.Period = DefaultPeriod
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultSupervisorStopTimeout
	}
	c.Backoff = c.Backoff.withDefaults()
	if c.ResetAfter <= 0 {
		c.ResetAfter = DefaultResetAfter
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ChildSpec describes a supervised child. Only Name and New are required.
type ChildSpec[M any] struct {
	// Name names the child; unique within its supervisor.
	Name string
	// New returns a fresh incarnation of the child; called for the first start and for
	// every restart.
	New func() actor.Actor[M]
	// Kind labels the child's goroutine (pprof label "kind"). Empty means "actor".
	Kind string
	// Restart is the child's restart type. Zero means Permanent.
	Restart Restart
	// Mailbox configures the child's mailbox, which belongs to the supervisor's slot and
	// survives restarts: messages queued for the child are kept across them.
	Mailbox actor.MailboxConfig[M]
	// StopTimeout bounds each stop of the child; a child that overruns it is cancelled
	// and reported (a StopTimedOut event). Zero means 5s.
	StopTimeout time.Duration
	// Breaker, if set, puts the child behind a circuit breaker; nil means none. A zero
	// BreakerConfig is a breaker with the default figures, as it is wherever the type
	// appears.
	Breaker *BreakerConfig
	// DropQueued, when the child's breaker opens, hands the messages queued for the child
	// to its mailbox's OnDrop instead of keeping them for the next incarnation: for
	// children whose pending work should fail fast (a broker connection's requests)
	// rather than wait out the breaker. It needs a Breaker: Add refuses it without one.
	DropQueued bool
	// DropsAnswered says that the mailbox's OnDrop answers each message's sender (a
	// broker connection fails each call it drops with an error its caller receives). A
	// drain stop that hands such a child's queue to OnDrop has then left nothing
	// unreported, and Stop's error does not name it (it still names a child that overran
	// its StopTimeout).
	DropsAnswered bool
	// Release, if set, runs after every incarnation of the child ends, on the child's
	// goroutine, with the incarnation's actor value and how it ended, before any restart.
	// It gives back whatever the incarnation owned (through the hand-off protocol), so a
	// restart never drops data: for a child with its own Run loop, that includes the
	// messages it had taken from its mailbox and neither finished nor put back (Unread),
	// which the supervisor cannot see. Children built with actor.Receive or
	// actor.ReceiveBatch need none for their messages. It must not block.
	Release func(a actor.Actor[M], err error)

	mailbox    actor.Ref[M]        // a mailbox that already exists (a nested supervisor's)
	children   func() []actor.Info // a nested supervisor's Children
	discardAll func() int          // a nested supervisor's discardAll
}

// DefaultStopTimeout is the StopTimeout of a ChildSpec that leaves it zero.
const DefaultStopTimeout = 5 * time.Second

// BreakerConfig configures a circuit breaker (github.com/eapache/go-resiliency/breaker).
// A BreakerConfig always describes a breaker that is on, and its zero fields mean
// defaults, wherever the type appears: a supervised child's (ChildSpec.Breaker, where nil
// means no breaker), the cluster client's metadata breaker and each broker connection's
// (which every client has; their configs document their own default figures).
//
// For a child: Errors failures without a quiet period of Timeout between them open it.
// While it is open the child is not restarted and sends to it fail at once with an error
// matching actor.ErrUnavailable and ErrBreakerOpen; its queued messages are kept (unless
// ChildSpec.DropQueued). After Timeout it is half-open: one restart is let through;
// Successes healthy incarnations close it, and one more failure opens it again.
type BreakerConfig struct {
	// Errors is how many failures open the breaker. Zero means 5 for a child.
	Errors int
	// Successes is how many healthy incarnations close a half-open breaker. Zero means 1.
	Successes int
	// Timeout is how long the breaker stays open, and the quiet period that forgives
	// earlier failures. Zero means 10s for a child.
	Timeout time.Duration
}

// Documented defaults of a child's BreakerConfig.
const (
	DefaultBreakerErrors  = 5
	DefaultBreakerTimeout = 10 * time.Second
)
