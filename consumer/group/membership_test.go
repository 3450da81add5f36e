package group

import (
	"errors"
	"reflect"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
)

// The membership state machine driven by scripted coordinator answers: every row is a
// state reached by a script, one input, and the state and step that must follow.

func newTestMembership(static bool) *membership {
	cfg := testGroupConfig("g")
	if static {
		cfg.InstanceID = "i1"
	}
	cfg, _ = cfg.withDefaults()
	return newMembership(&cfg)
}

func joinResp(code *errcode.Error, member, leader string, gen int32, members ...string) *api.JoinGroupResponse {
	r := &api.JoinGroupResponse{}
	r.Default()
	if code != nil {
		r.ErrorCode = code.Code
	}
	name := "range"
	r.ProtocolName = &name
	r.MemberID, r.Leader, r.GenerationID = member, leader, gen
	for _, id := range members {
		sub := Subscription{Topics: []string{"t"}}
		meta, err := sub.Encode(nil, SubscriptionVersion)
		if err != nil {
			panic(err)
		}
		r.Members = append(r.Members, api.JoinGroupResponseMember{MemberID: id, Metadata: meta})
	}
	return r
}

func syncResp(code *errcode.Error, parts ...int32) *api.SyncGroupResponse {
	r := &api.SyncGroupResponse{}
	r.Default()
	if code != nil {
		r.ErrorCode = code.Code
	}
	if parts != nil {
		a := Assignment{Partitions: []TopicPartitions{{Topic: "t", Partitions: parts}}}
		b, err := a.Encode(nil, AssignmentVersion)
		if err != nil {
			panic(err)
		}
		r.Assignment = b
	}
	return r
}

func hbResp(code *errcode.Error) *api.HeartbeatResponse {
	r := &api.HeartbeatResponse{}
	if code != nil {
		r.ErrorCode = code.Code
	}
	return r
}

// scripts bring a membership to a state.
var scripts map[string]func(*membership)

func init() {
	scripts = map[string]func(*membership){
		"unjoined": func(m *membership) { m.start() },
		"joining": func(m *membership) {
			m.start()
			m.coordinator(nil)
		},
		"syncing": func(m *membership) {
			scripts["joining"](m)
			m.joined(joinResp(nil, "m1", "m0", 3), nil)
		},
		"leader-syncing": func(m *membership) {
			scripts["joining"](m)
			m.joined(joinResp(nil, "m1", "m1", 3, "m1", "m2"), nil)
		},
		"stable": func(m *membership) {
			scripts["syncing"](m)
			m.synced(syncResp(nil, 0, 1), nil)
		},
		"rebalancing": func(m *membership) {
			scripts["stable"](m)
			m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
		},
	}
}

var owned01 = []TopicPartitions{{Topic: "t", Partitions: []int32{0, 1}}}

var netErr = &broker.Error{Broker: "node 1", Err: broker.ErrNetwork}

