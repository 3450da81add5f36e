package group

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"time"

	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// Subscription by pattern (Config.TopicPattern). Under the Classic protocol the member
// matches the pattern itself: topicPattern is the deterministic part (which topics of a
// metadata snapshot match, and whether that changed), patternWatch the member actor's
// timer and refresh around it, and membership.resubscribe what the protocol does when
// the matched set changes (eager: give everything up, join again with the new topics).
// Under the Consumer protocol the coordinator matches it: the reconciler sends it as
// SubscribedTopicRegex, and topics created later come as any assignment does.

// ErrPatternNotSupported is matched by a Consumer-protocol member's error when the
// coordinator cannot take a pattern: it speaks ConsumerGroupHeartbeat v0 only (before
// Kafka 4.0), which has no SubscribedTopicRegex. The Classic protocol, which matches on
// the client, works with any broker.
var ErrPatternNotSupported = errors.New("group: the coordinator does not support subscription by pattern (ConsumerGroupHeartbeat v1, Kafka 4.0)")

// compilePattern compiles a topic pattern to match whole names, as Java's
// Pattern.matcher(topic).matches() and Kafka's coordinator (RE2J's matches()) do.
func compilePattern(pattern string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(pattern); err != nil {
		// The user's own expression in the error, not the anchored one.
		return nil, fmt.Errorf("TopicPattern %q: %w", pattern, err)
	}
	return regexp.Compile(`^(?:` + pattern + `)$`)
}

// topicPattern is a pattern subscription matched on the client: which topics of the
// cluster it covers. It is a plain struct (no goroutines, no clock, no I/O).
type topicPattern struct {
	re       *regexp.Regexp
	internal bool     // match internal topics too
	matched  []string // sorted; what the member subscribes to now
	known    bool     // a snapshot has been matched
}

func newTopicPattern(pattern string, internal bool) (*topicPattern, error) {
	re, err := compilePattern(pattern)
	if err != nil {
		return nil, err
	}
	return &topicPattern{re: re, internal: internal}, nil
}

// match matches the pattern against snap, which must describe every topic of the
// cluster (a refresh without topics), and returns the topics matched, sorted, and
// whether they differ from the last match (always true at the first).
//
// A topic counts when the cluster knows it: described without error, or with a
// transient error (a leader being elected) while its partitions are still known, so a
// leader election does not make the member rejoin twice. Internal topics count only if
// asked for.
func (p *topicPattern) match(snap *cluster.Snapshot) ([]string, bool) {
	var out []string
	if snap != nil {
		for name, t := range snap.Topics {
			if !p.re.MatchString(name) || (t.Internal && !p.internal) || !usable(t) {
				continue
			}
			out = append(out, name)
		}
	}
	slices.Sort(out)
	changed := !p.known || !slices.Equal(out, p.matched)
	p.matched, p.known = out, true
	return out, changed
}

func usable(t *cluster.Topic) bool {
	if t.Err == nil {
		return true
	}
	return len(t.Partitions) > 0 && !errors.Is(t.Err, errcode.UnknownTopicOrPartition)
}

// resubscribe changes the topics the member subscribes to (a pattern's matched set
// changed). A stable eager member gives up everything it owns and joins again with them
// (the coordinator rebalances the group); a stable cooperative one gives up only the
// partitions of topics no longer matched and joins keeping the rest; a member joining or
// syncing takes the new topics to its next JoinGroup (synced sees the assignment was
// made for the old ones and joins again); otherwise they wait for the next join.
func (m *membership) resubscribe(topics []string) step {
	m.topics = topics
	if m.state != stateStable || slices.Equal(m.joinedTopics, topics) {
		return step{}
	}
	if m.cooperative {
		// Keep reading what is still subscribed; give up only the partitions of topics
		// no longer matched (they went), then join with the new topics.
		s := m.rebalanceCooperative()
		s.Alive = false // no answer from the coordinator came with this step
		return s
	}
	m.state = stateRebalancing
	revoke := m.owned
	m.owned = nil
	m.revoking++
	return step{Rebalance: true, Revoke: revoke}
}

