package group

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// Config configures a Member. Group is required, and one of Topics and TopicPattern;
// every other zero field means its documented default.
type Config struct {
	// Protocol is the group protocol the member speaks: Classic (the default: JoinGroup,
	// SyncGroup, a leader's Assignors) or Consumer (KIP-848: ConsumerGroupHeartbeat, the
	// coordinator assigns with ServerAssignor). Every member of a group speaks the same.
	Protocol Protocol
	// Group is the group's ID. Required.
	Group string
	// Topics are the topics the member subscribes to; the group's leader spreads the
	// partitions of every member's topics over the members subscribing to them. Required
	// unless TopicPattern is set; not both.
	Topics []string
	// TopicPattern subscribes the member to every topic whose whole name the regular
	// expression matches (as Java's subscribe(Pattern): "orders" matches orders alone,
	// "orders.*" orders-eu too), topics created later included. Under the Classic
	// protocol the member matches it (Go's RE2 syntax) against every topic in the
	// cluster's metadata, which it lists at the client's metadata RefreshInterval, and
	// rejoins when the matched set changes; internal topics are left out unless
	// MatchInternalTopics is set. Under the Consumer protocol the coordinator matches it
	// (RE2J, whose syntax is RE2's) and assigns new topics as they come: it needs
	// ConsumerGroupHeartbeat v1 (Kafka 4.0), and fails the member with
	// ErrPatternNotSupported on an older broker. Join refuses an expression that does not
	// compile with ErrInvalidConfig (and the *syntax.Error, for errors.As). Empty means
	// Topics.
	TopicPattern string
	// MatchInternalTopics lets TopicPattern match internal topics (__consumer_offsets,
	// __transaction_state), which it skips otherwise, as Java's exclude.internal.topics.
	// Classic protocol only: a Consumer-protocol coordinator decides for itself (Kafka's
	// does not skip them: write a pattern that does not match them).
	MatchInternalTopics bool
	// Assignors are the assignors the member offers, in order of preference; the
	// coordinator picks the first every member offers. The one it picks decides how the
	// group rebalances: eagerly (every member gives up everything first), or
	// incrementally with a cooperative one such as CooperativeSticky() (KIP-429: members
	// keep reading what they keep, and give up only what moves). A member may offer both
	// kinds, as ["cooperative-sticky", "range"] in the Java client's upgrade path: it
	// follows the group's choice. Empty means Range() alone. Refused with the Consumer
	// protocol, whose coordinator assigns (ServerAssignor).
	Assignors []Assignor
	// ServerAssignor names the assignor the coordinator of a Consumer-protocol group
	// runs: ServerAssignorUniform, ServerAssignorRange, or another the broker offers
	// (group.consumer.assignors); one it does not offer ends the member with
	// UNSUPPORTED_ASSIGNOR. Empty means the broker's default (uniform). Refused with
	// the Classic protocol.
	ServerAssignor string
	// InstanceID makes the member static (KIP-345, group.instance.id): the coordinator
	// knows it across restarts, it does not send LeaveGroup when it closes, and a restart
	// within SessionTimeout takes its partitions back without a rebalance. Empty means a
	// dynamic member.
	InstanceID string
	// SessionTimeout is how long the coordinator keeps the member without a heartbeat,
	// and how long the member, without a successful heartbeat (counted from when it was
	// sent), keeps its partitions before declaring them lost. Zero means 45s.
	SessionTimeout time.Duration
	// HeartbeatInterval spaces the member's heartbeats; a rebalance is noticed at the
	// next one. Zero means 3s. It must be below SessionTimeout.
	HeartbeatInterval time.Duration
	// ProcessingTime is how long the user may take between Polls: a rebalance waits for
	// the user to come back from the batches in hand before it gives their partitions
	// up, and the coordinator waits this long (the rebalance timeout) for every member
	// to rejoin. A user who holds batches longer than this without polling (or moving on
	// through the Records or Batches iterators) makes the member leave the group, as
	// Java's max.poll.interval.ms: its partitions are lost (OnLost; nothing of theirs is
	// committed), a dynamic member sends LeaveGroup (a static one stops heartbeating, and
	// the coordinator drops it at the end of its session; under the Consumer protocol a
	// dynamic member sends a leave heartbeat with member epoch -1, a static one -2, which
	// keeps its partitions for it for its session), a warning is logged and a
	// ProcessingTimeExceeded event goes to the consumer's OnEvent, and the next
	// Poll rejoins (under the Consumer protocol with member epoch 0 and the same member
	// ID). Zero means 5 minutes.
	ProcessingTime time.Duration
	// AutoCommitInterval is how often the member commits what was finished without being
	// asked (as the Committer does), besides the commits on revocation and Close, under
	// either protocol, while it is in the group. Zero means 5s.
	AutoCommitInterval time.Duration
	// DisableAutoCommit turns the interval's commits off: only Commit, revocations and
	// Close commit.
	DisableAutoCommit bool
	// Backoff spaces the member's attempts after failures (no coordinator, a coordinator
	// still loading): Min·2^(n-1) capped at Max with jitter. Zero fields mean 100ms and
	// 5s.
	Backoff supervisor.Backoff
	// OnAssigned, OnRevoked and OnLost, if set, are told of partitions the member takes,
	// gives up in a rebalance, and loses (the coordinator no longer counts the member
	// in: its session ran out, or it was fenced; or Close ran out of time before it
	// could give them up). They run in order, one at a time, on
	// the member's hand-off goroutine, never concurrently with each other; they may block
	// (the rebalance waits) and must return within ProcessingTime. OnAssigned runs before
	// Poll returns any record of the partitions; OnRevoked after the user came back from
	// the batches in hand, before the member commits what was finished and gives the
	// partitions up, and it may commit (Commit) itself; OnLost runs after the partitions
	// were given up, and nothing of theirs is committed any more: another member may
	// own them already.
	OnAssigned func(ctx context.Context, parts []consumer.About)
	OnRevoked  func(ctx context.Context, parts []consumer.About)
	OnLost     func(ctx context.Context, parts []consumer.About)
	// Logger receives the member's records (joins, assignments, rebalances, commits that
	// failed). Nil means the consumer's Logger.
	Logger *slog.Logger
}

