package group

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

var (
	topicA = codec.UUID{15: 1}
	topicB = codec.UUID{15: 2}
	topicC = codec.UUID{15: 3}
)

// newTestReconciler is a dynamic member of group "g" subscribed to a and b, whose member
// IDs are m1, m2, ... in turn, knowing the names of topics A and B (not C).
func newTestReconciler(instance string) *reconciler {
	n := 0
	r := newReconciler(reconcileConfig{
		Group: "g", InstanceID: instance, Rack: "r1", ServerAssignor: ServerAssignorUniform,
		RebalanceMs: 60000, Topics: []string{"b", "a"},
		NewID: func() string { n++; return fmt.Sprintf("m%d", n) },
	})
	r.resolved(map[codec.UUID]string{topicA: "a", topicB: "b"})
	return r
}

// assignment builds a response assignment: pairs of topic ID and partitions.
func assignment848(parts ...any) *api.ConsumerGroupHeartbeatResponseAssignment {
	a := &api.ConsumerGroupHeartbeatResponseAssignment{TopicPartitions: []api.ConsumerGroupHeartbeatResponseTopicPartitions{}}
	for i := 0; i < len(parts); i += 2 {
		a.TopicPartitions = append(a.TopicPartitions, api.ConsumerGroupHeartbeatResponseTopicPartitions{
			TopicID: parts[i].(codec.UUID), Partitions: parts[i+1].([]int32),
		})
	}
	return a
}

func okResp848(epoch int32, a *api.ConsumerGroupHeartbeatResponseAssignment) *api.ConsumerGroupHeartbeatResponse {
	return &api.ConsumerGroupHeartbeatResponse{MemberEpoch: epoch, HeartbeatIntervalMs: 250, Assignment: a}
}

func errResp848(e *errcode.Error) *api.ConsumerGroupHeartbeatResponse {
	return &api.ConsumerGroupHeartbeatResponse{ErrorCode: e.Code, MemberEpoch: -1}
}

func mustNext848(t *testing.T, r *reconciler) *api.ConsumerGroupHeartbeatRequest {
	t.Helper()
	req := r.next()
	if req == nil {
		t.Fatalf("no heartbeat to send (state %v, leaving %v)", r.state, r.leaving)
	}
	return req
}

func wantStep848(t *testing.T, got, want reconcileStep) {
	t.Helper()
	if want.Fatal != nil {
		if !errors.Is(got.Fatal, want.Fatal) {
			t.Fatalf("fatal %v, want one matching %v", got.Fatal, want.Fatal)
		}
		got.Fatal, want.Fatal = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("step\n got %+v\nwant %+v", got, want)
	}
}

func wireTPs848(parts ...any) []api.ConsumerGroupHeartbeatRequestTopicPartitions {
	out := []api.ConsumerGroupHeartbeatRequestTopicPartitions{}
	for i := 0; i < len(parts); i += 2 {
		out = append(out, api.ConsumerGroupHeartbeatRequestTopicPartitions{TopicID: parts[i].(codec.UUID), Partitions: parts[i+1].([]int32)})
	}
	return out
}

// checkFull checks that req carries every field of a full heartbeat of newTestReconciler's
// member.
func checkFull848(t *testing.T, req *api.ConsumerGroupHeartbeatRequest, instance string) {
	t.Helper()
	if req.GroupID != "g" || req.MemberID == "" || req.RebalanceTimeoutMs != 60000 ||
		!reflect.DeepEqual(req.SubscribedTopicNames, []string{"a", "b"}) ||
		req.ServerAssignor == nil || *req.ServerAssignor != "uniform" ||
		req.RackID == nil || *req.RackID != "r1" || req.TopicPartitions == nil {
		t.Fatalf("not a full heartbeat: %+v", req)
	}
	if (instance == "") != (req.InstanceID == nil) || (req.InstanceID != nil && *req.InstanceID != instance) {
		t.Fatalf("instance ID %v, want %q", req.InstanceID, instance)
	}
}

