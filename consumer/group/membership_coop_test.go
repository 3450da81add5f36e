package group

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/errcode"
)

// The membership state machine under incremental cooperative rebalancing (KIP-429),
// driven by scripted coordinator answers as in membership_test.go.

// newCoopMembership offers cooperative-sticky first and range second, as the Java
// client's upgrade path does.
func newCoopMembership(t *testing.T) *membership {
	t.Helper()
	cfg := testGroupConfig("g")
	cfg.Assignors = []Assignor{CooperativeSticky(), Range()}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return newMembership(&cfg)
}

// protoJoinResp is a JoinGroup answer choosing protocol, with members' subscriptions.
func protoJoinResp(protocol, member, leader string, gen int32, subs ...Subscription) *api.JoinGroupResponse {
	r := &api.JoinGroupResponse{}
	r.Default()
	r.ProtocolName = &protocol
	r.MemberID, r.Leader, r.GenerationID = member, leader, gen
	for _, s := range subs {
		meta, err := s.Encode(nil, SubscriptionVersion)
		if err != nil {
			panic(err)
		}
		r.Members = append(r.Members, api.JoinGroupResponseMember{MemberID: s.MemberID, Metadata: meta})
	}
	return r
}

func tparts(ps ...int32) []TopicPartitions {
	if len(ps) == 0 {
		return nil
	}
	return []TopicPartitions{{Topic: "t", Partitions: ps}}
}

// coopStable brings m to a stable cooperative generation gen owning ps.
func coopStable(t *testing.T, m *membership, gen int32, ps ...int32) {
	t.Helper()
	m.start()
	m.coordinator(nil)
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", gen), nil)
	s := m.synced(syncResp(nil, ps...), nil)
	if m.state != stateStable || !m.cooperative || !reflect.DeepEqual(s.Assign, tparts(ps...)) || s.Rebalance {
		t.Fatalf("not stable and cooperative: %v cooperative %v, step %+v", m.state, m.cooperative, s)
	}
}

// subscriptionOf decodes the subscription a join request sends for protocol.
func subscriptionOf(t *testing.T, s step, protocol string) Subscription {
	t.Helper()
	req, ok := s.Req.(*api.JoinGroupRequest)
	if s.Send != reqJoin || !ok {
		t.Fatalf("step %+v sends no JoinGroup", s)
	}
	for _, p := range req.Protocols {
		if p.Name == protocol {
			var sub Subscription
			if _, err := sub.Decode(p.Metadata); err != nil {
				t.Fatal(err)
			}
			return sub
		}
	}
	t.Fatalf("no %s protocol in %+v", protocol, req.Protocols)
	return Subscription{}
}

