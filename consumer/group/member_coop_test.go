package group

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cooperative members (KIP-429) over kfake: partitions that do not move are never
// revoked and never read again from the committed offset; a partition that moves is
// revoked by its old owner (OnRevoked done, its commit made) before its new owner's
// OnAssigned starts.

func coopConfig(group string) Config {
	cfg := testGroupConfig(group)
	cfg.Assignors = []Assignor{CooperativeSticky()}
	return cfg
}

// handoffLog records, in one order across members, every callback's start and end.
type handoffLog struct {
	mu     sync.Mutex
	events []handoffEvent
}

type handoffEvent struct {
	member string
	what   string // "assigned", "revoked" (its end), "lost"
	part   consumer.About
}

// wire sets cfg's callbacks to record into l as member; OnRevoked commits first
// (synchronously, as a user committing their own work would), so that its end is
// after the commit.
func (l *handoffLog) wire(cfg *Config, member string, self *atomic.Pointer[Member]) {
	note := func(what string, parts []consumer.About) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, a := range parts {
			l.events = append(l.events, handoffEvent{member, what, a})
		}
	}
	cfg.OnAssigned = func(_ context.Context, parts []consumer.About) { note("assigned", parts) }
	cfg.OnRevoked = func(ctx context.Context, parts []consumer.About) {
		if m := self.Load(); m != nil {
			_ = m.Commit(ctx) // may be refused (the generation moved on): the member commits after
		}
		note("revoked", parts)
	}
	cfg.OnLost = func(_ context.Context, parts []consumer.About) { note("lost", parts) }
}

// count counts member's events of kind what.
func (l *handoffLog) count(member, what string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.events {
		if e.member == member && e.what == what {
			n++
		}
	}
	return n
}

// checkHandOffs checks a2 over the whole log: each partition's OnAssigned of a new owner
// comes after the previous owner's OnRevoked ended (or its OnLost), and nobody loses a
// partition in a graceful run.
func (l *handoffLog) checkHandOffs(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	owner := make(map[consumer.About]string)
	for i, e := range l.events {
		switch e.what {
		case "assigned":
			if o, ok := owner[e.part]; ok {
				t.Errorf("event %d: %s assigned %s while %s has not revoked it", i, e.member, e.part, o)
			}
			owner[e.part] = e.member
		case "revoked":
			if owner[e.part] != e.member {
				t.Errorf("event %d: %s revoked %s, owned by %q", i, e.member, e.part, owner[e.part])
			}
			delete(owner, e.part)
		case "lost":
			t.Errorf("event %d: %s lost %s in a graceful run", i, e.member, e.part)
		}
	}
}

// joinCoop starts a cooperative member recording into l.
func joinCoop(t *testing.T, seeds []string, l *handoffLog, name string) *collector {
	t.Helper()
	cfg := coopConfig("gcoop")
	self := new(atomic.Pointer[Member])
	l.wire(&cfg, name, self)
	col := join(t, seeds, cfg, name)
	self.Store(col.m)
	return col
}

// owned returns col's partitions, sorted.
func owned(col *collector) []consumer.About {
	as := col.m.Assigned()
	slices.SortFunc(as, func(a, b consumer.About) int { return int(a.Partition - b.Partition) })
	return as
}

// rereads counts, for each partition col read, the offsets it read more than once
// within its reads of the partitions in keep: a kept partition handed back to the
// reader would be read again from the committed offset.
func rereads(col *collector, keep []consumer.About) int {
	col.mu.Lock()
	defer col.mu.Unlock()
	n := 0
	for _, a := range keep {
		s := col.seen[a]
		for i := 1; i < len(s); i++ {
			if s[i] <= s[i-1] {
				n++
			}
		}
	}
	return n
}