// Protocol is a consumer group protocol.
type Protocol uint8

const (
	// Classic is the group protocol of Kafka before 4.0: members join (JoinGroup), the
	// coordinator elects a leader whose Assignor decides who reads what, and the members
	// learn their assignments (SyncGroup); every rebalance stops the whole group.
	Classic Protocol = iota
	// Consumer is the consumer group protocol of KIP-848 (Kafka 4.0): each member
	// heartbeats (ConsumerGroupHeartbeat), the coordinator computes the assignment with
	// a server-side assignor, and partitions move one member at a time, revoked before
	// they are assigned elsewhere, while the rest of the group goes on reading.
	Consumer
)

func (p Protocol) String() string {
	switch p {
	case Classic:
		return "classic"
	case Consumer:
		return "consumer"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// Documented defaults of Config.
const (
	DefaultSessionTimeout    = 45 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultProcessingTime    = 5 * time.Minute
	DefaultBackoffMin        = 100 * time.Millisecond
	DefaultBackoffMax        = 5 * time.Second
)

// ErrInvalidConfig is consumer.ErrInvalidConfig: Join's error for a Config that cannot
// work.
var ErrInvalidConfig = consumer.ErrInvalidConfig

// ErrClosed is troupe.ErrClosed: Poll's error once the member is closed.
var ErrClosed = consumer.ErrClosed

// ErrInvalidAssignment is matched by the member's error when the assignor it runs as
// the group's leader gives a partition twice, or one that does not exist, or to someone
// who is not a member.
var ErrInvalidAssignment = errors.New("group: invalid assignment")

// ErrNotMember is matched by Commit's error while the member has no generation to commit
// in (it is joining or rebalancing): nothing was committed.
var ErrNotMember = errors.New("group: not a member of the group now")

// maxTopicName is Kafka's longest topic name.
const maxTopicName = 249

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Group == "":
		return c, fmt.Errorf("%w: Group is required", ErrInvalidConfig)
	case len(c.Topics) == 0 && c.TopicPattern == "":
		return c, fmt.Errorf("%w: Topics or TopicPattern is required", ErrInvalidConfig)
	case len(c.Topics) > 0 && c.TopicPattern != "":
		return c, fmt.Errorf("%w: Topics and TopicPattern are exclusive: subscribe by names or by pattern", ErrInvalidConfig)
	case c.MatchInternalTopics && c.TopicPattern == "":
		return c, fmt.Errorf("%w: MatchInternalTopics is for TopicPattern", ErrInvalidConfig)
	case c.MatchInternalTopics && c.Protocol == Consumer:
		return c, fmt.Errorf("%w: MatchInternalTopics is for the classic protocol; a consumer-protocol coordinator matches TopicPattern itself", ErrInvalidConfig)
	case c.Protocol != Classic && c.Protocol != Consumer:
		return c, fmt.Errorf("%w: unknown Protocol %d", ErrInvalidConfig, c.Protocol)
	case c.Protocol == Consumer && len(c.Assignors) > 0:
		return c, fmt.Errorf("%w: Assignors are for the classic protocol; a consumer-protocol group is assigned by its coordinator (ServerAssignor)", ErrInvalidConfig)
	case c.Protocol == Classic && c.ServerAssignor != "":
		return c, fmt.Errorf("%w: ServerAssignor is for the consumer protocol; a classic group is assigned by its leader (Assignors)", ErrInvalidConfig)
	case c.SessionTimeout < 0 || c.HeartbeatInterval < 0 || c.ProcessingTime < 0 || c.AutoCommitInterval < 0:
		return c, fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	}
	for _, t := range c.Topics {
		if t == "" || len(t) > maxTopicName {
			return c, fmt.Errorf("%w: topic name %q: empty or longer than %d", ErrInvalidConfig, t, maxTopicName)
		}
	}
	if c.TopicPattern != "" {
		if _, err := compilePattern(c.TopicPattern); err != nil {
			return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	if len(c.Assignors) == 0 && c.Protocol == Classic {
		c.Assignors = []Assignor{Range()}
	}
	seen := make(map[string]bool)
	for _, a := range c.Assignors {
		if a == nil || a.Name() == "" {
			return c, fmt.Errorf("%w: an Assignor without a name", ErrInvalidConfig)
		}
		if seen[a.Name()] {
			return c, fmt.Errorf("%w: assignor %q named twice", ErrInvalidConfig, a.Name())
		}
		seen[a.Name()] = true
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ProcessingTime == 0 {
		c.ProcessingTime = DefaultProcessingTime
	}
	if c.AutoCommitInterval == 0 {
		c.AutoCommitInterval = DefaultAutoCommitInterval // the Committer's default
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return c, fmt.Errorf("%w: HeartbeatInterval %v is not below SessionTimeout %v", ErrInvalidConfig, c.HeartbeatInterval, c.SessionTimeout)
	}
	if c.SessionTimeout > time.Duration(1<<31-1)*time.Millisecond || c.ProcessingTime > time.Duration(1<<31-1)*time.Millisecond {
		return c, fmt.Errorf("%w: a timeout above 2^31 ms", ErrInvalidConfig)
	}
	if c.Backoff.Min == 0 {
		c.Backoff.Min = DefaultBackoffMin
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = DefaultBackoffMax
	}
	return c, nil
}

// Member is one member of a consumer group (classic, or KIP-848's consumer protocol:
// Config.Protocol), reading the partitions the group assigns it through a
// consumer.Reader: Poll, Batches and Records are the Reader's, over whatever the member
// owns at the time.
//
// Its actors, supervised together (Actors lists them):
//
//	group <id> (supervisor)
//	├── member <id>    the protocol: coordinator, JoinGroup/SyncGroup or ConsumerGroupHeartbeat, leave
//	└── handoff <id>   the hand-off: partitions to the reader and back, callbacks, commits
//
// The member actor never waits for the user, so heartbeats go on while the user
// processes a batch. Partitions move by an explicit hand-off: when the coordinator
// rebalances, the hand-off actor stops fetching what the member gives up (everything
// under an eager assignor; under a cooperative one only what moves to another member,
// once the new assignment says so), waits until the user comes back from the batches
// in hand (the next Poll, or Close), runs OnRevoked, commits what the user finished,
// and only then lets the member rejoin. What was finished is also committed every
// AutoCommitInterval, and by Commit and Close. What counts as finished (at-least-once):
// the batches an earlier Poll returned, each record the Records iterator moved past,
// each batch the Batches iterator moved past, and what Mark names; never records merely
// fetched.
//
// Poll is meant for one goroutine at a time; the other methods are safe for concurrent
// use.
type Member struct {
	cfg    Config
	ccfg   consumer.Config
	client *cluster.Client
	r      *consumer.Reader
	log    *slog.Logger

	sup    *supervisor.Supervisor
	proc   *actor.Process
	member actor.Ref[memberMsg]
	hand   actor.Ref[handoffMsg]

	info   atomic.Pointer[memberInfo] // published by the member actor (setInfo)
	infoMu sync.Mutex
	infoCh chan struct{} // closed at the next change of info's member ID or generation

	joined    chan struct{} // closed at the first assignment
	joinOnce  sync.Once
	closeOnce sync.Once
	closeErr  error

	pollMu sync.Mutex // one Poll at a time
	// last is what the previous Poll returned, as the offsets its batches end at: read
	// at the Poll, so that batches given back (Release) before the next still count.
	last []returned

	commitMu sync.Mutex // one commit at a time

	mu    sync.Mutex
	owned map[consumer.About]uint64 // the token of the partition's current ownership
	token uint64
	// l is the commit bookkeeping of the partitions owned (the Committer's, ledger.go):
	// an entry lives as long as one ownership of its partition, from the assignment
	// (the committed offset fetched) to the revocation or loss (forget).
	l        *ledger
	revoking map[consumer.About]bool // being given up: Poll returns nothing of theirs
	pending  []*consumer.Batch       // error batches for the next Poll
	changed  chan struct{}           // closed at the next change of owned (settled)
	inHand   bool
	inHandAt time.Time     // when the user last took batches (Poll) or moved on (the iterators)
	away     bool          // the member left: its user overran ProcessingTime; the next Poll rejoins
	back     chan struct{} // closed when the user comes back from the batches in hand
	fatal    error
	closing  bool
	// A loss voids what the hand-off was asked to do before it for the partitions it
	// takes away: the assignments and automatic commits sent before it (each carries the
	// loss epoch it was sent in) are skipped, and the one being carried out is cancelled
	// (voidable). Automatic commits are queued one at a time (autoQueued), so that a slow
	// coordinator does not pile them up in front of a loss.
	autoQueued bool
	lossEpoch  uint64
	voidable   context.CancelFunc
	// adding cancels the reader's lookups of where the partitions being taken start
	// (their dispatcher looks again): a revocation or a loss must not wait for them
	// behind a broker that does not answer.
	adding context.CancelFunc
	// A revocation overtakes the assignments sent before it, for the partitions it
	// names: they are not taken (no OnAssigned, not added to the reader), or, when
	// OnAssigned has run already, not added or taken out of the reader again at once,
	// and the revocation then gives them up. Each assignment carries its sequence
	// number (assignSeq counts them); overtaken says, per partition, the last
	// assignment sent before a revocation of it. The assignment being taken is taking
	// (from takingSeq), cancelled by takingVoid once a revocation names all of it.
	assignSeq  uint64
	overtaken  map[consumer.About]uint64
	taking     []consumer.About
	takingSeq  uint64
	takingVoid context.CancelFunc
}

// memberInfo is what the member actor publishes for commits.
type memberInfo struct {
	memberID   string
	generation int32
	// interval is the heartbeat interval (KIP-848: the coordinator's): the member hears
	// of a new member epoch within about that long.
	interval    time.Duration
	cooperative bool // the generation rebalances cooperatively (KIP-429)
}

// committed is a partition's committed offset, as fetched when it is assigned.
type committed struct {
	offset int64
	epoch  int32
}

// Join starts a member of cfg.Group reading through c, and returns once the member has
// its first assignment (possibly empty), or with the member's fatal error (a refused
// group, say: errors.Is(err, errcode.GroupAuthorizationFailed)) or the context's
// cause; on an error the member is closed. A Config that cannot work fails with
// ErrInvalidConfig.
func Join(ctx context.Context, c *consumer.Consumer, cfg Config) (*Member, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ccfg := c.Config()
	if cfg.Logger == nil {
		cfg.Logger = ccfg.Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(discard{})
	}
	r, err := c.NewReader()
	if err != nil {
		return nil, err
	}
	m := &Member{
		cfg: cfg, ccfg: ccfg, client: c.Client(), r: r, log: cfg.Logger.With("group", cfg.Group),
		joined: make(chan struct{}), owned: make(map[consumer.About]uint64),
		l: newLedger(), revoking: make(map[consumer.About]bool),
		back: make(chan struct{}),
	}
	close(m.back)
	m.setInfo(&memberInfo{generation: -1})
	m.sup = supervisor.New(supervisor.Config{
		Name: "group " + cfg.Group, Logger: cfg.Logger, Backoff: cfg.Backoff,
		// Its actors fail only on a bug; a supervisor that gave up would leave the member
		// silently dead, its Poll waiting for ever. Restarted, with backoff, they rejoin.
		Intensity: supervisor.Unlimited,
	})
	m.hand, err = supervisor.Add(m.sup, supervisor.ChildSpec[handoffMsg]{
		Name: "handoff " + cfg.Group, Kind: "group-handoff", Restart: supervisor.Transient,
		New: func() actor.Actor[handoffMsg] { return &handoff{m: m} },
		// Unbounded, and bounded all the same: the member actor sends one message per
		// step of the protocol and waits for each revocation to finish before it
		// rejoins, so a handful at most are ever queued.
		Mailbox: actor.MailboxConfig[handoffMsg]{Capacity: actor.Unbounded, OnDrop: func(h handoffMsg) {
			h.fail(ErrClosed)
			if h.kind == handCommit {
				h.answer(CommitResult{Group: cfg.Group, Err: ErrClosed}) // CommitAsync's: reported, never lost
			}
			if h.kind == handRevoke {
				// Not carried out (the hand-off failed on it, or stopped): the member
				// must not wait for it to rejoin.
				_ = m.member.TrySend(memberMsg{revoked: true})
			}
		}},
	})
	if err == nil {
		m.member, err = supervisor.Add(m.sup, supervisor.ChildSpec[memberMsg]{
			Name: "member " + cfg.Group, Kind: "group-member", Restart: supervisor.Transient,
			New: func() actor.Actor[memberMsg] {
				if cfg.Protocol == Consumer {
					return newMemberActor848(m)
				}
				return newMemberActor(m)
			},
			// Its senders are calls' Done callbacks on connection goroutines and the
			// hand-off, which cannot wait and use TrySend: a capacity could only turn a
			// burst nobody foresaw into an answer dropped silently (ErrFull) and a
			// member waiting for it for ever.
			// Unbounded, and bounded all the same: its messages are the answers to its
			// own requests (at most one join, sync, leave or coordinator lookup, and one
			// heartbeat, in flight), metadata for the leader, and the hand-off's and
			// Close's notes: a few at a time.
			Mailbox: actor.MailboxConfig[memberMsg]{Capacity: actor.Unbounded, OnDrop: func(mm memberMsg) { mm.fail(ErrClosed) }},
			// An incarnation that failed owned the member's place in the group; its
			// partitions are lost (not committed) before the next one joins afresh.
			Release: func(actor.Actor[memberMsg], error) { _ = m.hand.TrySend(handoffMsg{kind: handLostAll}) },
		})
	}
	if err != nil {
		_ = r.Close(context.Background())
		return nil, err
	}
	m.proc = m.sup.Start(context.Background())
	select {
	case <-m.joined:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if err == nil {
		err = m.failure()
	}
	if err != nil {
		_ = m.Close(context.Background())
		return nil, err
	}
	return m, nil
}

type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }

func (m *Member) failure() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fatal
}

// setFatal records the member's end and wakes Join; the hand-off closes the reader.
func (m *Member) setFatal(err error) {
	m.mu.Lock()
	if m.fatal == nil {
		m.fatal = err
	}
	m.mu.Unlock()
	m.joinOnce.Do(func() { close(m.joined) })
}

// fail ends the member on a fatal error, from the hand-off's side or either protocol's
// member actor: what it owns is lost, Poll returns err, and the member actor stops
// without leaving the group (Close still tries to).
func (m *Member) fail(err error) {
	m.log.Error("group member: failed", "err", err)
	m.setFatal(err)
	_ = m.hand.TrySend(handoffMsg{kind: handFatal})
}

// MemberID is the ID the coordinator gave the member, or "" before it has one.
func (m *Member) MemberID() string { return m.info.Load().memberID }

// Generation is the group's generation the member last joined, or -1 before it joined.
func (m *Member) Generation() int32 { return m.info.Load().generation }

// Assigned lists the partitions the member owns now, in no particular order.
func (m *Member) Assigned() []consumer.About {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]consumer.About, 0, len(m.owned))
	for a := range m.owned {
		out = append(out, a)
	}
	return out
}