// TestCooperativeTwoRounds: a member owning four partitions is told to rebalance; it
// rejoins at once keeping all four (no revocation), naming them and its generation in
// its subscription; the new assignment keeps two: it revokes only the other two (and
// takes nothing), heartbeats on in the new generation while it revokes, and rejoins
// once they are revoked — not before, even when the group asks — claiming the two it
// kept; the second rebalance changes nothing for it.
func TestCooperativeMemberTwoRounds(t *testing.T) {
	m := newCoopMembership(t)
	coopStable(t, m, 3, 0, 1, 2, 3)

	s := m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
	if m.state != stateJoining || s.Rebalance || s.Lost != nil || !s.Alive {
		t.Fatalf("REBALANCE_IN_PROGRESS: state %v, step %+v; want joining at once, nothing revoked", m.state, s)
	}
	for _, proto := range []string{"cooperative-sticky", "range"} {
		sub := subscriptionOf(t, s, proto)
		if !reflect.DeepEqual(sub.Owned, tparts(0, 1, 2, 3)) || sub.Generation != 3 {
			t.Errorf("%s subscription owns %v in generation %d, want [0 1 2 3] in 3", proto, sub.Owned, sub.Generation)
		}
	}
	if ud := subscriptionOf(t, s, "cooperative-sticky").UserData; len(ud) != 4 || binary.BigEndian.Uint32(ud) != 3 {
		t.Errorf("cooperative-sticky user data %x, want generation 3", ud)
	}
	if g := m.commitGeneration(); g != 3 {
		t.Errorf("commits while rejoining in generation %d, want 3 (what it owns is still read)", g)
	}

	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 4), nil)
	if g := m.commitGeneration(); m.state != stateSyncing || g != 4 {
		t.Errorf("syncing: state %v, commits in %d, want syncing, 4", m.state, g)
	}
	s = m.synced(syncResp(nil, 0, 1), nil)
	if !s.Assigned || s.Assign != nil || !s.Rebalance || !reflect.DeepEqual(s.Revoke, tparts(2, 3)) {
		t.Fatalf("synced [0 1]: step %+v; want revoke [2 3], assign nothing", s)
	}
	if m.state != stateStable || !reflect.DeepEqual(m.owned, tparts(0, 1)) || m.commitGeneration() != 4 || !m.heartbeating() {
		t.Fatalf("after sync: state %v owned %v commit generation %d", m.state, m.owned, m.commitGeneration())
	}
	// The group rebalances again before the revocation is done: it waits.
	s = m.heartbeat(4, hbResp(errcode.RebalanceInProgress), nil)
	if s.Send != reqNone || !s.Alive || m.state != stateStable {
		t.Fatalf("REBALANCE_IN_PROGRESS while revoking: %+v, state %v; want nothing sent yet", s, m.state)
	}
	s = m.heartbeat(4, hbResp(nil), nil)
	if s.Send != reqNone || !s.Alive {
		t.Fatalf("heartbeat while revoking: %+v", s)
	}

	s = m.revoked()
	if m.state != stateJoining {
		t.Fatalf("revoked: state %v, want joining (the second round)", m.state)
	}
	if sub := subscriptionOf(t, s, "cooperative-sticky"); !reflect.DeepEqual(sub.Owned, tparts(0, 1)) || sub.Generation != 4 {
		t.Errorf("second round claims %v in %d, want [0 1] in 4", sub.Owned, sub.Generation)
	}
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 5), nil)
	s = m.synced(syncResp(nil, 0, 1), nil)
	if !s.Assigned || s.Assign != nil || s.Rebalance || m.rejoin || m.state != stateStable {
		t.Fatalf("second round: step %+v, rejoin %v; want stable, nothing to do", s, m.rejoin)
	}
	if s := m.revoked(); s.Send != reqNone || m.state != stateStable {
		t.Errorf("a stray revoked: %+v, state %v", s, m.state)
	}
	// A SyncGroup refused because the group moved on again: the member claims what it
	// kept in the generation it joined (as the Java client does), not the one it synced
	// in: the leader of the generation it joined held back whatever it was to give up.
	m.heartbeat(5, hbResp(errcode.RebalanceInProgress), nil)
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 6), nil)
	s = m.synced(syncResp(errcode.RebalanceInProgress), nil)
	if sub := subscriptionOf(t, s, "cooperative-sticky"); !reflect.DeepEqual(sub.Owned, tparts(0, 1)) || sub.Generation != 6 ||
		binary.BigEndian.Uint32(sub.UserData) != 5 {
		t.Errorf("after a failed sync: claims %v in %d (user data %x), want [0 1] in 6 (user data: 5, the last assignment's)", sub.Owned, sub.Generation, sub.UserData)
	}
}

// TestCooperativeRevokesOnlyWhatMoved: of what it owns, the member gives up what the
// new assignment leaves out and takes only what it adds; the partitions it keeps are
// in neither list (their fetches and ownership go on untouched).
func TestCooperativeRevokesOnlyWhatMoved(t *testing.T) {
	m := newCoopMembership(t)
	coopStable(t, m, 7, 0, 1, 2)
	m.heartbeat(7, hbResp(errcode.RebalanceInProgress), nil)
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 8), nil)
	s := m.synced(syncResp(nil, 1, 2, 3), nil)
	if !reflect.DeepEqual(s.Revoke, tparts(0)) || !reflect.DeepEqual(s.Assign, tparts(3)) || !s.Rebalance || !s.Assigned {
		t.Fatalf("owned [0 1 2], assigned [1 2 3]: step %+v; want revoke [0], assign [3]", s)
	}
	if !reflect.DeepEqual(m.owned, tparts(1, 2, 3)) || !m.rejoin {
		t.Errorf("owned %v rejoin %v", m.owned, m.rejoin)
	}
	// Nothing moved away: no revocation and no second round.
	m = newCoopMembership(t)
	coopStable(t, m, 7, 0, 1)
	m.heartbeat(7, hbResp(errcode.RebalanceInProgress), nil)
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 8), nil)
	s = m.synced(syncResp(nil, 0, 1, 2, 3), nil)
	if s.Rebalance || s.Revoke != nil || !reflect.DeepEqual(s.Assign, tparts(2, 3)) || m.rejoin {
		t.Fatalf("owned [0 1], assigned [0 1 2 3]: step %+v rejoin %v; want assign [2 3] only", s, m.rejoin)
	}
}

