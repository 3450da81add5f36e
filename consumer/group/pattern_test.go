package group

import (
	"errors"
	"fmt"
	"reflect"
	"regexp/syntax"
	"slices"
	"testing"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// Subscription by pattern, without a broker: the pattern's matching, the Config checks,
// the classic membership's rejoin when the matched set changes, and the KIP-848
// reconciler's heartbeat.

func TestPatternMatchesWholeNames(t *testing.T) {
	for _, c := range []struct {
		pattern string
		yes, no []string
	}{
		// As Java's subscribe(Pattern) and Kafka's coordinator: the whole name.
		{"orders", []string{"orders"}, []string{"orders-eu", "reorders", "order"}},
		{"orders.*", []string{"orders", "orders-eu"}, []string{"reorders"}},
		{"a|b", []string{"a", "b"}, []string{"ab", "xa"}}, // the alternation is anchored as a whole
		{"^ev-[0-9]+$", []string{"ev-1", "ev-42"}, []string{"ev-", "ev-1x"}},
	} {
		re, err := compilePattern(c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		for _, s := range c.yes {
			if !re.MatchString(s) {
				t.Errorf("%q does not match %q", c.pattern, s)
			}
		}
		for _, s := range c.no {
			if re.MatchString(s) {
				t.Errorf("%q matches %q", c.pattern, s)
			}
		}
	}
}

func TestPatternConfig(t *testing.T) {
	base := func() Config {
		cfg := testGroupConfig("g")
		cfg.Topics, cfg.TopicPattern = nil, "ev-.*"
		return cfg
	}
	if _, err := base().withDefaults(); err != nil {
		t.Fatalf("a pattern alone: %v", err)
	}
	c848 := base()
	c848.Protocol, c848.Assignors = Consumer, nil
	if _, err := c848.withDefaults(); err != nil {
		t.Fatalf("a pattern under the consumer protocol: %v", err)
	}
	internal := base()
	internal.MatchInternalTopics = true
	if _, err := internal.withDefaults(); err != nil {
		t.Fatalf("MatchInternalTopics with a pattern: %v", err)
	}
	for name, change := range map[string]func(*Config){
		"both Topics and TopicPattern":        func(c *Config) { c.Topics = []string{"t"} },
		"neither":                             func(c *Config) { c.TopicPattern = "" },
		"MatchInternalTopics without pattern": func(c *Config) { c.TopicPattern, c.Topics, c.MatchInternalTopics = "", []string{"t"}, true },
		"MatchInternalTopics with the consumer protocol": func(c *Config) {
			c.Protocol, c.Assignors, c.MatchInternalTopics = Consumer, nil, true
		},
	} {
		cfg := base()
		change(&cfg)
		if _, err := cfg.withDefaults(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	for _, p := range []string{"ev-(", "[a-", "a{2,1}", `\8`} {
		cfg := base()
		cfg.TopicPattern = p
		_, err := cfg.withDefaults()
		var se *syntax.Error
		if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &se) {
			t.Errorf("pattern %q: %v, want ErrInvalidConfig and a *syntax.Error", p, err)
		}
	}
}

// snapshot is a metadata snapshot of every topic: name to topic.
func snapshot(topics ...*cluster.Topic) *cluster.Snapshot {
	s := &cluster.Snapshot{Topics: map[string]*cluster.Topic{}}
	for _, t := range topics {
		s.Topics[t.Name] = t
	}
	return s
}

func topic(name string, parts int) *cluster.Topic {
	t := &cluster.Topic{Name: name}
	for p := range parts {
		t.Partitions = append(t.Partitions, cluster.Partition{ID: int32(p), Leader: 1})
	}
	return t
}

func TestTopicPatternMatch(t *testing.T) {
	p, err := newTopicPattern("ev-.*|__.*", false)
	if err != nil {
		t.Fatal(err)
	}
	offsets := topic("__consumer_offsets", 50)
	offsets.Internal = true
	gone := &cluster.Topic{Name: "ev-gone", Err: errcode.UnknownTopicOrPartition}
	electing := topic("ev-electing", 2)
	electing.Err = errcode.LeaderNotAvailable // a transient error: its partitions are still known
	creating := &cluster.Topic{Name: "ev-creating", Err: errcode.LeaderNotAvailable}

	step := func(snap *cluster.Snapshot, want []string, wantChanged bool) {
		t.Helper()
		got, changed := p.match(snap)
		if !slices.Equal(got, want) || changed != wantChanged {
			t.Fatalf("matched %q (changed %v), want %q (changed %v)", got, changed, want, wantChanged)
		}
	}
	// The first match is a change, even when it matches nothing.
	step(snapshot(topic("other", 1)), nil, true)
	step(snapshot(topic("other", 1)), nil, false)
	step(snapshot(topic("ev-b", 1), topic("ev-a", 3), offsets, gone, creating, topic("other", 1), topic("xev-a", 1)),
		[]string{"ev-a", "ev-b"}, true)
	step(snapshot(topic("ev-a", 3), topic("ev-b", 1), offsets), []string{"ev-a", "ev-b"}, false)
	// A topic created, one deleted.
	step(snapshot(topic("ev-a", 3), topic("ev-c", 2)), []string{"ev-a", "ev-c"}, true)
	// A leader election does not drop a topic.
	step(snapshot(topic("ev-a", 3), electing), []string{"ev-a", "ev-electing"}, true)
	step(snapshot(nil...), nil, true)

	withInternal, _ := newTopicPattern("ev-.*|__.*", true)
	if got, _ := withInternal.match(snapshot(offsets, topic("ev-a", 1))); !slices.Equal(got, []string{"__consumer_offsets", "ev-a"}) {
		t.Fatalf("MatchInternalTopics: matched %q", got)
	}
}

// joinedTopics decodes the topics a JoinGroup subscribes to (every protocol the same).
func joinedTopics(t *testing.T, s step) []string {
	t.Helper()
	req, ok := s.Req.(*api.JoinGroupRequest)
	if s.Send != reqJoin || !ok {
		t.Fatalf("step %+v: no JoinGroup", s)
	}
	var sub Subscription
	if _, err := sub.Decode(req.Protocols[0].Metadata); err != nil {
		t.Fatal(err)
	}
	return sub.Topics
}

func TestMembershipResubscribe(t *testing.T) {
	t.Run("stable: revoke everything, then join with the new topics", func(t *testing.T) {
		m := newTestMembership(false)
		scripts["stable"](m)
		s := m.resubscribe([]string{"t", "u"})
		if !s.Rebalance || !slices.EqualFunc(s.Revoke, owned01, tpEqual) || m.state != stateRebalancing || s.Send != reqNone {
			t.Fatalf("step %+v in %v: want a rebalance revoking %v", s, m.state, owned01)
		}
		// Heartbeats go on while it revokes.
		if !m.heartbeating() {
			t.Fatal("not heartbeating while it revokes")
		}
		if got := joinedTopics(t, m.revoked()); !slices.Equal(got, []string{"t", "u"}) {
			t.Fatalf("rejoined with %q", got)
		}
	})
	t.Run("stable cooperative, a topic added: join at once, keeping everything", func(t *testing.T) {
		m := newCoopMembership(t)
		coopStable(t, m, 3, 0, 1)
		s := m.resubscribe([]string{"t", "u"})
		if s.Rebalance || len(s.Revoke) > 0 || s.Alive || m.state != stateJoining {
			t.Fatalf("step %+v in %v: want a join at once, nothing revoked", s, m.state)
		}
		sub := subscriptionOf(t, s, "cooperative-sticky")
		if !slices.Equal(sub.Topics, []string{"t", "u"}) || !reflect.DeepEqual(sub.Owned, tparts(0, 1)) || sub.Generation != 3 {
			t.Fatalf("joined with %+v; want topics t, u claiming t 0, 1 of generation 3", sub)
		}
	})
	t.Run("stable cooperative, a topic gone: revoke its partitions, then join", func(t *testing.T) {
		m := newCoopMembership(t)
		coopStable(t, m, 3, 0, 1)
		s := m.resubscribe([]string{"u"})
		if !s.Rebalance || !reflect.DeepEqual(s.Revoke, tparts(0, 1)) || s.Send != reqNone || len(m.owned) > 0 {
			t.Fatalf("step %+v: want t 0, 1 revoked before any join", s)
		}
		sub := subscriptionOf(t, m.revoked(), "cooperative-sticky")
		if !slices.Equal(sub.Topics, []string{"u"}) || len(sub.Owned) > 0 {
			t.Fatalf("rejoined with %+v; want topic u, claiming nothing", sub)
		}
	})
	t.Run("stable, the same topics: nothing", func(t *testing.T) {
		m := newTestMembership(false)
		scripts["stable"](m)
		if s := m.resubscribe([]string{"t"}); s.Rebalance || s.Send != reqNone || m.state != stateStable {
			t.Fatalf("step %+v in %v", s, m.state)
		}
	})
	t.Run("syncing: the assignment for the old topics is not taken; join again", func(t *testing.T) {
		m := newTestMembership(false)
		scripts["syncing"](m)
		if s := m.resubscribe([]string{"u"}); s.Send != reqNone || s.Rebalance {
			t.Fatalf("step %+v while syncing", s)
		}
		s := m.synced(syncResp(nil, 0, 1), nil)
		if s.Assigned || len(m.owned) > 0 {
			t.Fatalf("took %v of an assignment for the old subscription", s.Assign)
		}
		if got := joinedTopics(t, s); !slices.Equal(got, []string{"u"}) {
			t.Fatalf("rejoined with %q", got)
		}
		// And the assignment of that join is taken.
		m.joined(joinResp(nil, "m1", "m0", 4), nil)
		if s := m.synced(syncResp(nil, 2), nil); !s.Assigned || m.state != stateStable {
			t.Fatalf("step %+v in %v after rejoining", s, m.state)
		}
	})
	t.Run("rebalancing: the rejoin takes the new topics", func(t *testing.T) {
		m := newTestMembership(false)
		scripts["rebalancing"](m)
		if s := m.resubscribe([]string{"u"}); s.Rebalance || s.Send != reqNone {
			t.Fatalf("step %+v while rebalancing", s)
		}
		if got := joinedTopics(t, m.revoked()); !slices.Equal(got, []string{"u"}) {
			t.Fatalf("rejoined with %q", got)
		}
	})
	t.Run("unjoined and leaving: nothing sent", func(t *testing.T) {
		m := newTestMembership(false)
		scripts["unjoined"](m)
		if s := m.resubscribe([]string{"u"}); s.Send != reqNone || s.Rebalance {
			t.Fatalf("unjoined: step %+v", s)
		}
		if got := joinedTopics(t, m.coordinator(nil)); !slices.Equal(got, []string{"u"}) {
			t.Fatalf("unjoined: joined with %q", got)
		}
		m = newTestMembership(false)
		scripts["stable"](m)
		m.leave()
		if s := m.resubscribe([]string{"u"}); s.Send != reqNone || s.Rebalance {
			t.Fatalf("leaving: step %+v", s)
		}
	})
}

func tpEqual(a, b TopicPartitions) bool {
	return a.Topic == b.Topic && slices.Equal(a.Partitions, b.Partitions)
}

func TestReconcilerSendsThePattern(t *testing.T) {
	r := newReconciler(reconcileConfig{Group: "g", Pattern: "ev-.*", RebalanceMs: 1000, NewID: func() string { return "m1" }})
	req := mustNext848(t, r)
	if req.SubscribedTopicRegex == nil || *req.SubscribedTopicRegex != "ev-.*" || req.SubscribedTopicNames != nil {
		t.Fatalf("join heartbeat: regex %v, names %v; want the pattern and no names", req.SubscribedTopicRegex, req.SubscribedTopicNames)
	}
	r.answered(okResp848(1, assignment848()))
	if req := mustNext848(t, r); req.SubscribedTopicRegex != nil {
		t.Fatalf("a keep-alive heartbeat carries the pattern again")
	}
	// After a failed heartbeat the next is full again, with the pattern.
	r.failed(netErr)
	if req := mustNext848(t, r); req.SubscribedTopicRegex == nil {
		t.Fatalf("a full heartbeat without the pattern")
	}
}

func TestReconcilerPatternOnAnOldCoordinatorIsFatal(t *testing.T) {
	if err := needsRegexVersion(1); err != nil {
		t.Fatalf("v1: %v", err)
	}
	err := needsRegexVersion(0)
	if !errors.Is(err, ErrPatternNotSupported) {
		t.Fatalf("v0: %v", err)
	}
	r := newReconciler(reconcileConfig{Group: "g", Pattern: "ev-.*", NewID: func() string { return "m1" }})
	mustNext848(t, r)
	// What the connection makes of a Prepare that failed.
	st := r.failed(&broker.Error{Broker: "node 1", Err: err})
	if !errors.Is(st.Fatal, ErrPatternNotSupported) || r.state != reconcileDead {
		t.Fatalf("step %+v in %v: want the member dead with ErrPatternNotSupported", st, r.state)
	}
	if r.next() != nil {
		t.Fatal("a dead member heartbeats")
	}
}

// TestPatternWatchSleepsWhileLeaving: the member actor's loop wakes at watchNext; a watch
// that stays due while the member leaves (and lists nothing) would spin the loop.
func TestPatternWatchSleepsWhileLeaving(t *testing.T) {
	pat, _ := newTopicPattern("ev-.*", false)
	a := &memberActor{mach: newTestMembership(false), watch: &patternWatch{pat: pat, at: time.Now().Add(-time.Second)}}
	scripts["stable"](a.mach)
	if a.watchNext().IsZero() {
		t.Fatal("a stable member's due listing is not due")
	}
	a.mach.leave()
	if a.mach.state != stateLeaving {
		t.Fatalf("state %v", a.mach.state)
	}
	if at := a.watchNext(); !at.IsZero() {
		t.Fatalf("leaving, the watch wants a wake-up at %v", at)
	}
	a.watch.inflight = true
	a.mach.state = stateStable
	if at := a.watchNext(); !at.IsZero() {
		t.Fatalf("with a listing in flight, the watch wants a wake-up at %v", at)
	}
}

// BenchmarkTopicPatternMatch is what a classic pattern member spends on each listing of
// a cluster of 10000 topics (once every RefreshInterval), a tenth of them matching.
func BenchmarkTopicPatternMatch(b *testing.B) {
	var topics []*cluster.Topic
	for i := range 10000 {
		name := fmt.Sprintf("other-%05d", i)
		if i%10 == 0 {
			name = fmt.Sprintf("ev-%05d", i)
		}
		topics = append(topics, topic(name, 6))
	}
	snap := snapshot(topics...)
	p, err := newTopicPattern("ev-.*", false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if got, _ := p.match(snap); len(got) != 1000 {
			b.Fatalf("matched %d", len(got))
		}
	}
}