// settled returns a channel closed at the member's next change of assignment.
func (m *Member) settled() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changed == nil {
		m.changed = make(chan struct{})
	}
	return m.changed
}

// noteChangeLocked wakes those waiting on settled. m.mu is held.
func (m *Member) noteChangeLocked() {
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
}

// Actors lists the member's actors, for observability.
func (m *Member) Actors() []actor.Info { return m.sup.Children() }

// Poll waits, bounded by ctx, for batches of the partitions the member owns, as
// consumer.Reader.Poll does. Calling it tells the member that the user is done with what
// the previous Poll returned: those records count as finished (committable), and a
// rebalance waiting for the user goes on. It returns only batches of partitions the
// member still owns. Its errors: the context's cause; the member's fatal error (it was
// fenced, or the group refused it: errors.Is with the errcode value); ErrClosed after
// Close.
func (m *Member) Poll(ctx context.Context) ([]*consumer.Batch, error) {
	m.pollMu.Lock()
	defer m.pollMu.Unlock()
	m.comeBack(true)
	for {
		m.mu.Lock()
		fatal, closing, pending := m.fatal, m.closing, m.pending
		m.pending = nil
		m.mu.Unlock()
		switch {
		case fatal != nil:
			return nil, fatal
		case closing:
			return nil, ErrClosed
		case len(pending) > 0:
			return pending, nil // errors carry no records: nothing is in hand
		}
		bs, err := m.r.Poll(ctx)
		if err != nil {
			if errors.Is(err, consumer.ErrClosed) {
				if f := m.failure(); f != nil {
					return nil, f
				}
			}
			return nil, err
		}
		m.mu.Lock()
		if m.closing {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		out := bs[:0]
		m.last = m.last[:0]
		for _, b := range bs {
			a := consumer.About{Topic: b.Topic, Partition: b.Partition}
			tok := m.owned[a]
			if tok == 0 || m.revoking[a] {
				m.r.Release(b) // revoked or lost since it was fetched: its new owner reads it
				continue
			}
			out = append(out, b)
			if n := len(b.Records); n > 0 {
				m.last = append(m.last, returned{a: a, token: tok, next: b.NextOffset, epoch: b.Records[n-1].LeaderEpoch})
			}
		}
		if len(out) > 0 {
			m.inHand, m.inHandAt = true, time.Now()
			m.back = make(chan struct{})
		}
		m.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
	}
}

// returned is a batch with records that Poll returned: where it ends, the leader epoch
// of its last record, and the token of the ownership it was returned under.
type returned struct {
	a     consumer.About
	token uint64
	next  int64
	epoch int32
}

// Release gives batches Poll returned back to the member's reader, as
// consumer.Reader.Release does: their records must not be used afterwards. What counts as
// finished is unchanged: the batches of the previous Poll, at the next one (or marked).
func (m *Member) Release(bs ...*consumer.Batch) { m.r.Release(bs...) }

// comeBack: the user is back from the batches in hand; with finish, they count as
// finished.
func (m *Member) comeBack(finish bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if finish {
		for _, x := range m.last {
			if m.owned[x.a] == x.token {
				m.finishLocked(x.a, x.next, x.epoch)
			}
		}
	}
	m.last = m.last[:0]
	if m.inHand {
		m.inHand = false
		close(m.back)
	}
	if m.away && !m.closing {
		m.away = false
		m.log.Info("group member: the user is back; rejoining")
		_ = m.member.TrySend(memberMsg{back: true})
	}
}

// queueAutoCommit reports whether an automatic commit may be queued (none is), and the
// loss epoch it is sent in.
func (m *Member) queueAutoCommit() (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.autoQueued {
		return 0, false
	}
	m.autoQueued = true
	return m.lossEpoch, true
}

// nextAssignment numbers an assignment the member actor is about to send to the
// hand-off: it returns the loss epoch it is sent in and its sequence number.
func (m *Member) nextAssignment() (epoch, seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assignSeq++
	return m.lossEpoch, m.assignSeq
}

// overtake is called by the member actor before it sends a revocation of parts: the
// assignments sent before it do not take them (see Member.overtaken), the one being
// taken is cancelled if nothing of it is left, and the wait of an add in progress for
// where its partitions start is cancelled (the revocation must not wait behind it). It
// returns the revocation's sequence number: the last assignment sent before it.
func (m *Member) overtake(parts []TopicPartitions) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.overtaken == nil {
		m.overtaken = make(map[consumer.About]uint64)
	}
	for _, a := range abouts(parts) {
		m.overtaken[a] = m.assignSeq
	}
	if m.taking != nil && len(m.remainingLocked(m.taking, m.takingSeq)) == 0 {
		m.takingVoid()
	}
	if m.adding != nil {
		m.adding()
	}
	return m.assignSeq
}