// TestCooperativeMembersJoinAndLeave: m1 reads six partitions; m2 joins, then m3, then
// m2 leaves. Each move revokes exactly the partitions that move: m1 gives up three to
// m2, then m1 and m2 one each to m3; when m2 leaves, m1 and m3 take its two without
// revoking anything. A partition a member keeps is never revoked, never handed to its
// reader again, and never read twice (the tests commit only on revocation: one handed
// back would be read again from the committed offset). Every record is read, and no
// partition is assigned to a new owner before its old owner's OnRevoked (which commits)
// has finished.
func TestCooperativeMembersJoinAndLeave(t *testing.T) {
	const parts, n = 6, 20
	_, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, n)
	l := &handoffLog{}
	m1 := joinCoop(t, seeds, l, "m1")
	waitAssigned(t, parts, []int{parts}, m1)
	m1.waitReadThrough(t, "the first records", n-1)

	m2 := joinCoop(t, seeds, l, "m2")
	waitAssigned(t, parts, []int{3, 3}, m1, m2)
	if got := l.count("m1", "revoked"); got != 3 {
		t.Errorf("m2 joined: m1 revoked %d partitions, want the 3 that moved", got)
	}
	kept1 := owned(m1)
	produceN(t, seeds, parts, n, n)
	for _, col := range []*collector{m1, m2} {
		col.waitReadThrough(t, "the second records", 2*n-1)
	}

	m3 := joinCoop(t, seeds, l, "m3")
	waitAssigned(t, parts, []int{2, 2, 2}, m1, m2, m3)
	if r1, r2 := l.count("m1", "revoked"), l.count("m2", "revoked"); r1 != 4 || r2 != 1 {
		t.Errorf("m3 joined: m1 and m2 revoked %d and %d in all, want 4 (3+1) and 1", r1, r2)
	}
	kept1 = intersect(kept1, owned(m1))
	kept2 := owned(m2)
	kept3 := owned(m3)
	produceN(t, seeds, parts, 2*n, n)
	for _, col := range []*collector{m1, m2, m3} {
		col.waitReadThrough(t, "the third records", 3*n-1)
	}

	closeMember(t, m2)
	waitAssigned(t, parts, []int{3, 3}, m1, m3)
	if r1, r3 := l.count("m1", "revoked"), l.count("m3", "revoked"); r1 != 4 || r3 != 0 {
		t.Errorf("m2 left: m1 and m3 revoked %d and %d in all, want 4 and 0 (nothing moves off them)", r1, r3)
	}
	if a1, a3 := l.count("m1", "assigned"), l.count("m3", "assigned"); a1 != parts+1 || a3 != 3 {
		t.Errorf("assigned to m1 %d times, m3 %d: want 7 (six, then one of m2's) and 3 (two, then one of m2's)", a1, a3)
	}
	produceN(t, seeds, parts, 3*n, n)
	for _, col := range []*collector{m1, m3} {
		col.waitReadThrough(t, "the fourth records", 4*n-1)
	}
	if r := rereads(m1, kept1) + rereads(m2, kept2) + rereads(m3, kept3); r != 0 {
		t.Errorf("%d records of partitions kept through the rebalances were read again", r)
	}
	// Every record read; twice only what m2's Close left unfinished (its last Poll's
	// batches), and only in the partitions m2 gave up.
	got := union(m1, m2, m3)
	dups := checkAll(t, got, parts, 4*n)
	t.Logf("%d records read twice (m2's unfinished batches at Close)", dups)
	for a, offs := range got {
		if slices.Contains(kept2, a) {
			continue
		}
		for o, c := range offs {
			if c > 1 {
				t.Errorf("%s offset %d read %d times: it moved by a revocation that committed it", a, o, c)
			}
		}
	}
	l.checkHandOffs(t)
}