func checkPartial848(t *testing.T, req *api.ConsumerGroupHeartbeatRequest) {
	t.Helper()
	if req.RebalanceTimeoutMs != -1 || req.SubscribedTopicNames != nil || req.ServerAssignor != nil ||
		req.RackID != nil || req.InstanceID != nil || req.SubscribedTopicRegex != nil {
		t.Fatalf("a partial heartbeat repeats unchanged fields: %+v", req)
	}
}

// joinWith joins r and answers with epoch 1 and the assignment, then sends and answers the
// acknowledgement; it returns the join's step.
func joinWith848(t *testing.T, r *reconciler, a *api.ConsumerGroupHeartbeatResponseAssignment) reconcileStep {
	t.Helper()
	mustNext848(t, r)
	st := r.answered(okResp848(1, a))
	if r.due() {
		mustNext848(t, r)
		r.answered(okResp848(1, nil))
	}
	return st
}

func TestReconcileJoinSendsEverythingWithOwnIDAndEmptyPartitions(t *testing.T) {
	for _, instance := range []string{"", "i1"} {
		r := newTestReconciler(instance)
		if !r.due() {
			t.Fatal("a new member has no heartbeat due")
		}
		req := mustNext848(t, r)
		checkFull848(t, req, instance)
		if req.MemberID != "m1" || req.MemberEpoch != 0 || len(req.TopicPartitions) != 0 {
			t.Fatalf("join %+v: want the member's own ID m1 (KIP-1082), epoch 0, empty partitions", req)
		}
		if r.next() != nil || r.due() {
			t.Fatal("a second heartbeat while one is in flight")
		}
	}
}

func TestReconcileAssignThenAcknowledgeOnlyChanges(t *testing.T) {
	r := newTestReconciler("")
	mustNext848(t, r)
	resp := okResp848(3, assignment848(topicB, []int32{2, 0}, topicA, []int32{1, 1}))
	resp.HeartbeatIntervalMs = 1234
	wantStep848(t, r.answered(resp), reconcileStep{Assign: tps("a", 1, "b", 0, 2)})
	if r.heartbeatInterval() != 1234 || r.memberEpoch() != 3 {
		t.Fatalf("interval %d epoch %d, want those of the answer", r.heartbeatInterval(), r.memberEpoch())
	}
	if !r.due() {
		t.Fatal("no acknowledgement due after taking an assignment")
	}
	ack := mustNext848(t, r)
	checkPartial848(t, ack)
	if ack.MemberID != "m1" || ack.MemberEpoch != 3 || !reflect.DeepEqual(ack.TopicPartitions, wireTPs848(topicA, []int32{1}, topicB, []int32{0, 2})) {
		t.Fatalf("acknowledgement %+v", ack)
	}
	wantStep848(t, r.answered(okResp848(3, nil)), reconcileStep{})
	if r.due() {
		t.Fatal("a heartbeat due with nothing to say")
	}
	hb := mustNext848(t, r)
	checkPartial848(t, hb)
	if hb.TopicPartitions != nil {
		t.Fatalf("unchanged partitions sent again: %+v", hb.TopicPartitions)
	}
	// The same assignment again changes nothing.
	wantStep848(t, r.answered(okResp848(3, assignment848(topicA, []int32{1}, topicB, []int32{0, 2}))), reconcileStep{})
	if r.due() {
		t.Fatal("an unchanged assignment made a heartbeat due")
	}
}