// remainingLocked returns the partitions of parts, of the assignment numbered seq, that
// no revocation sent after it names. m.mu is held.
func (m *Member) remainingLocked(parts []consumer.About, seq uint64) []consumer.About {
	out := parts[:0:0]
	for _, a := range parts {
		if at, ok := m.overtaken[a]; !ok || at < seq {
			out = append(out, a)
		}
	}
	return out
}

// remaining is remainingLocked, taking m.mu.
func (m *Member) remaining(parts []consumer.About, seq uint64) []consumer.About {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.remainingLocked(parts, seq)
}

// overtook forgets what a revocation numbered seq, now carried out, said about the
// assignments sent before it: the hand-off has dealt with them all.
func (m *Member) overtook(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, at := range m.overtaken {
		if at <= seq {
			delete(m.overtaken, a)
		}
	}
}

// declareLoss is called by the member actor before it sends a loss to the hand-off: the
// assignment or automatic commit being carried out is cancelled, and those queued are
// void. Nothing of lost partitions is committed, an assignment the member no longer
// holds is not taken (OnAssigned, fetching), and the loss waits for neither.
func (m *Member) declareLoss() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lossEpoch++
	if m.voidable != nil {
		m.voidable()
	}
	if m.adding != nil {
		m.adding()
	}
}

