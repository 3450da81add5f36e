package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/wire/cluster"
)

// CommitterConfig configures a Committer. Every zero field means its documented default.
type CommitterConfig struct {
	// Reset says where a partition the group has no committed offset for starts (Starts,
	// Assign), as Java's auto.offset.reset: consumer.ResetEarliest (the zero value) at its
	// oldest record, consumer.ResetLatest at its end, consumer.ResetNone nowhere: Starts
	// fails for it with ErrNoCommittedOffset. (A committed offset that is out of range when
	// the reader gets there is the consumer's Config.OffsetReset's to decide.)
	Reset consumer.ResetPolicy
	// AutoCommitInterval is how often what was marked is committed without being asked.
	// Zero means 5s.
	AutoCommitInterval time.Duration
	// DisableAutoCommit turns the interval's commits off: only Commit, CommitAsync,
	// CommitOffsets and Close commit.
	DisableAutoCommit bool
	// CommitTimeout bounds each commit the Committer makes (retries included). Zero
	// means 30s.
	CommitTimeout time.Duration
	// OnCommit, if set, receives every commit the Committer makes — automatic, on
	// request, or on Close — with each partition's outcome, on the Committer's goroutine:
	// it must not block. Failed commits are also logged.
	OnCommit func(CommitResult)
	// Logger receives the Committer's records. Nil discards them.
	Logger *slog.Logger
}

// Documented defaults of CommitterConfig.
const (
	DefaultAutoCommitInterval = 5 * time.Second
	DefaultCommitTimeout      = 30 * time.Second
)

func (c CommitterConfig) withDefaults() (CommitterConfig, error) {
	if c.AutoCommitInterval < 0 || c.CommitTimeout < 0 {
		return c, fmt.Errorf("%w: negative interval or timeout", consumer.ErrInvalidConfig)
	}
	if c.Reset > consumer.ResetNone {
		return c, fmt.Errorf("%w: reset policy %d", consumer.ErrInvalidConfig, c.Reset)
	}
	if c.AutoCommitInterval == 0 {
		c.AutoCommitInterval = DefaultAutoCommitInterval
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// ErrNoCommittedOffset is matched by the error of Starts and Assign for partitions the
// group has no committed offset for when the reset policy is consumer.ResetNone; and by
// the Err of the batch a Member's Poll returns for such a partition it was assigned (the
// member does not read it: the user decides, commits an offset, and the next rebalance
// brings it back).
var ErrNoCommittedOffset = errors.New("group: no committed offset")

// CommitResult reports one commit: the group, what was sent with each partition's
// outcome, and Err, nil when every partition's offset was stored. Otherwise Err is a
// *CommitError (some partitions refused), or why nothing was committed (the Committer was
// closed: consumer.ErrClosed; the commit's context ended). A commit with nothing to send
// (nothing marked since the last) has no Offsets and a nil Err.
//
// It is a troupe.Event, so it can be passed on to the same hook as a consumer's events.
type CommitResult struct {
	Group   string
	Offsets []cluster.OffsetCommitResult
	Err     error
}

// String says what was committed, or why not.
func (r CommitResult) String() string {
	if r.Err != nil {
		return fmt.Sprintf("group %q: commit: %v", r.Group, r.Err)
	}
	return fmt.Sprintf("group %q: committed %d partitions", r.Group, len(r.Offsets))
}

// Source names the group.
func (r CommitResult) Source() string { return "group " + r.Group }

var _ troupe.Event = CommitResult{}

// CommitError is a commit some partitions of which were refused. Each refused partition's
// error is in Failed and is unwrapped, so errors.Is(err, errcode.IllegalGeneration) and
// the like match. The partitions are still marked: the next commit carries them again.
type CommitError struct {
	Group  string
	Failed []cluster.OffsetCommitResult
}

func (e *CommitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group %q: commit of %d partitions failed: ", e.Group, len(e.Failed))
	for i, f := range e.Failed {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Err.Error())
	}
	return b.String()
}

// Unwrap returns each refused partition's error.
func (e *CommitError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Err
	}
	return out
}