// TestCooperativeLost: a cooperative member told it is out of the generation, on any
// request, or without a heartbeat for its session, loses what it kept (no commit), and
// its next subscription claims nothing (generation -1).
func TestCooperativeLost(t *testing.T) {
	cases := map[string]func(m *membership) step{
		"heartbeat ILLEGAL_GENERATION": func(m *membership) step {
			return m.heartbeat(3, hbResp(errcode.IllegalGeneration), nil)
		},
		"heartbeat UNKNOWN_MEMBER_ID": func(m *membership) step {
			return m.heartbeat(3, hbResp(errcode.UnknownMemberID), nil)
		},
		"join UNKNOWN_MEMBER_ID": func(m *membership) step {
			m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
			return m.joined(protoJoinResp("cooperative-sticky", "", "", -1), errcode.UnknownMemberID)
		},
		"join ILLEGAL_GENERATION": func(m *membership) step {
			m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
			return m.joined(nil, errcode.IllegalGeneration)
		},
		"sync ILLEGAL_GENERATION": func(m *membership) step {
			m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
			m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 4), nil)
			return m.synced(syncResp(errcode.IllegalGeneration), nil)
		},
		"sync UNKNOWN_MEMBER_ID": func(m *membership) step {
			m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
			m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 4), nil)
			return m.synced(syncResp(errcode.UnknownMemberID), nil)
		},
	}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			m := newCoopMembership(t)
			coopStable(t, m, 3, 0, 1)
			s := input(m)
			if !reflect.DeepEqual(s.Lost, tparts(0, 1)) || s.Rebalance || m.owned != nil {
				t.Fatalf("step %+v owned %v; want [0 1] lost, nothing revoked", s, m.owned)
			}
			if sub := subscriptionOf(t, s, "cooperative-sticky"); sub.Owned != nil || sub.Generation != -1 {
				t.Errorf("the rejoin claims %v in %d, want nothing in -1", sub.Owned, sub.Generation)
			}
			if g := m.commitGeneration(); g != -1 {
				t.Errorf("commits in generation %d after a loss, want none", g)
			}
		})
	}
	t.Run("session", func(t *testing.T) {
		m := newCoopMembership(t)
		coopStable(t, m, 3, 0, 1)
		if s := m.sessionLost(); !reflect.DeepEqual(s.Lost, tparts(0, 1)) || s.Send != reqFindCoordinator {
			t.Fatalf("session lost: %+v", s)
		}
	})
	t.Run("a REBALANCE_IN_PROGRESS join keeps them", func(t *testing.T) {
		m := newCoopMembership(t)
		coopStable(t, m, 3, 0, 1)
		m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
		s := m.joined(nil, errcode.RebalanceInProgress)
		if s.Lost != nil || s.Send != reqJoin || !reflect.DeepEqual(m.owned, tparts(0, 1)) {
			t.Fatalf("step %+v owned %v", s, m.owned)
		}
		s = m.joined(nil, errcode.NotCoordinator)
		if s.Lost != nil || s.Send != reqFindCoordinator || m.commitGeneration() != 3 {
			t.Fatalf("NOT_COORDINATOR: step %+v, commit generation %d", s, m.commitGeneration())
		}
	})
}