// startVoidable starts the hand-off's work for a message sent in loss epoch e: it
// reports false if a loss came since, and otherwise returns a context that the next
// loss cancels, and the function to call when the work is done.
func (m *Member) startVoidable(ctx context.Context, e uint64) (context.Context, func(), bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e != m.lossEpoch {
		return nil, nil, false
	}
	vctx, cancel := context.WithCancel(ctx)
	m.voidable = cancel
	return vctx, func() {
		m.mu.Lock()
		m.voidable = nil
		m.mu.Unlock()
		cancel()
	}, true
}

// progressed notes that the user moved on through the batches in hand (the iterators):
// the processing time counts from here.
func (m *Member) progressed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inHand {
		m.inHandAt = time.Now()
	}
}

// overdue returns when the user in hand overruns ProcessingTime (zero: no batch in
// hand).
func (m *Member) overdue() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.inHand || m.away || m.closing { // as expire: past it, nothing is due
		return time.Time{}
	}
	return m.inHandAt.Add(m.cfg.ProcessingTime)
}

// expire reports whether, at now, the user has overrun ProcessingTime, and if so notes
// the member away: the user's next Poll brings it back.
func (m *Member) expire(now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.inHand || m.away || m.closing || now.Before(m.inHandAt.Add(m.cfg.ProcessingTime)) {
		return false
	}
	m.away = true
	return true
}