func TestMembershipTransitions(t *testing.T) {
	type want struct {
		state     memberState
		send      reqKind
		retry     bool
		lost      []TopicPartitions
		rebalance bool
		revoke    []TopicPartitions
		assigned  bool
		assign    []TopicPartitions
		planning  bool
		fatal     error // matched with errors.Is
		memberID  string
	}
	cases := []struct {
		name   string
		from   string
		static bool
		input  func(*membership) step
		want   want
	}{
		{"start finds the coordinator", "", false, func(m *membership) step { return m.start() },
			want{state: stateUnjoined, send: reqFindCoordinator}},
		{"coordinator found: join", "unjoined", false, func(m *membership) step { return m.coordinator(nil) },
			want{state: stateJoining, send: reqJoin}},
		{"coordinator not found: again after a backoff", "unjoined", false,
			func(m *membership) step { return m.coordinator(errcode.CoordinatorNotAvailable) },
			want{state: stateUnjoined, send: reqFindCoordinator, retry: true}},
		{"coordinator lookup refused: fatal", "unjoined", false,
			func(m *membership) step { return m.coordinator(errcode.GroupAuthorizationFailed) },
			want{state: stateDead, fatal: errcode.GroupAuthorizationFailed}},
		{"MEMBER_ID_REQUIRED: join again at once with the ID", "joining", false,
			func(m *membership) step { return m.joined(joinResp(errcode.MemberIDRequired, "m1", "", -1), nil) },
			want{state: stateJoining, send: reqJoin, memberID: "m1"}},
		{"UNKNOWN_MEMBER_ID on join: again without an ID", "rebalancing", false,
			func(m *membership) step {
				m.revoked()
				return m.joined(joinResp(errcode.UnknownMemberID, "", "", -1), nil)
			},
			want{state: stateJoining, send: reqJoin, memberID: ""}},
		{"join NOT_COORDINATOR: find it again", "joining", false,
			func(m *membership) step { return m.joined(joinResp(errcode.NotCoordinator, "", "", -1), nil) },
			want{state: stateUnjoined, send: reqFindCoordinator, retry: true}},
		{"join COORDINATOR_LOAD_IN_PROGRESS: the same again after a backoff", "joining", false,
			func(m *membership) step {
				return m.joined(joinResp(errcode.CoordinatorLoadInProgress, "", "", -1), nil)
			},
			want{state: stateJoining, send: reqJoin, retry: true}},
		{"join lost on the network: find the coordinator again", "joining", false,
			func(m *membership) step { return m.joined(nil, netErr) },
			want{state: stateUnjoined, send: reqFindCoordinator, retry: true}},
		{"INCONSISTENT_GROUP_PROTOCOL: fatal", "joining", false,
			func(m *membership) step {
				return m.joined(joinResp(errcode.InconsistentGroupProtocol, "", "", -1), nil)
			},
			want{state: stateDead, fatal: errcode.InconsistentGroupProtocol}},
		{"GROUP_MAX_SIZE_REACHED: fatal", "joining", false,
			func(m *membership) step { return m.joined(joinResp(errcode.GroupMaxSizeReached, "", "", -1), nil) },
			want{state: stateDead, fatal: errcode.GroupMaxSizeReached}},
		{"GROUP_AUTHORIZATION_FAILED on join: fatal", "joining", false,
			func(m *membership) step {
				return m.joined(joinResp(errcode.GroupAuthorizationFailed, "", "", -1), nil)
			},
			want{state: stateDead, fatal: errcode.GroupAuthorizationFailed}},
		{"INVALID_SESSION_TIMEOUT: fatal", "joining", false,
			func(m *membership) step { return m.joined(joinResp(errcode.InvalidSessionTimeout, "", "", -1), nil) },
			want{state: stateDead, fatal: errcode.InvalidSessionTimeout}},
		{"FENCED_INSTANCE_ID on join: fatal", "joining", true,
			func(m *membership) step { return m.joined(joinResp(errcode.FencedInstanceID, "", "", -1), nil) },
			want{state: stateDead, fatal: errcode.FencedInstanceID}},
		{"UNRELEASED_INSTANCE_ID: again after a backoff", "joining", true,
			func(m *membership) step {
				return m.joined(joinResp(errcode.UnreleasedInstanceID, "", "", -1), nil)
			},
			want{state: stateJoining, send: reqJoin, retry: true}},
		{"UNRELEASED_INSTANCE_ID too often: fatal", "joining", true,
			func(m *membership) step {
				for range maxUnreleased {
					m.joined(joinResp(errcode.UnreleasedInstanceID, "", "", -1), nil)
				}
				return m.joined(joinResp(errcode.UnreleasedInstanceID, "", "", -1), nil)
			},
			want{state: stateDead, fatal: errcode.UnreleasedInstanceID}},
		{"a protocol it did not offer: fatal", "joining", false,
			func(m *membership) step {
				r := joinResp(nil, "m1", "m0", 3)
				other := "roundrobin"
				r.ProtocolName = &other
				return m.joined(r, nil)
			},
			want{state: stateDead, fatal: errcode.InconsistentGroupProtocol, memberID: "m1"}},
		{"joined as a follower: sync", "joining", false,
			func(m *membership) step { return m.joined(joinResp(nil, "m1", "m0", 3), nil) },
			want{state: stateSyncing, send: reqSync, memberID: "m1"}},
		{"joined as the leader: plan first", "joining", false,
			func(m *membership) step { return m.joined(joinResp(nil, "m1", "m1", 3, "m1", "m2"), nil) },
			want{state: stateSyncing, planning: true, memberID: "m1"}},
		{"leader planned: sync with the assignments", "leader-syncing", false,
			func(m *membership) step { return m.planned(map[string]int32{"t": 4}) },
			want{state: stateSyncing, send: reqSync, memberID: "m1"}},
		{"leader with a faulty assignor: fatal", "leader-syncing", false,
			func(m *membership) step {
				m.assignors = []Assignor{twiceAssignor{}}
				return m.planned(map[string]int32{"t": 4})
			},
			want{state: stateDead, fatal: ErrInvalidAssignment, memberID: "m1"}},
		{"synced: stable, assigned", "syncing", false,
			func(m *membership) step { return m.synced(syncResp(nil, 1, 0), nil) },
			want{state: stateStable, assigned: true, assign: owned01, memberID: "m1"}},
		{"synced with nothing: stable, assigned nothing", "syncing", false,
			func(m *membership) step { return m.synced(syncResp(nil), nil) },
			want{state: stateStable, assigned: true, memberID: "m1"}},
		{"sync REBALANCE_IN_PROGRESS: join again", "syncing", false,
			func(m *membership) step { return m.synced(syncResp(errcode.RebalanceInProgress), nil) },
			want{state: stateJoining, send: reqJoin, memberID: "m1"}},
		{"sync UNKNOWN_MEMBER_ID: join again without an ID", "syncing", false,
			func(m *membership) step { return m.synced(syncResp(errcode.UnknownMemberID), nil) },
			want{state: stateJoining, send: reqJoin}},
		{"sync NOT_COORDINATOR: find it, then join", "syncing", false,
			func(m *membership) step { return m.synced(syncResp(errcode.NotCoordinator), nil) },
			want{state: stateUnjoined, send: reqFindCoordinator, retry: true, memberID: "m1"}},
		{"heartbeat ok", "stable", false,
			func(m *membership) step { return m.heartbeat(3, hbResp(nil), nil) },
			want{state: stateStable, memberID: "m1"}},
		{"heartbeat of an earlier generation: ignored", "stable", false,
			func(m *membership) step { return m.heartbeat(2, hbResp(errcode.IllegalGeneration), nil) },
			want{state: stateStable, memberID: "m1"}},
		{"heartbeat REBALANCE_IN_PROGRESS: revoke everything, then rejoin (eager)", "stable", false,
			func(m *membership) step { return m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil) },
			want{state: stateRebalancing, rebalance: true, revoke: owned01, memberID: "m1"}},
		{"revoked: rejoin with the same ID", "rebalancing", false,
			func(m *membership) step { return m.revoked() },
			want{state: stateJoining, send: reqJoin, memberID: "m1"}},
		{"heartbeat while revoking: REBALANCE_IN_PROGRESS keeps the session, nothing more", "rebalancing", false,
			func(m *membership) step {
				s := m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
				if !s.Alive {
					t.Error("not alive")
				}
				return s
			},
			want{state: stateRebalancing, memberID: "m1"}},
		{"heartbeat while revoking: UNKNOWN_MEMBER_ID, rejoin afresh once revoked", "rebalancing", false,
			func(m *membership) step {
				m.heartbeat(3, hbResp(errcode.UnknownMemberID), nil)
				return m.revoked()
			},
			want{state: stateJoining, send: reqJoin}},
		{"heartbeat while revoking: NOT_COORDINATOR, find it again", "rebalancing", false,
			func(m *membership) step { return m.heartbeat(3, hbResp(errcode.NotCoordinator), nil) },
			want{state: stateRebalancing, send: reqFindCoordinator, retry: true, memberID: "m1"}},
		{"heartbeat ILLEGAL_GENERATION: lost, rejoin", "stable", false,
			func(m *membership) step { return m.heartbeat(3, hbResp(errcode.IllegalGeneration), nil) },
			want{state: stateJoining, send: reqJoin, lost: owned01, memberID: "m1"}},
		{"heartbeat UNKNOWN_MEMBER_ID: lost, rejoin without an ID", "stable", false,
			func(m *membership) step { return m.heartbeat(3, hbResp(errcode.UnknownMemberID), nil) },
			want{state: stateJoining, send: reqJoin, lost: owned01}},
		{"heartbeat NOT_COORDINATOR: find it again, keep the partitions", "stable", false,
			func(m *membership) step { return m.heartbeat(3, hbResp(errcode.NotCoordinator), nil) },
			want{state: stateStable, send: reqFindCoordinator, retry: true, memberID: "m1"}},
		{"heartbeat COORDINATOR_NOT_AVAILABLE: find it again", "stable", false,
			func(m *membership) step { return m.heartbeat(3, hbResp(errcode.CoordinatorNotAvailable), nil) },
			want{state: stateStable, send: reqFindCoordinator, retry: true, memberID: "m1"}},
		{"heartbeat COORDINATOR_LOAD_IN_PROGRESS: the next heartbeat asks again", "stable", false,
			func(m *membership) step { return m.heartbeat(3, hbResp(errcode.CoordinatorLoadInProgress), nil) },
			want{state: stateStable, memberID: "m1"}},
		{"heartbeat lost on the network: find the coordinator again", "stable", false,
			func(m *membership) step { return m.heartbeat(3, nil, netErr) },
			want{state: stateStable, send: reqFindCoordinator, retry: true, memberID: "m1"}},
		{"heartbeat FENCED_INSTANCE_ID: fatal, partitions lost", "stable", true,
			func(m *membership) step { return m.heartbeat(3, hbResp(errcode.FencedInstanceID), nil) },
			want{state: stateDead, lost: owned01, fatal: errcode.FencedInstanceID, memberID: "m1"}},
		{"heartbeat GROUP_AUTHORIZATION_FAILED: fatal, partitions lost", "stable", false,
			func(m *membership) step {
				return m.heartbeat(3, hbResp(errcode.GroupAuthorizationFailed), nil)
			},
			want{state: stateDead, lost: owned01, fatal: errcode.GroupAuthorizationFailed, memberID: "m1"}},
		{"coordinator found again while stable: heartbeat at once", "stable", false,
			func(m *membership) step {
				m.heartbeat(3, hbResp(errcode.NotCoordinator), nil)
				return m.coordinator(nil)
			},
			want{state: stateStable, send: reqHeartbeat, memberID: "m1"}},
		{"a coordinator found again does not reset the backoff of a request still failing", "stable", false,
			func(m *membership) step {
				m.heartbeat(3, nil, netErr)
				m.coordinator(nil)
				s := m.heartbeat(3, nil, netErr)
				if s.Retry != 2 {
					t.Errorf("retry %d after two failed heartbeats, want 2", s.Retry)
				}
				return s
			},
			want{state: stateStable, send: reqFindCoordinator, retry: true, memberID: "m1"}},
		{"session lost: partitions lost, find the coordinator, rejoin", "stable", false,
			func(m *membership) step { return m.sessionLost() },
			want{state: stateUnjoined, send: reqFindCoordinator, retry: true, lost: owned01, memberID: "m1"}},
		{"processing time overrun: partitions lost, LeaveGroup, the ID forgotten", "stable", false,
			func(m *membership) step { return m.pollExpired() },
			want{state: stateAway, send: reqLeave, lost: owned01}},
		{"processing time overrun, static: partitions lost, no LeaveGroup", "stable", true,
			func(m *membership) step { return m.pollExpired() },
			want{state: stateAway, lost: owned01, memberID: "m1"}},
		{"processing time overrun while rebalancing: the hand-off's bound decides", "rebalancing", false,
			func(m *membership) step { return m.pollExpired() },
			want{state: stateRebalancing, memberID: "m1"}},
		{"away: heartbeat answers and the LeaveGroup answer change nothing", "stable", false,
			func(m *membership) step {
				m.pollExpired()
				m.heartbeat(3, hbResp(errcode.RebalanceInProgress), nil)
				m.coordinator(nil)
				return m.left(nil, nil)
			},
			want{state: stateAway}},
		{"back after an overrun: find the coordinator, then join afresh", "stable", false,
			func(m *membership) step {
				m.pollExpired()
				m.back()
				return m.coordinator(nil)
			},
			want{state: stateJoining, send: reqJoin}},
		{"back when not away: nothing", "stable", false, func(m *membership) step { return m.back() },
			want{state: stateStable, memberID: "m1"}},
		{"close while away: gone, nothing to send", "stable", false,
			func(m *membership) step {
				m.pollExpired()
				return m.leave()
			},
			want{state: stateDead}},
		{"leave: LeaveGroup", "stable", false, func(m *membership) step { return m.leave() },
			want{state: stateLeaving, send: reqLeave, memberID: "m1"}},
		{"leave, static (KIP-345): no LeaveGroup", "stable", true, func(m *membership) step { return m.leave() },
			want{state: stateDead, memberID: "m1"}},
		{"leave before having an ID: nothing to send", "unjoined", false, func(m *membership) step { return m.leave() },
			want{state: stateDead}},
		{"leave without a coordinator: find it, then leave", "stable", false,
			func(m *membership) step {
				m.leave()
				m.findAgain(reqLeave) // what the driver does when it knows no coordinator
				return m.coordinator(nil)
			},
			want{state: stateLeaving, send: reqLeave, memberID: "m1"}},
		{"leave, and the coordinator cannot be found: gone all the same", "stable", false,
			func(m *membership) step {
				m.leave()
				m.findAgain(reqLeave)
				return m.coordinator(errcode.CoordinatorNotAvailable)
			},
			want{state: stateDead, memberID: "m1"}},
		{"left, whatever the answer", "stable", false,
			func(m *membership) step {
				m.leave()
				return m.left(nil, netErr)
			},
			want{state: stateDead, memberID: "m1"}},
		{"a join answer after leaving: ignored", "joining", false,
			func(m *membership) step {
				m.joined(joinResp(errcode.MemberIDRequired, "m1", "", -1), nil)
				m.leave()
				return m.joined(joinResp(nil, "m1", "m1", 4), nil)
			},
			want{state: stateLeaving, memberID: "m1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMembership(tc.static)
			if tc.from != "" {
				scripts[tc.from](m)
			}
			s := tc.input(m)
			w := tc.want
			if m.state != w.state {
				t.Errorf("state %v, want %v", m.state, w.state)
			}
			if s.Send != w.send || (s.Retry > 0) != w.retry {
				t.Errorf("send %v (retry %d), want %v (retry %v)", s.Send, s.Retry, w.send, w.retry)
			}
			if s.Send != reqNone && s.Send != reqFindCoordinator && s.Req == nil {
				t.Errorf("send %v without a request", s.Send)
			}
			if !reflect.DeepEqual(s.Lost, w.lost) || s.Rebalance != w.rebalance || !reflect.DeepEqual(s.Revoke, w.revoke) {
				t.Errorf("lost %v, rebalance %v revoke %v; want %v, %v %v", s.Lost, s.Rebalance, s.Revoke, w.lost, w.rebalance, w.revoke)
			}
			if s.Assigned != w.assigned || !reflect.DeepEqual(s.Assign, w.assign) || s.Planning != w.planning {
				t.Errorf("assigned %v %v planning %v; want %v %v %v", s.Assigned, s.Assign, s.Planning, w.assigned, w.assign, w.planning)
			}
			switch {
			case w.fatal == nil && s.Fatal != nil:
				t.Errorf("fatal %v", s.Fatal)
			case w.fatal != nil && !errors.Is(s.Fatal, w.fatal):
				t.Errorf("fatal %v, want %v", s.Fatal, w.fatal)
			}
			if m.memberID != w.memberID {
				t.Errorf("member ID %q, want %q", m.memberID, w.memberID)
			}
			if m.state == stateDead && len(m.owned) != 0 {
				t.Errorf("dead, owning %v", m.owned)
			}
		})
	}
}