// TestCooperativeStaleRevocation: a member loses what it kept while a revocation is
// still with the hand-off, rejoins at once (what it loses it no longer claims) and gets
// partitions again. When the group rebalances next, it rejoins only once that old
// revocation is done: until then a subscription would leave out a partition the
// hand-off may still hold.
func TestCooperativeStaleRevocation(t *testing.T) {
	m := newCoopMembership(t)
	coopStable(t, m, 3, 0, 1, 2)
	m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 4), nil)
	m.synced(syncResp(nil, 0, 1), nil) // revoking 2
	if s := m.heartbeat(4, hbResp(errcode.IllegalGeneration), nil); s.Send != reqJoin || !reflect.DeepEqual(s.Lost, tparts(0, 1)) {
		t.Fatalf("ILLEGAL_GENERATION while revoking: %+v; want [0 1] lost, rejoin at once", s)
	}
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 5), nil)
	if s := m.synced(syncResp(nil, 0, 1), nil); !reflect.DeepEqual(s.Assign, tparts(0, 1)) || s.Rebalance {
		t.Fatalf("synced again: %+v", s)
	}
	if s := m.heartbeat(5, hbResp(errcode.RebalanceInProgress), nil); s.Send != reqNone || m.state != stateStable {
		t.Fatalf("a rebalance while the old revocation is under way: %+v, state %v; want to wait", s, m.state)
	}
	if s := m.revoked(); s.Send != reqJoin {
		t.Fatalf("the old revocation done: %+v, want the rejoin", s)
	}
	if sub := subscriptionOf(t, step{Send: reqJoin, Req: mustJoinRequest(t, m)}, "cooperative-sticky"); !reflect.DeepEqual(sub.Owned, tparts(0, 1)) || sub.Generation != 5 {
		t.Errorf("claims %v in %d, want [0 1] in 5", sub.Owned, sub.Generation)
	}
}

func mustJoinRequest(t *testing.T, m *membership) *api.JoinGroupRequest {
	t.Helper()
	req, err := m.joinRequest()
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestCooperativeDowngrade: a member kept its partitions through a join (its group was
// cooperative), and the coordinator chose an eager assignor this time (a member that
// offers only range joined): it gives up everything it kept before taking the whole new
// assignment afresh, as an eager member would have, and does not rejoin for it; from
// then on it rebalances eagerly. When the group chooses cooperative-sticky again, it
// keeps its partitions again.
func TestCooperativeDowngrade(t *testing.T) {
	m := newCoopMembership(t)
	coopStable(t, m, 3, 0, 1)
	m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
	m.joined(protoJoinResp("range", "m1", "m0", 4), nil)
	s := m.synced(syncResp(nil, 0, 1, 2), nil)
	if m.cooperative || !s.Rebalance || !reflect.DeepEqual(s.Revoke, tparts(0, 1)) || !reflect.DeepEqual(s.Assign, tparts(0, 1, 2)) {
		t.Fatalf("downgraded: cooperative %v, step %+v; want revoke [0 1], assign [0 1 2]", m.cooperative, s)
	}
	if s := m.revoked(); s.Send != reqNone || m.state != stateStable {
		t.Fatalf("the downgrade's revocation done: %+v, state %v; want stable, no rejoin", s, m.state)
	}
	s = m.heartbeat(4, hbResp(errcode.RebalanceInProgress), nil)
	if m.state != stateRebalancing || !reflect.DeepEqual(s.Revoke, tparts(0, 1, 2)) {
		t.Fatalf("eager now: state %v, step %+v", m.state, s)
	}
	s = m.revoked()
	if sub := subscriptionOf(t, s, "cooperative-sticky"); sub.Owned != nil || sub.Generation != 4 {
		t.Errorf("eager rejoin claims %v in %d, want nothing owned, generation 4", sub.Owned, sub.Generation)
	}
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 5), nil)
	if s := m.synced(syncResp(nil, 0, 1), nil); s.Rebalance || !reflect.DeepEqual(s.Assign, tparts(0, 1)) || !m.cooperative {
		t.Fatalf("cooperative again: step %+v", s)
	}
	if s := m.heartbeat(5, hbResp(errcode.RebalanceInProgress), nil); s.Rebalance || s.Send != reqJoin {
		t.Fatalf("cooperative again keeps its partitions: %+v", s)
	}
}