func (m *Member) finishLocked(a consumer.About, next int64, epoch int32) {
	m.l.mark(cluster.TopicPartition{Topic: a.Topic, Partition: a.Partition}, next, epoch)
}

// Mark counts records as finished: the next commit includes them (and everything before
// them in their partitions). Records of partitions the member no longer owns are ignored.
func (m *Member) Mark(records ...*troupe.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range records {
		a := consumer.About{Topic: r.Topic, Partition: r.Partition}
		if m.owned[a] != 0 {
			m.finishLocked(a, r.Offset+1, r.LeaderEpoch)
		}
	}
}

// Batches iterates over what Poll returns, batch by batch, as consumer.Reader.Batches
// does; a batch counts as finished once the loop body has run for it.
func (m *Member) Batches(ctx context.Context) iter.Seq2[*consumer.Batch, error] {
	return func(yield func(*consumer.Batch, error) bool) {
		for {
			bs, err := m.Poll(ctx)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, b := range bs {
				var last troupe.Record // read before the body, which may Release b
				if n := len(b.Records); n > 0 {
					last = b.Records[n-1]
				}
				if !yield(b, b.Err) {
					return
				}
				m.progressed()
				if last.Topic != "" {
					m.Mark(&last)
				}
			}
		}
	}
}

// Records iterates over the member's records one by one, as consumer.Reader.Records
// does; a record counts as finished once the loop body has run for it, so breaking out
// of the loop leaves the record in hand unfinished.
func (m *Member) Records(ctx context.Context) iter.Seq2[*troupe.Record, error] {
	return func(yield func(*troupe.Record, error) bool) {
		for {
			bs, err := m.Poll(ctx)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, b := range bs {
				if b.Err != nil {
					if !yield(nil, b.Err) {
						return
					}
					continue
				}
				for i := range b.Records {
					if !yield(&b.Records[i], nil) {
						return
					}
					m.progressed()
					m.Mark(&b.Records[i])
				}
			}
		}
	}
}