// commitErr is the error of a commit whose partitions answered results: nil when all were
// stored.
func commitErr(group string, results []cluster.OffsetCommitResult) error {
	var failed []cluster.OffsetCommitResult
	for _, r := range results {
		if r.Err != nil {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &CommitError{Group: group, Failed: failed}
}

// Committer commits a group's offsets for partitions its user reads, at least once: what
// it commits is only what the user marked finished (MarkRecords, MarkBatch) or gave
// explicitly (CommitOffsets), never records merely fetched. A record that was fetched and
// not finished when the program stopped is read again by whoever resumes from the commit.
//
// It serves partitions the user assigns itself (manual assignment: commits are made
// outside the group's membership, with generation -1 and no member ID, which the
// coordinator accepts while the group has no members). Starts and Assign find where each
// partition resumes: its committed offset, or the Reset policy's end where it has none.
//
// Commits are made by one actor, one at a time, so they land in order and no commit the
// Committer makes moves a partition's offset backwards: a partition is committed only
// when its mark is ahead of what the group has (as fetched by Starts, or committed since).
// The actor commits every AutoCommitInterval, on Commit (waiting for the outcome),
// CommitAsync (reporting it to a callback) and Close (a last commit); requests that
// arrive while a commit is in flight are answered together by the next one. Every outcome
// also goes to OnCommit.
//
// Its methods are safe for concurrent use. Close it before the consumer whose client it
// uses, or its last commit cannot be sent.
type Committer struct {
	client *cluster.Client
	group  string
	cfg    CommitterConfig

	mu     sync.Mutex
	l      *ledger
	member *cluster.GroupMember // nil: outside the group's membership
	closed bool

	ref  actor.Ref[commitMsg]
	proc *actor.Process
}

// commitMsg asks the committer actor for a commit: of the marks, after setting explicit
// offsets; answered through reply (Commit, CommitOffsets, Close) or done (CommitAsync).
// last asks for the last commit: the actor ends after it.
type commitMsg struct {
	explicit []cluster.OffsetCommit
	reply    actor.Reply[CommitResult]
	done     func(CommitResult)
	last     bool
}

func (m commitMsg) answer(r CommitResult) {
	if m.done != nil {
		m.done(r)
	}
	m.reply.Send(r, nil)
}

// committerQueue is the most commit requests queued for the actor; CommitAsync waits for
// room beyond it. Requests queued while a commit is in flight are all answered by the
// next one, so the queue rarely holds more than a few.
const committerQueue = 256

// NewCommitter returns a Committer of group's offsets, committing through c's cluster
// client. It fails with consumer.ErrInvalidConfig for an empty group or a config that
// cannot work. Close it when done.
func NewCommitter(c *consumer.Consumer, group string, cfg CommitterConfig) (*Committer, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: no consumer", consumer.ErrInvalidConfig)
	}
	return newCommitter(c.Client(), group, nil, cfg)
}

// newCommitter is NewCommitter for a cluster client and a member identity (nil: commits
// from outside the membership). A group member makes its own with its identity, and
// moves it on with setMember at each generation.
func newCommitter(client *cluster.Client, group string, member *cluster.GroupMember, cfg CommitterConfig) (*Committer, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: empty group ID", consumer.ErrInvalidConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Committer{client: client, group: group, cfg: cfg, l: newLedger(), member: member}
	c.ref, c.proc = actor.Start(context.Background(), "committer "+group, actor.Actor[commitMsg](&committerActor{c: c}), actor.Options[commitMsg]{
		Mailbox: actor.MailboxConfig[commitMsg]{
			Capacity: committerQueue,
			// A request the actor will never take (it ended) is answered, never lost.
			OnDrop: func(m commitMsg) { m.answer(CommitResult{Group: group, Err: consumer.ErrClosed}) },
		},
		Kind:   "committer",
		Logger: cfg.Logger,
	})
	return c, nil
}

// setMember changes who commits: a group member's identity at its current generation.
// Commits already in flight keep the identity they were sent with.
func (c *Committer) setMember(m *cluster.GroupMember) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.member = m
}

// stoppedLocked returns why the Committer takes no more marks or commits (c.mu held): it
// was closed, or its actor failed (a panic in OnCommit, say), in which case the error
// says how; nil while it runs.
func (c *Committer) stoppedLocked() error {
	if c.closed {
		return consumer.ErrClosed
	}
	select {
	case <-c.proc.Done():
		return c.stopped()
	default:
		return nil
	}
}