// TestCooperativeLeader: as the leader of a cooperative generation the member runs
// cooperative-sticky over the members' claims (owned partitions and generations, KIP-792):
// a partition moving from one member to another is held back, a stale claim is ignored.
// An assignor that hands a partition over while its owner still holds it is refused.
func TestCooperativeLeader(t *testing.T) {
	subs := []Subscription{
		{MemberID: "m1", Topics: []string{"t"}, Owned: tparts(0, 1, 2, 3), Generation: 3},
		{MemberID: "m2", Topics: []string{"t"}, Generation: -1},
		// A zombie's claim from an older generation: ignored.
		{MemberID: "m3", Topics: []string{"t"}, Owned: tparts(0), Generation: 2},
	}
	m := newCoopMembership(t)
	m.start()
	m.coordinator(nil)
	s := m.joined(protoJoinResp("cooperative-sticky", "m1", "m1", 4, subs...), nil)
	if !s.Planning {
		t.Fatalf("leader: %+v", s)
	}
	s = m.planned(map[string]int32{"t": 4})
	req, ok := s.Req.(*api.SyncGroupRequest)
	if !ok {
		t.Fatalf("planned: %+v", s)
	}
	got := map[string][]TopicPartitions{}
	for _, a := range req.Assignments {
		var as Assignment
		if _, err := as.Decode(a.Assignment); err != nil {
			t.Fatal(err)
		}
		got[a.MemberID] = as.Partitions
	}
	// m1 keeps one partition per member's quota and gives the rest up; nobody gets
	// them in this rebalance.
	n := 0
	for id, ps := range got {
		for _, tp := range ps {
			n += len(tp.Partitions)
			if id != "m1" && len(tp.Partitions) > 0 {
				t.Errorf("%s gets %v while m1 still owns it", id, tp.Partitions)
			}
		}
	}
	if len(got["m1"]) != 1 || len(got["m1"][0].Partitions) != 2 || n != 2 {
		t.Errorf("assignments %v: want m1 to keep two, the other two held back", got)
	}

	m = newCoopMembership(t)
	m.assignors = []Assignor{eagerAsCooperative{}}
	m.start()
	m.coordinator(nil)
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m1", 4, subs...), nil)
	if s := m.planned(map[string]int32{"t": 4}); !errors.Is(s.Fatal, ErrInvalidAssignment) {
		t.Fatalf("an assignor moving owned partitions at once: %+v, want ErrInvalidAssignment", s)
	}
}

// eagerAsCooperative claims to be cooperative and assigns as range does.
type eagerAsCooperative struct{ rangeAssignor }

func (eagerAsCooperative) Name() string      { return "cooperative-sticky" }
func (eagerAsCooperative) Cooperative() bool { return true }

func TestCheckCooperative(t *testing.T) {
	subs := []Subscription{
		{MemberID: "a", Owned: tparts(0, 1), Generation: 5},
		{MemberID: "b", Owned: tparts(1, 2), Generation: 4}, // 1 is a's: b's claim is stale
		{MemberID: "c", Owned: tparts(3), Generation: 5},
		{MemberID: "d", Owned: tparts(3), Generation: 5}, // 3 contested: held back from all
	}
	ok := map[string]Assignment{"a": {Partitions: tparts(0, 1)}, "b": {Partitions: tparts(2)}, "c": {}, "d": {Partitions: tparts(4)}}
	if err := checkCooperative(subs, ok); err != nil {
		t.Errorf("a valid assignment refused: %v", err)
	}
	for name, got := range map[string]map[string]Assignment{
		"a's partition to b":    {"a": {Partitions: tparts(0)}, "b": {Partitions: tparts(1)}},
		"a contested one to c":  {"c": {Partitions: tparts(3)}},
		"a stale claim honored": {"b": {Partitions: tparts(1, 2)}},
	} {
		if err := checkCooperative(subs, got); !errors.Is(err, ErrInvalidAssignment) {
			t.Errorf("%s: %v, want ErrInvalidAssignment", name, err)
		}
	}
}

func TestDiffParts(t *testing.T) {
	a := []TopicPartitions{{Topic: "a", Partitions: []int32{0, 1, 2}}, {Topic: "b", Partitions: []int32{0}}}
	b := []TopicPartitions{{Topic: "a", Partitions: []int32{1, 3}}}
	if got, want := diffParts(a, b), []TopicPartitions{{Topic: "a", Partitions: []int32{0, 2}}, {Topic: "b", Partitions: []int32{0}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("a-b %v, want %v", got, want)
	}
	if got, want := diffParts(b, a), []TopicPartitions{{Topic: "a", Partitions: []int32{3}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("b-a %v, want %v", got, want)
	}
	if got := diffParts(a, a); got != nil {
		t.Errorf("a-a %v", got)
	}
}

// TestCooperativeRevokesUnsubscribedTopics: a cooperative member that owns partitions of
// a topic it no longer subscribes to revokes them before it rejoins (the assignors
// ignore such claims, so the partitions could go to another member at once), and its
// subscription then claims only the rest.
func TestCooperativeRevokesUnsubscribedTopics(t *testing.T) {
	m := newCoopMembership(t)
	m.start()
	m.coordinator(nil)
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 3), nil)
	a := Assignment{Partitions: []TopicPartitions{{Topic: "old", Partitions: []int32{0}}, {Topic: "t", Partitions: []int32{0, 1}}}}
	b, err := a.Encode(nil, AssignmentVersion)
	if err != nil {
		t.Fatal(err)
	}
	m.synced(&api.SyncGroupResponse{Assignment: b}, nil)
	s := m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
	if want := []TopicPartitions{{Topic: "old", Partitions: []int32{0}}}; !s.Rebalance || !reflect.DeepEqual(s.Revoke, want) || s.Send != reqNone {
		t.Fatalf("REBALANCE_IN_PROGRESS owning a topic no longer subscribed: %+v; want it revoked first", s)
	}
	s = m.revoked()
	if sub := subscriptionOf(t, s, "cooperative-sticky"); !reflect.DeepEqual(sub.Owned, tparts(0, 1)) {
		t.Errorf("the rejoin claims %v, want t [0 1]", sub.Owned)
	}
}