// Commit commits, for every partition the member owns, the offset after the last
// finished record (see Member), unless that is already committed: a commit never moves
// an offset backwards. It fails with ErrNotMember while the member is between
// generations, with a *CommitError naming the partitions the coordinator refused (its
// errcode values match with errors.Is; they stay finished, and the next commit carries
// them again while the member owns them), or with ctx's cause. A commit refused because
// the generation moved on while it was in flight is sent again, once, with the new
// generation, for the partitions the member kept throughout; for the others it is
// reported and dropped, as they were given up or lost meanwhile. Under the Consumer
// protocol a commit refused with STALE_MEMBER_EPOCH while the member knows of no newer
// epoch is sent again, once, with the epoch the member has after its next heartbeat's
// answer (the coordinator moves a member's epoch on in the answer to a heartbeat, which
// may come after the commit's), for the partitions it kept.
func (m *Member) Commit(ctx context.Context) error {
	return m.commit(ctx, nil, nil).Err
}

// CommitAsync is Commit without waiting, as Committer.CommitAsync: done (if not nil)
// receives the outcome exactly once, on the member's hand-off goroutine (so it must
// not block, and must not call Commit or Close), in order with the rebalance's own
// commits; a revocation waiting for the user to come back delays it. If the member is
// closed, done is called with ErrClosed. ctx bounds the commit.
func (m *Member) CommitAsync(ctx context.Context, done func(CommitResult)) {
	if ctx == nil {
		ctx = context.Background()
	}
	msg := handoffMsg{kind: handCommit, ctx: ctx, done: done}
	m.mu.Lock()
	closing := m.closing
	m.mu.Unlock()
	if closing {
		msg.answer(CommitResult{Group: m.cfg.Group, Err: ErrClosed})
		return
	}
	if err := m.hand.TrySend(msg); err != nil {
		msg.answer(CommitResult{Group: m.cfg.Group, Err: fmt.Errorf("%w: %w", ErrClosed, err)})
	}
}

// commit commits the finished offsets of parts (nil: all owned) as info's member (nil:
// the current one). It is the member's one commit path: the ledger says what is due
// and files what was committed.
//
// The member keeps its own ledger rather than a Committer's actor: its commits must be
// ordered with the hand-off (an automatic commit never races a revocation, whose commit
// belongs to the old generation and to the revoked partitions only), and the member's
// supervisor owns its goroutines; a Committer would add a third goroutine outside it,
// with its own timer. The rules are the ledger's, shared with the Committer.
func (m *Member) commit(ctx context.Context, parts []consumer.About, info *memberInfo) CommitResult {
	m.commitMu.Lock()
	defer m.commitMu.Unlock()
	if info == nil {
		info = m.info.Load()
	}
	res := CommitResult{Group: m.cfg.Group}
	m.mu.Lock()
	var only []cluster.TopicPartition // nil: every partition
	if parts != nil {
		only = make([]cluster.TopicPartition, len(parts))
		for i, a := range parts {
			only[i] = cluster.TopicPartition{Topic: a.Topic, Partition: a.Partition}
		}
	}
	due := m.l.dueOf(only)
	toks := make(map[consumer.About]uint64, len(due)) // each partition's ownership the commit is for
	for _, o := range due {
		a := consumer.About{Topic: o.Topic, Partition: o.Partition}
		toks[a] = m.owned[a]
	}
	m.mu.Unlock()
	if len(due) == 0 {
		return res
	}
	var results []cluster.OffsetCommitResult
	if info.memberID == "" || info.generation < 0 {
		results = failAll(due, ErrNotMember)
	} else {
		results = m.send(ctx, info, due)
		if cur := m.sendAgainAs(ctx, info, results); cur != nil {
			m.mu.Lock()
			keep := m.owned
			again, at := retryable(results, toks, func(a consumer.About) uint64 { return keep[a] })
			m.mu.Unlock()
			if len(again) > 0 {
				m.log.Info("group member: commit refused because the generation or member epoch moved on; sending it again with the current one for the partitions kept",
					"from", info.generation, "to", cur.generation, "partitions", len(again))
				for k, r := range m.send(ctx, cur, again) {
					results[at[k]] = r
				}
			}
		}
	}
	m.mu.Lock()
	// Filed only for the ownership they were sent for: a partition given up and taken
	// again meanwhile has a new entry, which this commit says nothing about.
	filed := results[:0:0]
	for _, r := range results {
		if a := (consumer.About{Topic: r.Topic, Partition: r.Partition}); m.owned[a] == toks[a] {
			filed = append(filed, r)
		}
	}
	m.l.sent(filed)
	m.mu.Unlock()
	res.Offsets = results
	if info.memberID == "" || info.generation < 0 {
		res.Err = ErrNotMember
	} else {
		res.Err = commitErr(m.cfg.Group, results)
	}
	return res
}

