package group

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Coordinator errors injected with kfake's ControlKey: the member recovers from each, and
// no record is skipped.

// injectOnce answers the next request of key with code, once.
func injectOnce(kc *kfake.Cluster, key int16, code int16) <-chan struct{} {
	done := make(chan struct{})
	kc.ControlKey(key, func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.ResponseKind()
		switch r := resp.(type) {
		case *kmsg.HeartbeatResponse:
			r.ErrorCode = code
		case *kmsg.JoinGroupResponse:
			r.ErrorCode = code
		case *kmsg.OffsetFetchResponse:
			r.ErrorCode = code // below v8; from v8, per group
			for _, g := range req.(*kmsg.OffsetFetchRequest).Groups {
				r.Groups = append(r.Groups, kmsg.OffsetFetchResponseGroup{Group: g.Group, ErrorCode: code})
			}
		}
		close(done)
		return resp, nil, true
	})
	return done
}

func readsEverything(t *testing.T, col *collector, parts, n int) {
	t.Helper()
	col.waitFor(t, "every record", func() bool {
		for p := range int32(parts) {
			s := col.seen[consumer.About{Topic: "t", Partition: p}]
			if len(s) == 0 || s[len(s)-1] < int64(n-1) {
				return false
			}
		}
		return true
	})
}

func TestCoordinatorErrorsOnHeartbeat(t *testing.T) {
	cases := []heartbeatErrorCase{
		{"NOT_COORDINATOR: found again, partitions kept", kerr.NotCoordinator.Code, false, nil, 0},
		{"COORDINATOR_NOT_AVAILABLE: found again, partitions kept", kerr.CoordinatorNotAvailable.Code, false, nil, 0},
		// A revocation commits what the user finished (all 20: the user was back in
		// Poll), so nothing is read twice; a loss commits nothing, so everything is.
		{"REBALANCE_IN_PROGRESS: revoked, then assigned again", kerr.RebalanceInProgress.Code, true, []string{"revoked", "assigned"}, 0},
		{"ILLEGAL_GENERATION: lost, then assigned again", kerr.IllegalGeneration.Code, true, []string{"lost", "assigned"}, 20},
		{"UNKNOWN_MEMBER_ID: lost, then assigned again", kerr.UnknownMemberID.Code, true, []string{"lost", "assigned"}, 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, testGroupConfig("gf")) })
	}
}

// heartbeatErrorCase is a member's next heartbeat answered with an error, and what
// follows.
type heartbeatErrorCase struct {
	name   string
	code   int16
	newGen bool     // the member goes on in a new generation
	want   []string // the callbacks after the first assignment
	dups   int      // records read twice, per partition
}

// run joins a member of cfg to a topic of 3 partitions holding 20 records each, answers
// its next heartbeat with tc.code once it has read them, writes 20 more each once it is
// in its new generation (if it moves to one) with its callbacks done, and checks the
// callbacks and what was read twice.
func (tc heartbeatErrorCase) run(t *testing.T, cfg Config) {
	const parts = 3
	kc, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, 20)
	// A member that lost its ID rejoins as a new one; the coordinator waits for the old
	// one (up to the rebalance timeout) before it can assign.
	cfg.ProcessingTime = 2 * time.Second
	col := join(t, seeds, cfg, "m1")
	gen := col.m.Generation()
	readsEverything(t, col, parts, 20)
	<-injectOnce(kc, int16(kmsg.Heartbeat), tc.code)
	// The next records are written only once the member is where it goes on: written
	// sooner, the old assignment may read them before a loss (read twice), or the check
	// may come before the new assignment reads the first 20 again (read once).
	if tc.newGen {
		waitGeneration(t, col.m, gen)
	}
	col.waitFor(t, "the callbacks", func() bool { return len(col.events) >= 1+len(tc.want) })
	produceN(t, seeds, parts, 20, 20)
	readsEverything(t, col, parts, 40)
	waitAssigned(t, parts, []int{parts}, col)
	if dups := checkAll(t, union(col), parts, 40); dups != tc.dups*parts {
		t.Errorf("%d records read twice, want %d", dups, tc.dups*parts)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var got []string
	for _, e := range col.events[1:] {
		got = append(got, e[:strings.IndexByte(e, ' ')])
	}
	if strings.Join(got, ",") != strings.Join(tc.want, ",") {
		t.Errorf("callbacks after the first assignment: %v, want %v", got, tc.want)
	}
}

// waitGeneration waits for m to publish a generation after gen (nothing the collector
// sees need change with it: a rejoin that keeps every partition has no callback).
func waitGeneration(t *testing.T, m *Member, gen int32) {
	t.Helper()
	ctx := ctxT(t)
	for info := m.info.Load(); info.generation <= gen; {
		if ctx.Err() != nil {
			t.Fatalf("no generation after %d within %v", gen, testTimeout)
		}
		info = m.waitInfo(ctx, info, testTimeout)
	}
}

func TestJoinRefused(t *testing.T) {
	cases := []struct {
		code *kerr.Error
		want *errcode.Error
	}{
		{kerr.GroupAuthorizationFailed, errcode.GroupAuthorizationFailed},
		{kerr.InconsistentGroupProtocol, errcode.InconsistentGroupProtocol},
		{kerr.GroupMaxSizeReached, errcode.GroupMaxSizeReached},
	}
	for _, tc := range cases {
		t.Run(tc.want.Name, func(t *testing.T) {
			kc, seeds := startKfake(t, 1)
			injectOnce(kc, int16(kmsg.JoinGroup), tc.code.Code)
			m, err := Join(ctxT(t), newConsumer(t, seeds), testGroupConfig("gr"))
			if !errors.Is(err, tc.want) || m != nil {
				t.Fatalf("Join: member %v, %v; want an error matching %v", m != nil, err, tc.want)
			}
		})
	}
}