// patternWatch is the member actor's watch over the cluster's topics for a pattern
// subscription: a metadata refresh of every topic at the client's RefreshInterval (as
// Java's metadata.max.age.ms), one at a time, spaced by the member's Backoff after a
// failure. The member joins once the first succeeds.
type patternWatch struct {
	pat      *topicPattern
	every    time.Duration
	at       time.Time     // the next refresh; zero: at once
	fresh    time.Duration // a listing younger than this needs no refresh before a rejoin
	inflight bool
	seq      uint64
	fails    int
	lastAt   time.Time // when the last listing that succeeded answered
	held     bool      // the rejoin waits for the listing in flight (rejoinWhenMatched)
}

// patternAnswer is a refresh's outcome, to the member actor's mailbox.
type patternAnswer struct {
	seq  uint64
	snap *cluster.Snapshot
	err  error
}

// watching reports whether the watch may list the topics now: it has a pattern, no
// listing is in flight, and the member is not leaving or gone.
func (a *memberActor) watching() bool {
	w := a.watch
	return w != nil && !w.inflight && a.mach.state != stateDead && a.mach.state != stateLeaving
}

// watchNext is when the watch wants the member actor to wake (zero: never).
func (a *memberActor) watchNext() time.Time {
	w := a.watch
	if !a.watching() {
		return time.Time{}
	}
	if w.at.IsZero() {
		return time.Now()
	}
	return w.at
}

// watchDue refreshes the metadata if it is time to.
func (a *memberActor) watchDue(now time.Time) {
	w := a.watch
	if !a.watching() || now.Before(w.at) {
		return
	}
	w.inflight = true
	w.seq++
	seq, ref := w.seq, a.m.member
	a.m.client.RefreshAsync(func(snap *cluster.Snapshot, err error) {
		_ = ref.TrySend(memberMsg{watched: &patternAnswer{seq: seq, snap: snap, err: err}})
	})
}

// watched takes a refresh's outcome: the first success starts the membership; a
// changed match later resubscribes.
func (a *memberActor) watched(ans *patternAnswer) {
	w := a.watch
	if w == nil || !w.inflight || ans.seq != w.seq {
		return
	}
	w.inflight = false
	if w.held {
		// A rejoin waits for this listing: it goes once the match is taken in (or
		// without it, if the listing failed).
		w.held = false
		defer a.rejoinWhenMatched()
	}
	now := time.Now()
	if ans.err != nil {
		w.fails++
		w.at = now.Add(a.m.cfg.Backoff.Delay(w.fails, rand.Float64()))
		a.m.log.Warn("group member: no metadata to match TopicPattern against; asking again", "err", ans.err)
		return
	}
	w.fails, w.lastAt = 0, now
	w.at = now.Add(w.every)
	first := !w.pat.known
	topics, changed := w.pat.match(ans.snap)
	switch {
	case first:
		a.m.log.Info("group member: TopicPattern matched", "pattern", a.m.cfg.TopicPattern, "topics", topics)
		a.mach.topics = topics
		a.do(a.mach.start())
	case changed:
		a.m.log.Info("group member: the topics TopicPattern matches changed; rejoining", "pattern", a.m.cfg.TopicPattern, "topics", topics)
		a.do(a.mach.resubscribe(topics))
	}
}

// needsRegexVersion is the Prepare of a ConsumerGroupHeartbeat that carries a
// SubscribedTopicRegex: a coordinator that speaks version 0 only cannot take it.
func needsRegexVersion(version int16) error {
	if version < 1 {
		return fmt.Errorf("%w: it speaks ConsumerGroupHeartbeat v%d", ErrPatternNotSupported, version)
	}
	return nil
}

// matchBeforeRejoin: the member gives everything up to rejoin (a rebalance). With a
// pattern, the topics are listed again meanwhile unless the last listing is fresh, so the
// JoinGroup names what the pattern matches now: when a topic is created, the member that
// notices first starts a rebalance, and the others pick the topic up in that same
// rebalance rather than each starting one of their own when their clocks come round (as
// Java's consumer refreshes its metadata before it rejoins).
func (a *memberActor) matchBeforeRejoin() {
	w := a.watch
	if w == nil || w.inflight || !w.pat.known || time.Since(w.lastAt) < w.fresh {
		return
	}
	w.at = time.Time{}
	a.watchDue(time.Now())
}

// rejoinWhenMatched tells the membership the revocation is done, so it rejoins; with a
// listing in flight (matchBeforeRejoin), once that has answered.
func (a *memberActor) rejoinWhenMatched() {
	if w := a.watch; w != nil && w.inflight {
		w.held = true
		return
	}
	a.do(a.mach.revoked())
}