func TestReconcileRevokesFirstThenAssignsThenAcknowledges(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0, 1, 2}))
	mustNext848(t, r)
	// The target moves a1, a2 away and adds b0.
	st := r.answered(okResp848(4, assignment848(topicA, []int32{0}, topicB, []int32{0})))
	wantStep848(t, st, reconcileStep{Revoke: tps("a", 1, 2)})
	if r.due() {
		t.Fatal("an acknowledgement due before the revocation is done")
	}
	// Heartbeats go on while the user finishes, without partitions, with the new epoch.
	hb := mustNext848(t, r)
	checkPartial848(t, hb)
	if hb.MemberEpoch != 4 || hb.TopicPartitions != nil {
		t.Fatalf("heartbeat during a revocation: %+v", hb)
	}
	// A newer target while revoking waits for the revocation to finish.
	wantStep848(t, r.answered(okResp848(5, assignment848(topicA, []int32{0}, topicB, []int32{0, 1}))), reconcileStep{})
	wantStep848(t, r.revoked(), reconcileStep{Assign: tps("b", 0, 1)})
	ack := mustNext848(t, r)
	if ack.MemberEpoch != 5 || !reflect.DeepEqual(ack.TopicPartitions, wireTPs848(topicA, []int32{0}, topicB, []int32{0, 1})) {
		t.Fatalf("acknowledgement %+v", ack)
	}
	if !reflect.DeepEqual(r.ownedNames(), tps("a", 0, "b", 0, 1)) {
		t.Fatalf("owned %v", r.ownedNames())
	}
	// revoked with nothing being revoked does nothing.
	wantStep848(t, r.revoked(), reconcileStep{})
}

func TestReconcileRevokeOnlyAcknowledgesAtOnce(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0, 1}))
	mustNext848(t, r)
	wantStep848(t, r.answered(okResp848(2, assignment848(topicA, []int32{1}))), reconcileStep{Revoke: tps("a", 0)})
	wantStep848(t, r.revoked(), reconcileStep{})
	if !r.due() {
		t.Fatal("giving up a partition is not acknowledged at once")
	}
	if ack := mustNext848(t, r); !reflect.DeepEqual(ack.TopicPartitions, wireTPs848(topicA, []int32{1})) {
		t.Fatalf("acknowledgement %+v", ack.TopicPartitions)
	}
	// Everything taken away: the acknowledgement is an empty array, not null.
	r.answered(okResp848(3, assignment848()))
	wantStep848(t, r.revoked(), reconcileStep{})
	if ack := mustNext848(t, r); ack.TopicPartitions == nil || len(ack.TopicPartitions) != 0 {
		t.Fatalf("acknowledgement of nothing owned: %#v", ack.TopicPartitions)
	}
}

func TestReconcileUnknownTopicWaitsForMetadata(t *testing.T) {
	r := newTestReconciler("")
	mustNext848(t, r)
	st := r.answered(okResp848(1, assignment848(topicA, []int32{0}, topicC, []int32{0, 1})))
	wantStep848(t, st, reconcileStep{Assign: tps("a", 0), Resolve: []codec.UUID{topicC}})
	// Asked once: a heartbeat answered with the same target does not ask again.
	mustNext848(t, r)
	wantStep848(t, r.answered(okResp848(1, assignment848(topicA, []int32{0}, topicC, []int32{0, 1}))), reconcileStep{})
	// Metadata without it: still waiting, not dropped, and asked for again.
	wantStep848(t, r.resolved(map[codec.UUID]string{}), reconcileStep{Resolve: []codec.UUID{topicC}})
	wantStep848(t, r.resolved(map[codec.UUID]string{topicC: "c"}), reconcileStep{Assign: tps("c", 0, 1)})
	if ack := mustNext848(t, r); !reflect.DeepEqual(ack.TopicPartitions, wireTPs848(topicA, []int32{0}, topicC, []int32{0, 1})) {
		t.Fatalf("acknowledgement %+v", ack.TopicPartitions)
	}
}

func TestReconcileUnresolvedTopicAskedAgainWhenNamedAgain(t *testing.T) {
	r := newTestReconciler("")
	mustNext848(t, r)
	wantStep848(t, r.answered(okResp848(1, assignment848(topicC, []int32{0}))), reconcileStep{Resolve: []codec.UUID{topicC}})
	mustNext848(t, r)
	wantStep848(t, r.answered(okResp848(2, assignment848())), reconcileStep{})
	mustNext848(t, r)
	wantStep848(t, r.answered(okResp848(3, assignment848(topicC, []int32{0}))), reconcileStep{Resolve: []codec.UUID{topicC}})
}