func TestJoinRetriesALoadingCoordinator(t *testing.T) {
	kc, seeds := startKfake(t, 1)
	injected := injectOnce(kc, int16(kmsg.JoinGroup), kerr.CoordinatorLoadInProgress.Code)
	col := join(t, seeds, testGroupConfig("gl"), "m1")
	<-injected
	if got := col.m.Assigned(); len(got) != 1 {
		t.Errorf("assigned %v", got)
	}
}

// TestSessionLostWithoutHeartbeats: with every heartbeat failing, the member declares its
// partitions lost once the session timeout has passed since the last heartbeat that
// succeeded was sent, commits nothing for them, and joins again once heartbeats work.
func TestSessionLostWithoutHeartbeats(t *testing.T) {
	const parts = 2
	kc, seeds := startKfake(t, parts, kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	produceN(t, seeds, parts, 0, 10)
	cfg := testGroupConfig("gl")
	cfg.SessionTimeout, cfg.ProcessingTime = time.Second, time.Second
	col := join(t, seeds, cfg, "m1")
	readsEverything(t, col, parts, 10)

	var mu sync.Mutex
	failing := true
	kc.ControlKey(int16(kmsg.Heartbeat), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		if !failing {
			kc.DropControl()
			return nil, nil, false
		}
		kc.KeepControl()
		return nil, errors.New("heartbeats fail"), true // kfake closes the connection
	})
	col.waitFor(t, "the partitions lost", func() bool {
		return len(col.events) >= 2 && strings.HasPrefix(col.events[1], "lost")
	})
	if got := col.m.Assigned(); len(got) != 0 {
		t.Errorf("still owns %v after losing its session", got)
	}
	if offs := committedOffsets(t, seeds, "gl"); len(offs) != 0 {
		t.Errorf("committed %v for lost partitions", offs)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	waitAssigned(t, parts, []int{parts}, col)
	produceN(t, seeds, parts, 10, 10)
	readsEverything(t, col, parts, 20)
}

// TestCommittedOffsetsRefused: a member that may not read the group's offsets cannot know
// where to start; Join reports it.
func TestCommittedOffsetsRefused(t *testing.T) {
	kc, seeds := startKfake(t, 1)
	injectOnce(kc, int16(kmsg.OffsetFetch), kerr.GroupAuthorizationFailed.Code)
	m, err := Join(ctxT(t), newConsumer(t, seeds), testGroupConfig("go"))
	if !errors.Is(err, errcode.GroupAuthorizationFailed) || m != nil {
		t.Fatalf("Join: member %v, %v; want an error matching GROUP_AUTHORIZATION_FAILED", m != nil, err)
	}
}

// TestCommittedOffsetsRetried: a failed offset fetch is asked again.
func TestCommittedOffsetsRetried(t *testing.T) {
	kc, seeds := startKfake(t, 1)
	injected := injectOnce(kc, int16(kmsg.OffsetFetch), kerr.CoordinatorLoadInProgress.Code)
	produceN(t, seeds, 1, 0, 3)
	col := join(t, seeds, testGroupConfig("gq"), "m1")
	<-injected
	readsEverything(t, col, 1, 3)
}

// TestSlowUserKeepsTheSession: a user who takes longer than the session timeout to come
// back from the batch in hand during a rebalance (but less than ProcessingTime) keeps
// the member in the group: it heartbeats while it waits, its revocation commits, and
// nothing is lost.
func TestSlowUserKeepsTheSession(t *testing.T) {
	const parts = 2
	kc, seeds := startKfake(t, parts, kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "100"}))
	produceN(t, seeds, parts, 0, 10)
	cfg := testGroupConfig("gk")
	// Short enough for a test, long enough that a loaded machine's pauses do not end
	// the session on their own.
	cfg.SessionTimeout = time.Second
	var lost atomic.Bool
	cfg.OnLost = func(context.Context, []consumer.About) { lost.Store(true) }
	m1, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close(context.Background())
	inHand, err := m1.Poll(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	// Count m1's heartbeats from the moment m2 asks to join.
	id := m1.MemberID()
	beats := make(chan struct{}, 1000)
	kc.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if req.(*kmsg.HeartbeatRequest).MemberID == id {
			beats <- struct{}{}
		}
		return nil, nil, false
	})
	joined := make(chan *Member, 1)
	c2 := newConsumer(t, seeds)
	go func() {
		m2, err := Join(ctxT(t), c2, cfg)
		if err != nil {
			t.Error(err)
		}
		joined <- m2
	}()
	// One and a half sessions' worth of heartbeats (every 50ms) while m1's user holds on.
	for range 3 * int(cfg.SessionTimeout/cfg.HeartbeatInterval) / 2 {
		select {
		case <-beats:
		case <-time.After(testTimeout):
			t.Fatal("m1 stopped heartbeating while its user held a batch")
		}
	}
	polled := make(chan error, 1)
	pctx, cancel := context.WithCancel(ctxT(t))
	go func() {
		_, err := m1.Poll(pctx)
		polled <- err
	}()
	m2 := <-joined
	if m2 == nil {
		t.FailNow()
	}
	defer m2.Close(context.Background())
	waitAssigned(t, parts, []int{1, 1}, &collector{m: m1}, &collector{m: m2})
	cancel()
	<-polled
	if lost.Load() {
		t.Error("m1 lost partitions")
	}
	offs := committedOffsets(t, seeds, "gk")
	for _, b := range inHand {
		if offs[b.Partition] != b.NextOffset {
			t.Errorf("partition %d committed at %d, want %d: the revocation's commit was refused", b.Partition, offs[b.Partition], b.NextOffset)
		}
	}
}