// stopped is the error for a request the actor can no longer take: consumer.ErrClosed,
// with the actor's failure if it failed.
func (c *Committer) stopped() error {
	select {
	case <-c.proc.Done():
		if err := c.proc.Err(); err != nil {
			return fmt.Errorf("%w: the committer of group %q failed: %w", consumer.ErrClosed, c.group, err)
		}
	default:
	}
	return consumer.ErrClosed
}

// Group is the group the Committer commits for.
func (c *Committer) Group() string { return c.group }

func about(tp cluster.TopicPartition) consumer.About {
	return consumer.About{Topic: tp.Topic, Partition: tp.Partition}
}

// Starts returns where each of parts resumes: at the group's committed offset, with the
// leader epoch committed with it (consumer.AtEpoch: the reader checks with the leader that
// the log was not truncated under it since), or, for a partition the group has none for, where the Reset policy says
// (consumer.Oldest() or consumer.Newest()). Offsets still pending in a transaction are
// waited for (OffsetFetch with RequireStable). The committed offsets found hold back
// older marks: the Committer never commits behind them.
//
// The error joins each partition's failure (the coordinator's answer, matchable with
// errors.Is) and, under consumer.ResetNone, one matching ErrNoCommittedOffset that names
// the partitions without a commit; the map holds the partitions that have an answer.
func (c *Committer) Starts(ctx context.Context, parts ...consumer.About) (map[consumer.About]consumer.Offset, error) {
	tps := make([]cluster.TopicPartition, len(parts))
	for i, a := range parts {
		tps[i] = cluster.TopicPartition{Topic: a.Topic, Partition: a.Partition}
	}
	got, err := c.client.FetchOffsets(ctx, cluster.ReadCommitted, c.group, nil, tps...)
	if err != nil {
		return nil, err
	}
	out := make(map[consumer.About]consumer.Offset, len(got))
	var errs []error
	var none []string
	c.mu.Lock()
	for _, g := range got {
		a := about(g.TopicPartition)
		switch {
		case g.Err != nil:
			errs = append(errs, g.Err)
		case g.Offset >= 0:
			c.l.known(g.TopicPartition, g.Offset)
			out[a] = consumer.AtEpoch(g.Offset, g.LeaderEpoch)
		case c.cfg.Reset == consumer.ResetEarliest:
			out[a] = consumer.Oldest()
		case c.cfg.Reset == consumer.ResetLatest:
			out[a] = consumer.Newest()
		default:
			none = append(none, a.String())
		}
	}
	c.mu.Unlock()
	if len(none) > 0 {
		errs = append(errs, fmt.Errorf("%w in group %q for %s (reset policy none)", ErrNoCommittedOffset, c.group, strings.Join(none, ", ")))
	}
	return out, errors.Join(errs...)
}

// Assign adds parts to r, each resuming where Starts says. If Starts fails for any
// partition, nothing is added; if the reader refuses some (consumer.ErrAlreadyConsuming,
// ...), the partitions this call added are removed again and the reader's error returned.
func (c *Committer) Assign(ctx context.Context, r *consumer.Reader, parts ...consumer.About) error {
	starts, err := c.Starts(ctx, parts...)
	if err != nil {
		return err
	}
	byStart := make(map[consumer.Offset][]consumer.About)
	var order []consumer.Offset
	for _, a := range parts {
		o := starts[a]
		if _, ok := byStart[o]; !ok {
			order = append(order, o)
		}
		byStart[o] = append(byStart[o], a)
	}
	var added []consumer.About
	for _, o := range order {
		if err := r.Add(ctx, o, byStart[o]...); err != nil {
			if len(added) > 0 {
				_ = r.Remove(context.WithoutCancel(ctx), added...)
			}
			return err
		}
		added = append(added, byStart[o]...)
	}
	return nil
}