func TestReconcileFencing(t *testing.T) {
	for _, tc := range []struct {
		code   *errcode.Error
		wantID string
	}{
		{errcode.UnknownMemberID, "m2"}, // forgotten: a new UUID
		{errcode.FencedMemberEpoch, "m1"},
		{errcode.StaleMemberEpoch, "m1"},
	} {
		t.Run(tc.code.Name, func(t *testing.T) {
			r := newTestReconciler("")
			joinWith848(t, r, assignment848(topicA, []int32{0, 1}))
			mustNext848(t, r)
			wantStep848(t, r.answered(errResp848(tc.code)), reconcileStep{Lost: tps("a", 0, 1)})
			if r.next() != nil || r.due() {
				t.Fatal("a heartbeat before the lost partitions are dropped")
			}
			wantStep848(t, r.lost(), reconcileStep{})
			req := mustNext848(t, r)
			checkFull848(t, req, "")
			if req.MemberID != tc.wantID || req.MemberEpoch != 0 || len(req.TopicPartitions) != 0 {
				t.Fatalf("rejoin %+v: want member %s, epoch 0, nothing owned", req, tc.wantID)
			}
			// Rejoined: the same partitions come back as new.
			wantStep848(t, r.answered(okResp848(7, assignment848(topicA, []int32{0}))), reconcileStep{Assign: tps("a", 0)})
		})
	}
}

func TestReconcileFencedOwningNothingRejoinsAtOnce(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, nil)
	mustNext848(t, r)
	wantStep848(t, r.answered(errResp848(errcode.UnknownMemberID)), reconcileStep{})
	if req := mustNext848(t, r); req.MemberEpoch != 0 || req.MemberID != "m2" {
		t.Fatalf("rejoin %+v", req)
	}
}

func TestReconcileFencedWhileRevokingLosesTheRestAfterwards(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0, 1, 2}))
	mustNext848(t, r)
	wantStep848(t, r.answered(okResp848(2, assignment848(topicA, []int32{0}))), reconcileStep{Revoke: tps("a", 1, 2)})
	mustNext848(t, r)
	wantStep848(t, r.answered(errResp848(errcode.FencedMemberEpoch)), reconcileStep{})
	if r.next() != nil {
		t.Fatal("a heartbeat from a fenced member")
	}
	wantStep848(t, r.revoked(), reconcileStep{Lost: tps("a", 0)})
	wantStep848(t, r.lost(), reconcileStep{})
	if req := mustNext848(t, r); req.MemberEpoch != 0 || req.MemberID != "m1" {
		t.Fatalf("rejoin %+v", req)
	}
}

func TestReconcileFatalErrors(t *testing.T) {
	for _, code := range []*errcode.Error{
		errcode.GroupMaxSizeReached, errcode.UnsupportedAssignor, errcode.GroupAuthorizationFailed,
		errcode.TopicAuthorizationFailed, errcode.FencedInstanceID, errcode.InvalidRegularExpression,
		errcode.InvalidRequest, errcode.GroupIDNotFound, errcode.UnsupportedVersion,
	} {
		t.Run(code.Name, func(t *testing.T) {
			r := newTestReconciler("")
			joinWith848(t, r, assignment848(topicA, []int32{3}))
			mustNext848(t, r)
			st := r.answered(errResp848(code))
			wantStep848(t, st, reconcileStep{Lost: tps("a", 3), Fatal: code})
			if r.next() != nil || r.due() || !reflect.DeepEqual(r.leave(), reconcileStep{}) {
				t.Fatal("a dead member goes on")
			}
		})
	}
	t.Run("unknown code", func(t *testing.T) {
		r := newTestReconciler("")
		mustNext848(t, r)
		st := r.answered(&api.ConsumerGroupHeartbeatResponse{ErrorCode: 9999})
		var e *errcode.Error
		if !errors.As(st.Fatal, &e) || e.Code != 9999 {
			t.Fatalf("fatal %v", st.Fatal)
		}
	})
}