// TestMembershipRequests checks what the requests carry.
func TestMembershipRequests(t *testing.T) {
	m := newTestMembership(true)
	scripts["leader-syncing"](m)
	j, err := m.joinRequest()
	if err != nil {
		t.Fatal(err)
	}
	if j.GroupID != "g" || j.MemberID != "m1" || j.ProtocolType != "consumer" || *j.GroupInstanceID != "i1" ||
		j.SessionTimeoutMs != 10000 || j.RebalanceTimeoutMs != 10000 || len(j.Protocols) != 1 || j.Protocols[0].Name != "range" {
		t.Errorf("join request %+v", j)
	}
	var sub Subscription
	if v, err := sub.Decode(j.Protocols[0].Metadata); err != nil || v != SubscriptionVersion || !reflect.DeepEqual(sub.Topics, []string{"t"}) || sub.Owned != nil {
		t.Errorf("join metadata: v%d %+v %v", v, sub, err)
	}
	s := m.planned(map[string]int32{"t": 4})
	req := s.Req.(*api.SyncGroupRequest)
	if req.GenerationID != 3 || req.MemberID != "m1" || len(req.Assignments) != 2 {
		t.Fatalf("sync request %+v", req)
	}
	got := map[string][]TopicPartitions{}
	for _, a := range req.Assignments {
		var as Assignment
		if _, err := as.Decode(a.Assignment); err != nil {
			t.Fatal(err)
		}
		got[a.MemberID] = as.Partitions
	}
	want := map[string][]TopicPartitions{
		"m1": {{Topic: "t", Partitions: []int32{0, 1}}},
		"m2": {{Topic: "t", Partitions: []int32{2, 3}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("assignments %v, want %v", got, want)
	}
	m.synced(syncResp(nil, 0, 1), nil)
	h := m.heartbeatRequest()
	if h.GenerationID != 3 || h.MemberID != "m1" || *h.GroupInstanceID != "i1" {
		t.Errorf("heartbeat %+v", h)
	}
}

// twiceAssignor gives partition 0 to every member.
type twiceAssignor struct{ rangeAssignor }

func (twiceAssignor) Assign(members []Subscription, _ map[string]int32) (map[string]Assignment, error) {
	out := make(map[string]Assignment)
	for _, m := range members {
		out[m.MemberID] = Assignment{Partitions: []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}}
	}
	return out, nil
}