// MarkRecords marks recs finished: the next commit resumes each partition after the
// highest offset marked in it. Marking a record older than one already marked changes
// nothing (marks only move forward). It fails, marking nothing, with
// consumer.ErrInvalidOffset for a record without a topic or with a negative offset, and
// with consumer.ErrClosed once the Committer is closed.
func (c *Committer) MarkRecords(recs ...*troupe.Record) error {
	for _, r := range recs {
		if r == nil || r.Topic == "" || r.Partition < 0 || r.Offset < 0 {
			return fmt.Errorf("%w: cannot mark %v", consumer.ErrInvalidOffset, describe(r))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.stoppedLocked(); err != nil {
		return err
	}
	for _, r := range recs {
		c.l.mark(cluster.TopicPartition{Topic: r.Topic, Partition: r.Partition}, r.Offset+1, r.LeaderEpoch)
	}
	return nil
}

func describe(r *troupe.Record) string {
	if r == nil {
		return "a nil record"
	}
	return fmt.Sprintf("%s[%d] at %d", r.Topic, r.Partition, r.Offset)
}

// MarkBatch marks every record of b finished: the next commit resumes its partition at
// b.NextOffset (past any transaction markers the batch's fetch skipped). It fails with
// consumer.ErrInvalidOffset for a nil batch or one carrying an error instead of records,
// and with consumer.ErrClosed once the Committer is closed.
func (c *Committer) MarkBatch(b *consumer.Batch) error {
	if b == nil || b.Err != nil || b.Topic == "" || b.Partition < 0 || b.NextOffset < 0 {
		return fmt.Errorf("%w: cannot mark a batch without records", consumer.ErrInvalidOffset)
	}
	epoch := int32(-1)
	if n := len(b.Records); n > 0 {
		epoch = b.Records[n-1].LeaderEpoch
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.stoppedLocked(); err != nil {
		return err
	}
	c.l.mark(cluster.TopicPartition{Topic: b.Topic, Partition: b.Partition}, b.NextOffset, epoch)
	return nil
}

// Commit commits what was marked and not yet committed, and waits for the outcome: nil
// when every partition's offset was stored (or nothing was due), a *CommitError naming
// the partitions refused (they stay marked, and the next commit carries them again), or
// ctx's error when ctx ends first (the commit goes on; OnCommit hears how it ended).
func (c *Committer) Commit(ctx context.Context) error {
	res, err := c.ask(ctx, commitMsg{})
	if err != nil {
		return err
	}
	return res.Err
}

// CommitOffsets commits offsets as they are — each is where its partition resumes, its
// leader epoch and metadata — together with what else was marked, and waits as Commit
// does. They replace the partitions' marks, backwards too: an explicit offset is the one
// way to move a commit back. It fails with cluster.ErrInvalidQuery for an offset without
// a topic, with a negative partition or offset, or a partition named twice.
func (c *Committer) CommitOffsets(ctx context.Context, offsets ...cluster.OffsetCommit) error {
	seen := make(map[cluster.TopicPartition]bool, len(offsets))
	for _, o := range offsets {
		tp := cluster.TopicPartition{Topic: o.Topic, Partition: o.Partition}
		if o.Topic == "" || o.Partition < 0 || o.Offset < 0 || seen[tp] {
			return fmt.Errorf("%w: commit %s[%d] at %d (empty, negative or named twice)", cluster.ErrInvalidQuery, o.Topic, o.Partition, o.Offset)
		}
		seen[tp] = true
	}
	res, err := c.ask(ctx, commitMsg{explicit: offsets})
	if err != nil {
		return err
	}
	return res.Err
}

func (c *Committer) ask(ctx context.Context, m commitMsg) (CommitResult, error) {
	c.mu.Lock()
	err := c.stoppedLocked()
	c.mu.Unlock()
	if err != nil {
		return CommitResult{}, err
	}
	res, err := actor.Ask(ctx, c.ref, func(r actor.Reply[CommitResult]) commitMsg {
		m.reply = r
		return m
	})
	if errors.Is(err, actor.ErrStopped) {
		return res, c.stoppedAfter(ctx)
	}
	if err == nil && errors.Is(res.Err, consumer.ErrClosed) {
		res.Err = c.stoppedAfter(ctx) // answered by OnDrop: the actor ended before taking it
	}
	return res, err
}

// stoppedAfter is stopped for a request the actor has already refused or dropped: the
// actor has ended, but its mailbox is closed before its process records why, so it
// waits (within ctx) for the process to be done before reading the failure; reading at
// once sometimes reported a panicking OnCommit as a bare ErrClosed.
func (c *Committer) stoppedAfter(ctx context.Context) error {
	select {
	case <-c.proc.Done():
	case <-ctx.Done():
	}
	return c.stopped()
}

// CommitAsync commits what was marked and not yet committed without waiting: done (if
// not nil) receives the outcome, exactly once, on the Committer's goroutine, so it must
// not block. ctx bounds only the wait for room in the Committer's queue (while many
// requests are queued); if the request cannot be queued (ctx ended, the Committer is
// closed), done is called with why before CommitAsync returns.
func (c *Committer) CommitAsync(ctx context.Context, done func(CommitResult)) {
	m := commitMsg{done: done}
	c.mu.Lock()
	err := c.stoppedLocked()
	c.mu.Unlock()
	if err != nil {
		m.answer(CommitResult{Group: c.group, Err: err})
		return
	}
	if err := c.ref.Send(ctx, m); err != nil {
		if errors.Is(err, actor.ErrStopped) {
			err = c.stopped()
		}
		m.answer(CommitResult{Group: c.group, Err: err})
	}
}

// Close makes a last commit of what was marked, stops the Committer's actor and returns
// the commit's error. When ctx ends first, the commit is abandoned, the actor stopped,
// and ctx's error returned. Marks and commits after Close fail with consumer.ErrClosed;
// Close again returns nil.
func (c *Committer) Close(ctx context.Context) error {
	c.mu.Lock()
	again := c.closed
	c.closed = true
	c.mu.Unlock()
	if again {
		select {
		case <-c.proc.Done():
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		return nil
	}
	res, err := actor.Ask(ctx, c.ref, func(r actor.Reply[CommitResult]) commitMsg {
		return commitMsg{reply: r, last: true}
	})
	if err != nil {
		// The last commit did not end in time: stop the actor, abandoning it.
		_ = c.proc.Cancel(context.Background())
		if errors.Is(err, actor.ErrStopped) {
			return c.stopped()
		}
		return err
	}
	<-c.proc.Done() // it ends right after answering
	return res.Err
}

// commitDue commits what the ledger says is due, as the member set now, files the
// outcome in the ledger and reports it. It is the one path every commit takes.
func (c *Committer) commitDue(ctx context.Context) CommitResult {
	c.mu.Lock()
	due := c.l.due()
	member := c.member
	c.mu.Unlock()
	res := CommitResult{Group: c.group}
	if len(due) == 0 {
		return res
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CommitTimeout)
	results, err := c.client.CommitOffsets(cctx, c.group, member, due...)
	cancel()
	if err != nil { // the ledger holds only valid offsets: not expected, but never lost
		results = make([]cluster.OffsetCommitResult, len(due))
		for i, o := range due {
			results[i] = cluster.OffsetCommitResult{OffsetCommit: o, Err: err}
		}
	}
	c.mu.Lock()
	c.l.sent(results)
	c.mu.Unlock()
	res.Offsets, res.Err = results, commitErr(c.group, results)
	if res.Err != nil {
		c.cfg.Logger.Warn("commit failed", "group", c.group, "err", res.Err)
	} else {
		c.cfg.Logger.Debug("committed", "group", c.group, "partitions", len(results))
	}
	if c.cfg.OnCommit != nil {
		c.cfg.OnCommit(res)
	}
	return res
}

// committerActor is the Committer's one goroutine: it makes every commit, one at a time,
// on its timer (auto-commit) and on request, answering all requests queued meanwhile with
// one commit. It ends after the last commit Close asks for.
//
// Owner: the Committer, which spawns it in NewCommitter and stops it in Close (cancelling
// it when Close's context ends first).
type committerActor struct {
	c *Committer
}

// Run is the actor's loop.
func (a *committerActor) Run(ctx context.Context, in *actor.Inbox[commitMsg]) error {
	c := a.c
	var alarm actor.Alarm
	defer alarm.Stop()
	next := func() time.Time {
		if c.cfg.DisableAutoCommit {
			return time.Time{}
		}
		return time.Now().Add(c.cfg.AutoCommitInterval)
	}
	due := next()
	var batch []commitMsg
	for {
		alarm.Set(due)
		select {
		case <-ctx.Done():
			var rest []commitMsg
			rest, _ = in.Drain(rest)
			for _, m := range rest {
				m.answer(CommitResult{Group: c.group, Err: consumer.ErrClosed})
			}
			return ctx.Err()
		case <-alarm.C():
			c.commitDue(ctx)
			due = next()
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			last := closed
			c.mu.Lock()
			for _, m := range batch {
				for _, o := range m.explicit {
					c.l.set(o)
				}
				last = last || m.last
			}
			c.mu.Unlock()
			res := c.commitDue(ctx)
			for _, m := range batch {
				m.answer(res)
			}
			clear(batch)
			if last {
				return nil
			}
			due = next()
		}
	}
}