func TestReconcileFatalCarriesTheBrokersMessage(t *testing.T) {
	r := newTestReconciler("")
	mustNext848(t, r)
	resp := errResp848(errcode.UnsupportedAssignor)
	resp.ErrorMessage = strPtr("no assignor named x")
	st := r.answered(resp)
	if !errors.Is(st.Fatal, errcode.UnsupportedAssignor) || st.Fatal.Error() != `group "g": consumer group heartbeat: UNSUPPORTED_ASSIGNOR (112): no assignor named x` {
		t.Fatalf("fatal %q", st.Fatal)
	}
}

func TestReconcileUnreleasedInstanceIDWaitsThenGivesUp(t *testing.T) {
	r := newTestReconciler("i1")
	for i := 1; i < maxUnreleased848; i++ {
		mustNext848(t, r)
		wantStep848(t, r.answered(errResp848(errcode.UnreleasedInstanceID)), reconcileStep{Retry: i})
	}
	mustNext848(t, r)
	wantStep848(t, r.answered(errResp848(errcode.UnreleasedInstanceID)), reconcileStep{Fatal: errcode.UnreleasedInstanceID})
}

func TestReconcileCoordinatorErrorsAndFailures(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0}))
	mustNext848(t, r)
	wantStep848(t, r.answered(errResp848(errcode.NotCoordinator)), reconcileStep{Retry: 1, FindCoordinator: true})
	req := mustNext848(t, r)
	checkFull848(t, req, "")
	if req.MemberEpoch != 1 || !reflect.DeepEqual(req.TopicPartitions, wireTPs848(topicA, []int32{0})) {
		t.Fatalf("after an error: %+v", req)
	}
	wantStep848(t, r.answered(errResp848(errcode.CoordinatorNotAvailable)), reconcileStep{Retry: 2, FindCoordinator: true})
	mustNext848(t, r)
	wantStep848(t, r.answered(errResp848(errcode.CoordinatorLoadInProgress)), reconcileStep{Retry: 3})
	mustNext848(t, r)
	wantStep848(t, r.failed(errors.New("connection reset")), reconcileStep{Retry: 4, FindCoordinator: true})
	checkFull848(t, mustNext848(t, r), "")
	wantStep848(t, r.answered(okResp848(1, nil)), reconcileStep{})
	checkPartial848(t, mustNext848(t, r))
	wantStep848(t, r.failed(errors.New("timeout")), reconcileStep{Retry: 1, FindCoordinator: true})
}

// An acknowledgement whose answer is lost is sent again: the coordinator may not have it.
func TestReconcileLostAcknowledgementSentAgain(t *testing.T) {
	r := newTestReconciler("")
	mustNext848(t, r)
	r.answered(okResp848(1, assignment848(topicA, []int32{0})))
	mustNext848(t, r)
	r.failed(errors.New("broken pipe"))
	if req := mustNext848(t, r); !reflect.DeepEqual(req.TopicPartitions, wireTPs848(topicA, []int32{0})) {
		t.Fatalf("resent %+v", req.TopicPartitions)
	}
}

func TestReconcileLeave(t *testing.T) {
	for _, tc := range []struct {
		instance  string
		wantEpoch int32
	}{{"", -1}, {"i1", -2}} {
		r := newTestReconciler(tc.instance)
		joinWith848(t, r, assignment848(topicA, []int32{0}, topicB, []int32{1}))
		wantStep848(t, r.leave(), reconcileStep{Revoke: tps("a", 0, "b", 1)})
		if r.next() != nil {
			t.Fatal("leave heartbeat before the revocation is done")
		}
		wantStep848(t, r.revoked(), reconcileStep{})
		if !r.due() {
			t.Fatal("leave heartbeat not due")
		}
		req := mustNext848(t, r)
		if req.MemberEpoch != tc.wantEpoch || req.MemberID != "m1" || req.TopicPartitions != nil {
			t.Fatalf("leave %+v, want epoch %d", req, tc.wantEpoch)
		}
		if (tc.instance != "") != (req.InstanceID != nil) {
			t.Fatalf("leave instance ID %v", req.InstanceID)
		}
		wantStep848(t, r.answered(okResp848(tc.wantEpoch, nil)), reconcileStep{Left: true})
		if r.next() != nil || !reflect.DeepEqual(r.leave(), reconcileStep{}) {
			t.Fatal("a member that left goes on")
		}
	}
}