func intersect(a, b []consumer.About) []consumer.About {
	var out []consumer.About
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestCooperativeUpgradePath: members offering ["cooperative-sticky", "range"] (the
// Java client's first step of an upgrade) join a group whose first member offers range
// alone: the group rebalances eagerly (range is all they share). Once that member
// leaves, the group chooses cooperative-sticky, and from then on a member joining takes
// partitions away from the others without them revoking what they keep.
func TestCooperativeUpgradePath(t *testing.T) {
	const parts = 6
	_, seeds := startKfake(t, parts)
	l := &handoffLog{}
	both := func(name string) *collector {
		cfg := testGroupConfig("gcoop")
		cfg.Assignors = []Assignor{CooperativeSticky(), Range()}
		self := new(atomic.Pointer[Member])
		l.wire(&cfg, name, self)
		col := join(t, seeds, cfg, name)
		self.Store(col.m)
		return col
	}
	old := join(t, seeds, testGroupConfig("gcoop"), "range only")
	m1 := both("m1")
	waitAssigned(t, parts, []int{3, 3}, old, m1)
	closeMember(t, old)
	waitAssigned(t, parts, []int{parts}, m1)
	// Eager until now: m1 gave up all it had when old left, and took all six again.
	waitCooperative(t, m1)
	before := l.count("m1", "revoked")
	m2 := both("m2")
	waitAssigned(t, parts, []int{3, 3}, m1, m2)
	if got := l.count("m1", "revoked") - before; got != 3 {
		t.Errorf("m2 joined the cooperative group: m1 revoked %d, want the 3 that moved", got)
	}
	l.checkHandOffs(t)
}

// waitCooperative waits until col's member is in a cooperative generation.
func waitCooperative(t *testing.T, col *collector) {
	t.Helper()
	col.waitFor(t, "a cooperative generation", func() bool {
		return col.m.info.Load().cooperative
	})
}

// TestCooperativeCommitRetriedForKeptPartitions: a commit in flight when the group
// rebalances cooperatively is refused (ILLEGAL_GENERATION: the generation moved on while
// kfake held it); the member still owns every partition it carried — it keeps two and
// is still revoking the other two in the new generation — so it sends the commit again
// with the new generation, and the group stores it. The partitions that move then reach
// their new owner at those offsets: it reads none of their records again.
func TestCooperativeCommitRetriedForKeptPartitions(t *testing.T) {
	const parts, n = 4, 10
	kc, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, n)
	watch := &logWatch{word: "group member: assigned", ch: make(chan struct{}, 1)}
	cfg := coopConfig("gcr")
	cfg.Logger = slog.New(watch)
	col1 := join(t, seeds, cfg, "m1")
	m1 := col1.m
	gen := m1.Generation()
	col1.waitReadThrough(t, "the records", n-1)
	for p := range int32(parts) { // finished (the collector may not be back in Poll yet)
		m1.Mark(&troupe.Record{Topic: "t", Partition: p, Offset: n - 1, LeaderEpoch: -1})
	}
	select {
	case <-watch.ch: // the first assignment's
	default:
	}

	arrived := make(chan int32, 1)
	kc.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		q := req.(*kmsg.OffsetCommitRequest)
		arrived <- q.Generation
		// Held until m1 has its assignment of the next generation (kfake goes on
		// serving the rebalance meanwhile), then refused as the coordinator would.
		kc.SleepControl(func() {
			select {
			case <-watch.ch:
			case <-time.After(testTimeout):
			}
		})
		resp := q.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, tp := range q.Topics {
			rt := kmsg.OffsetCommitResponseTopic{Topic: tp.Topic, TopicID: tp.TopicID}
			for _, p := range tp.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: errcode.IllegalGeneration.Code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	committed := make(chan error, 1)
	go func() { committed <- m1.Commit(ctxT(t)) }()
	if g := <-arrived; g != gen {
		t.Fatalf("commit sent in generation %d, want %d", g, gen)
	}
	m2 := join(t, seeds, coopConfig("gcr"), "m2")
	select {
	case err := <-committed:
		if err != nil {
			t.Fatalf("Commit: %v, want it stored by the retry with the new generation", err)
		}
	case <-ctxT(t).Done():
		t.Fatal("Commit did not return")
	}
	if m1.Generation() <= gen {
		t.Fatalf("generation %d: the rebalance did not happen before the refusal", m1.Generation())
	}
	got := committedOffsets(t, seeds, "gcr")
	for p := range int32(parts) {
		if got[p] != n {
			t.Errorf("partition %d committed at %d, want %d (all four were owned throughout)", p, got[p], n)
		}
	}
	waitAssigned(t, parts, []int{2, 2}, col1, m2)
	produceN(t, seeds, parts, n, 1)
	m2.waitReadThrough(t, "the new records", n)
	m2.mu.Lock()
	defer m2.mu.Unlock()
	for a, offs := range m2.seen {
		if offs[0] != n {
			t.Errorf("m2 read %s from offset %d, want %d (the commit)", a, offs[0], n)
		}
	}
}

// TestCooperativeHeartbeatErrors: a cooperative member told to rebalance rejoins keeping
// everything — no callback, nothing read again, the generation moves on; told it is out
// of its generation, it loses what it owns (OnLost, no commit: every record is read
// again from the last commit, here none) and takes it back.
func TestCooperativeHeartbeatErrors(t *testing.T) {
	cases := []heartbeatErrorCase{
		{"REBALANCE_IN_PROGRESS: rejoined, nothing revoked", errcode.RebalanceInProgress.Code, true, nil, 0},
		{"ILLEGAL_GENERATION: lost, then assigned again", errcode.IllegalGeneration.Code, true, []string{"lost", "assigned"}, 20},
		{"UNKNOWN_MEMBER_ID: lost, then assigned again", errcode.UnknownMemberID.Code, true, []string{"lost", "assigned"}, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, coopConfig("gcf")) })
	}
}