// send commits offs as info's member; a request that failed as a whole fails each
// partition with its error.
func (m *Member) send(ctx context.Context, info *memberInfo, offs []cluster.OffsetCommit) []cluster.OffsetCommitResult {
	as := &cluster.GroupMember{Generation: info.generation, MemberID: info.memberID, InstanceID: m.cfg.InstanceID}
	got, err := m.client.CommitOffsets(ctx, m.cfg.Group, as, offs...)
	if err != nil {
		return failAll(offs, err)
	}
	return got
}

func failAll(offs []cluster.OffsetCommit, err error) []cluster.OffsetCommitResult {
	out := make([]cluster.OffsetCommitResult, len(offs))
	for i, o := range offs {
		out[i] = cluster.OffsetCommitResult{OffsetCommit: o, Err: err}
	}
	return out
}

// generationMoved reports whether a commit was refused because the member's generation
// (or KIP-848 member epoch) is no longer the group's.
func generationMoved(err error) bool {
	return errors.Is(err, errcode.IllegalGeneration) || errors.Is(err, errcode.RebalanceInProgress) ||
		errors.Is(err, errcode.StaleMemberEpoch)
}

// retryable picks, of a commit's results, those refused because the generation moved
// on whose partition the member still owns without a break since the commit read its
// offsets: tokens are the partitions' ownership tokens then, owner says the token now
// (0: not owned; tokens are never reused). It returns them to send again and, for each, its index in results.
// The others are reported and dropped: what they carry belongs to an ownership that
// ended, and committing it now could overwrite the new owner's progress.
func retryable(results []cluster.OffsetCommitResult, tokens map[consumer.About]uint64, owner func(consumer.About) uint64) ([]cluster.OffsetCommit, []int) {
	var again []cluster.OffsetCommit
	var at []int
	for i, r := range results {
		if !generationMoved(r.Err) {
			continue
		}
		a := consumer.About{Topic: r.Topic, Partition: r.Partition}
		if tok := owner(a); tok != 0 && tok == tokens[a] {
			again = append(again, r.OffsetCommit)
			at = append(at, i)
		}
	}
	return again, at
}

// Close gives up everything the member owns (as a rebalance does: OnRevoked, then a
// commit of what was finished — the batches of the last Poll count only as far as they
// were marked or iterated past), leaves the group (a static member does not send
// LeaveGroup), and stops the member's actors and its reader. It returns once done, or
// with the context's cause; it is idempotent. Either way, when it returns every
// partition the member held has ended with a callback: what ctx ended before it could be
// revoked cleanly (its OnRevoked and commit) is lost instead (OnLost, nothing of it
// committed), and Assigned is empty.
func (m *Member) Close(ctx context.Context) error {
	m.closeOnce.Do(func() { m.closeErr = m.close(ctx) })
	return m.closeErr
}

func (m *Member) close(ctx context.Context) error {
	m.mu.Lock()
	m.closing = true
	m.mu.Unlock()
	m.comeBack(false)
	var errs []error
	if _, err := actor.Ask(ctx, m.hand, func(r actor.Reply[struct{}]) handoffMsg {
		return handoffMsg{kind: handCloseAll, reply: r}
	}); err != nil && !errors.Is(err, actor.ErrStopped) {
		errs = append(errs, err)
	}
	if _, err := actor.Ask(ctx, m.member, func(r actor.Reply[struct{}]) memberMsg {
		return memberMsg{leave: r}
	}); err != nil && !errors.Is(err, actor.ErrStopped) {
		errs = append(errs, err)
	}
	if err := m.proc.Stop(ctx); err != nil {
		errs = append(errs, err)
		// Out of time: stop the actors without their drain (a callback still running
		// sees its context cancelled), bounded as a supervisor bounds a child's stop.
		cctx, cancel := context.WithTimeout(context.Background(), supervisor.DefaultStopTimeout)
		_ = m.proc.Cancel(cctx)
		cancel()
	}
	if err := m.r.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