func TestReconcileLeaveBeforeJoiningOrWhileJoining(t *testing.T) {
	r := newTestReconciler("")
	wantStep848(t, r.leave(), reconcileStep{Left: true})
	if r.next() != nil {
		t.Fatal("heartbeat after leaving")
	}

	r = newTestReconciler("")
	mustNext848(t, r)
	wantStep848(t, r.leave(), reconcileStep{})
	// The join is answered with an assignment: it is not taken; the member leaves.
	wantStep848(t, r.answered(okResp848(1, assignment848(topicA, []int32{0}))), reconcileStep{})
	if req := mustNext848(t, r); req.MemberEpoch != -1 {
		t.Fatalf("leave %+v", req)
	}
	wantStep848(t, r.failed(errors.New("gone")), reconcileStep{Left: true})
}

func TestReconcileLeaveWhileRevokingOrFenced(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0, 1}))
	mustNext848(t, r)
	wantStep848(t, r.answered(okResp848(2, assignment848(topicA, []int32{1}))), reconcileStep{Revoke: tps("a", 0)})
	wantStep848(t, r.leave(), reconcileStep{})
	wantStep848(t, r.revoked(), reconcileStep{Revoke: tps("a", 1)})
	wantStep848(t, r.revoked(), reconcileStep{})
	if req := mustNext848(t, r); req.MemberEpoch != -1 {
		t.Fatalf("leave %+v", req)
	}

	// Fenced, then asked to leave before the lost partitions are dropped.
	r = newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0}))
	mustNext848(t, r)
	r.answered(errResp848(errcode.FencedMemberEpoch))
	wantStep848(t, r.leave(), reconcileStep{})
	wantStep848(t, r.lost(), reconcileStep{Left: true})

	// Fenced while revoking before leaving: what was not revoked is lost.
	r = newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0, 1}))
	wantStep848(t, r.leave(), reconcileStep{Revoke: tps("a", 0, 1)})
	// A heartbeat in flight before the leave is refused.
	r2 := newTestReconciler("")
	joinWith848(t, r2, assignment848(topicA, []int32{0, 1}))
	mustNext848(t, r2)
	wantStep848(t, r2.leave(), reconcileStep{})
	wantStep848(t, r2.answered(errResp848(errcode.UnknownMemberID)), reconcileStep{Lost: tps("a", 0, 1), Left: true})

	// A heartbeat in flight at leave fails: the member still revokes and tries to leave.
	r3 := newTestReconciler("")
	joinWith848(t, r3, assignment848(topicA, []int32{0}))
	mustNext848(t, r3)
	r3.leave()
	wantStep848(t, r3.answered(errResp848(errcode.NotCoordinator)), reconcileStep{Revoke: tps("a", 0)})
	r3.revoked()
	if req := mustNext848(t, r3); req.MemberEpoch != -1 {
		t.Fatalf("leave %+v", req)
	}
}

func TestReconcileMalformedAnswers(t *testing.T) {
	for name, resp := range map[string]*api.ConsumerGroupHeartbeatResponse{
		"epoch 0":            okResp848(0, nil),
		"negative epoch":     okResp848(-5, nil),
		"negative partition": okResp848(2, assignment848(topicA, []int32{0, -1})),
	} {
		t.Run(name, func(t *testing.T) {
			r := newTestReconciler("")
			mustNext848(t, r)
			wantStep848(t, r.answered(resp), reconcileStep{Fatal: ErrMalformed})
		})
	}
}

func TestReconcileTakesTheCoordinatorsMemberID(t *testing.T) {
	r := newTestReconciler("")
	mustNext848(t, r)
	resp := okResp848(1, nil)
	resp.MemberID = strPtr("from-coordinator")
	r.answered(resp)
	if req := mustNext848(t, r); req.MemberID != "from-coordinator" {
		t.Fatalf("member ID %q", req.MemberID)
	}
}