// TestCooperativeSessionWhileJoining: a cooperative member reads what it kept while it
// joins again, so its session still binds it: when nothing sent to the coordinator has
// succeeded for the session timeout (a JoinGroup hanging), what it kept is lost, and it
// finds the coordinator again. An eager member joining owns nothing, and is not bound.
func TestCooperativeSessionWhileJoining(t *testing.T) {
	m := newCoopMembership(t)
	coopStable(t, m, 3, 0, 1, 2, 3)
	m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
	if m.state != stateJoining || !m.sessionBound() {
		t.Fatalf("joining: state %v, session bound %v; want joining and bound (it reads [0 1 2 3])", m.state, m.sessionBound())
	}
	s := m.sessionLost()
	if !reflect.DeepEqual(s.Lost, tparts(0, 1, 2, 3)) || s.Send != reqFindCoordinator || len(m.owned) > 0 {
		t.Fatalf("session lost while joining: step %+v, owned %v; want [0 1 2 3] lost and the coordinator found again", s, m.owned)
	}
	if m.sessionBound() {
		t.Fatal("still bound to a session with nothing owned")
	}

	e := newTestMembership(false)
	scripts["stable"](e)
	e.heartbeat(e.generation, hbResp(errcode.RebalanceInProgress), nil)
	e.revoked()
	if e.state != stateJoining || e.sessionBound() {
		t.Fatalf("eager joining: state %v, bound %v; want joining, not bound", e.state, e.sessionBound())
	}
	if s := e.sessionLost(); s.Send != reqNone || s.Lost != nil {
		t.Fatalf("eager joining: session lost gave %+v; want nothing", s)
	}
}

// TestCooperativeRevocationHoldsOffGoingAway: a user overrunning the processing time
// while a cooperative revocation waits for it does not make the member leave the group:
// the revocation is bounded on its own (the hand-off's bound, then a loss), and leaving
// first would let others take those partitions while the user may still commit them.
func TestCooperativeRevocationHoldsOffGoingAway(t *testing.T) {
	m := newCoopMembership(t)
	coopStable(t, m, 3, 0, 1, 2, 3)
	m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 4), nil)
	if s := m.synced(syncResp(nil, 0, 1), nil); !reflect.DeepEqual(s.Revoke, tparts(2, 3)) {
		t.Fatalf("synced: %+v; want [2 3] revoked", s)
	}
	if m.mayGoAway() {
		t.Fatal("may go away while a revocation is under way")
	}
	if s := m.pollExpired(); s.Send != reqNone || s.Lost != nil || m.state != stateStable {
		t.Fatalf("poll expired while revoking: %+v, state %v; want nothing", s, m.state)
	}
	m.revoked() // the second round
	m.joined(protoJoinResp("cooperative-sticky", "m1", "m0", 5), nil)
	m.synced(syncResp(nil, 0, 1), nil)
	if !m.mayGoAway() {
		t.Fatal("stable, nothing being revoked, and may not go away")
	}
	s := m.pollExpired()
	if !reflect.DeepEqual(s.Lost, tparts(0, 1)) || s.Send != reqLeave || m.state != stateAway {
		t.Fatalf("poll expired when stable: %+v, state %v; want [0 1] lost and LeaveGroup", s, m.state)
	}
}