func TestReconcileSubscribeSendsAFullHeartbeat(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0}))
	r.subscribe([]string{"c", "a"})
	req := mustNext848(t, r)
	if !reflect.DeepEqual(req.SubscribedTopicNames, []string{"a", "c"}) || req.RebalanceTimeoutMs != 60000 ||
		!reflect.DeepEqual(req.TopicPartitions, wireTPs848(topicA, []int32{0})) {
		t.Fatalf("after subscribe: %+v", req)
	}
	r.answered(okResp848(2, nil))
	checkPartial848(t, mustNext848(t, r))
	r.answered(okResp848(2, nil))

	// Changed again while a full heartbeat is in flight: the next is full again.
	r.subscribe([]string{"a"})
	mustNext848(t, r)
	r.subscribe([]string{"b"})
	r.answered(okResp848(2, nil))
	if req := mustNext848(t, r); !reflect.DeepEqual(req.SubscribedTopicNames, []string{"b"}) {
		t.Fatalf("the last subscription was not sent: %+v", req)
	}
}

func TestReconcileIgnoresAnswersToNothing(t *testing.T) {
	r := newTestReconciler("")
	wantStep848(t, r.answered(okResp848(1, assignment848(topicA, []int32{0}))), reconcileStep{})
	wantStep848(t, r.failed(errors.New("x")), reconcileStep{})
	wantStep848(t, r.lost(), reconcileStep{})
	wantStep848(t, r.revoked(), reconcileStep{})
}

func TestRandomMemberIDIsAKafkaUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := randomMemberID()
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(id) != 22 || len(b) != 16 || b[6]>>4 != 4 || b[8]>>6 != 2 {
			t.Fatalf("member ID %q (%x, %v): not a version 4 UUID in Kafka's form", id, b, err)
		}
		if seen[id] {
			t.Fatalf("member ID %q made twice", id)
		}
		seen[id] = true
	}
}

func TestReconcileSessionExpired(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0, 1}))
	mustNext848(t, r) // never answered
	st := r.expired()
	wantStep848(t, st, reconcileStep{Lost: tps("a", 0, 1)})
	if r.next() != nil {
		t.Fatal("a heartbeat before the lost partitions are dropped")
	}
	wantStep848(t, r.lost(), reconcileStep{})
	req := mustNext848(t, r)
	if req.MemberEpoch != 0 || req.MemberID != "m1" {
		t.Fatalf("rejoin %+v", req)
	}
	// Expired again while the join is in flight: it is forgotten, and another goes.
	wantStep848(t, r.expired(), reconcileStep{})
	if req := mustNext848(t, r); req.MemberEpoch != 0 {
		t.Fatalf("rejoin %+v", req)
	}
}

// TestReconcilePollExpired: a member whose user overran the processing time loses what
// it owns (no revocation: nothing is committed), forgets the heartbeat in flight, sends
// a leave heartbeat (epoch -1, or -2 with the instance ID for a static member) and then
// nothing, however often asked, until back; back rejoins with epoch 0 and the same member
// ID, after the leave heartbeat's answer when it is still in flight.
func TestReconcilePollExpired(t *testing.T) {
	for _, instance := range []string{"", "i1"} {
		t.Run("instance="+instance, func(t *testing.T) {
			r := newTestReconciler(instance)
			joinWith848(t, r, assignment848(topicA, []int32{0, 1}))
			mustNext848(t, r) // in flight when the user overruns: forgotten
			wantStep848(t, r.pollExpired(), reconcileStep{Lost: tps("a", 0, 1)})
			if r.due() || r.next() != nil {
				t.Fatal("a heartbeat before the lost partitions are dropped")
			}
			wantStep848(t, r.lost(), reconcileStep{})
			wantStep848(t, r.pollExpired(), reconcileStep{}) // once
			wantStep848(t, r.expired(), reconcileStep{})     // nothing owned: no session to lose
			if !r.due() {
				t.Fatal("the leave heartbeat is not due at once")
			}
			req := mustNext848(t, r)
			want := map[string]int32{"": epochLeave, "i1": epochStaticLeave}[instance]
			if req.MemberEpoch != want || req.MemberID != "m1" || (instance != "") != (req.InstanceID != nil) {
				t.Fatalf("leave heartbeat %+v, want epoch %d", req, want)
			}
			wantStep848(t, r.back(), reconcileStep{}) // back while the leave is in flight: waits for it
			if r.next() != nil {
				t.Fatal("a heartbeat while the leave is in flight")
			}
			wantStep848(t, r.answered(errResp848(errcode.UnknownMemberID)), reconcileStep{}) // any answer will do
			req = mustNext848(t, r)
			if req.MemberEpoch != epochJoin || req.MemberID != "m1" || len(req.TopicPartitions) != 0 {
				t.Fatalf("rejoin %+v, want epoch 0, member m1, nothing owned", req)
			}
			checkFull848(t, req, instance)
			st := r.answered(okResp848(3, assignment848(topicA, []int32{0, 1})))
			wantStep848(t, st, reconcileStep{Assign: tps("a", 0, 1)})
		})
	}
}

// TestReconcilePollExpiredAwayUntilBack: after the leave heartbeat is answered (or fails),
// the member sends nothing until back, which rejoins at once; a Close while away ends it
// without another heartbeat; only a stable member in the group goes away.
func TestReconcilePollExpiredAwayUntilBack(t *testing.T) {
	r := newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0}))
	r.pollExpired()
	r.lost()
	mustNext848(t, r)
	wantStep848(t, r.failed(errors.New("connection lost")), reconcileStep{}) // best effort
	for range 3 {
		if r.due() || r.next() != nil {
			t.Fatal("a heartbeat while away")
		}
	}
	r.back()
	if req := mustNext848(t, r); req.MemberEpoch != epochJoin {
		t.Fatalf("rejoin %+v", req)
	}

	r = newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0}))
	r.pollExpired()
	r.lost()
	mustNext848(t, r)
	r.answered(okResp848(1, nil))
	wantStep848(t, r.leave(), reconcileStep{Left: true})
	if r.next() != nil || r.state != reconcileLeft {
		t.Fatalf("after Close while away: state %v", r.state)
	}

	// Close while the leave heartbeat is still to go: it goes, and its answer ends it.
	r = newTestReconciler("")
	joinWith848(t, r, assignment848(topicA, []int32{0}))
	r.pollExpired()
	wantStep848(t, r.leave(), reconcileStep{})
	r.lost()
	mustNext848(t, r)
	wantStep848(t, r.answered(okResp848(1, nil)), reconcileStep{Left: true})

	// Not joined, revoking, or leaving: no going away.
	r = newTestReconciler("")
	wantStep848(t, r.pollExpired(), reconcileStep{})
	joinWith848(t, r, assignment848(topicA, []int32{0, 1}))
	mustNext848(t, r)
	r.answered(okResp848(2, assignment848(topicA, []int32{0})))
	if r.state != reconcileRevoking {
		t.Fatalf("state %v, want revoking", r.state)
	}
	wantStep848(t, r.pollExpired(), reconcileStep{})
}

// TestReconcileSessionBound: the session binds a member in the group that owns
// partitions, until it has expired: then not while the loss is under way, nor while a
// revocation that was under way when it expired finishes (the member actor's session
// timer must not keep firing for nothing), nor once it rejoins owning nothing.
func TestReconcileSessionBound(t *testing.T) {
	r := newTestReconciler("")
	if r.sessionBound() {
		t.Fatal("bound before joining")
	}
	joinWith848(t, r, assignment848(topicA, []int32{0, 1}))
	if !r.sessionBound() {
		t.Fatal("not bound while owning a0, a1")
	}
	mustNext848(t, r)
	r.expired()
	if r.sessionBound() {
		t.Fatal("still bound while the expired session's loss is under way")
	}
	r.lost()
	if r.sessionBound() {
		t.Fatal("bound while rejoining with nothing owned")
	}
}
