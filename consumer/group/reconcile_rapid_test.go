package group

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
	"pgregory.net/rapid"
)

// reconcileModel is the driver of a reconciler in the property test: it holds what the
// reader has (by topic name and partition) and carries out each step as a member would.
type reconcileModel struct {
	t        *rapid.T
	r        *reconciler
	held     map[string]map[int32]bool
	revoking []TopicPartitions // given to revoke, not yet revoked
	losing   []TopicPartitions // given to drop, not yet lost
	inflight *api.ConsumerGroupHeartbeatRequest
	mustFull bool // the next heartbeat must send every field
	dead     bool
	left     bool
	leaving  bool
	memberID string
	newIDOK  bool               // an UNKNOWN_MEMBER_ID was answered: the member ID may change
	acked    map[string][]int32 // the partitions the last answered heartbeat said the member owns
	// The user overran the processing time (pollExpired): the member is away, sends one
	// leave heartbeat (awayLeave: sent; awayFlight: it is the one in flight), and rejoins
	// once the user is back (backed) and that heartbeat was answered.
	away, awayLeave, awayFlight, backed bool
}

// awayAnswered notes that the heartbeat in flight, the leave of a member away, was
// answered or failed: the member rejoins if its user is back already.
func (m *reconcileModel) awayAnswered() {
	if !m.awayFlight {
		return
	}
	m.awayFlight = false
	if m.backed {
		m.away, m.awayLeave, m.backed = false, false, false
	}
}

// answer answers the heartbeat in flight with a success.
func (m *reconcileModel) answer(epoch int32, target *api.ConsumerGroupHeartbeatResponseAssignment) {
	sent := m.inflight
	m.inflight = nil
	if sent.TopicPartitions != nil {
		m.acked = map[string][]int32{}
		for _, tp := range sent.TopicPartitions {
			m.acked[modelTopics848[tp.TopicID]] = tp.Partitions
		}
	}
	resp := okResp848(epoch, target)
	if sent.MemberEpoch < 0 {
		resp = okResp848(sent.MemberEpoch, nil)
	}
	m.apply(m.r.answered(resp))
	m.awayAnswered()
}

// pollExpired: the user overran the processing time. Only a stable member in the group
// goes away; what it held is lost, and the heartbeat in flight forgotten.
func (m *reconcileModel) pollExpired() {
	before := m.r.state
	st := m.r.pollExpired()
	if m.r.state != reconcileAway || before == reconcileAway {
		if !reflect.DeepEqual(st, reconcileStep{}) {
			m.t.Fatalf("stepped without going away: %+v", st)
		}
		return
	}
	if m.leaving || m.revoking != nil || m.losing != nil || before != reconcileStable {
		m.t.Fatalf("went away while leaving %v, revoking %v, losing %v, state %v", m.leaving, m.revoking, m.losing, before)
	}
	if !reflect.DeepEqual(asSet848(st.Lost), m.heldSet()) || len(st.Revoke)+len(st.Assign) > 0 {
		m.t.Fatalf("went away with step %+v, holding %v: want all of it lost", st, m.heldSet())
	}
	m.inflight, m.mustFull = nil, true
	m.away, m.awayLeave, m.awayFlight, m.backed = true, false, false, false
	m.apply(st)
}

// back: the user came back; a member away rejoins, after its leave heartbeat.
func (m *reconcileModel) back() {
	m.apply(m.r.back())
	if !m.away || m.leaving {
		return
	}
	if m.awayLeave && !m.awayFlight {
		m.away, m.awayLeave = false, false
		return
	}
	m.backed = true
}

var modelTopics848 = map[codec.UUID]string{topicA: "a", topicB: "b", topicC: "c"}

func (m *reconcileModel) heldSet() map[string][]int32 {
	out := map[string][]int32{}
	for topic, ps := range m.held {
		for p := range ps {
			out[topic] = append(out[topic], p)
		}
		slices.Sort(out[topic])
	}
	return out
}

func asSet848(tps []TopicPartitions) map[string][]int32 {
	out := map[string][]int32{}
	for _, tp := range tps {
		out[tp.Topic] = append(out[tp.Topic], tp.Partitions...)
		slices.Sort(out[tp.Topic])
	}
	return out
}

// apply carries out a step and checks it against what the reader holds.
func (m *reconcileModel) apply(st reconcileStep) {
	t := m.t
	if m.dead || m.left {
		if !reflect.DeepEqual(st, reconcileStep{}) {
			t.Fatalf("a member that is gone stepped: %+v", st)
		}
		return
	}
	for _, tp := range st.Lost {
		for _, p := range tp.Partitions {
			if !m.held[tp.Topic][p] {
				t.Fatalf("lost %s/%d, which the reader does not hold", tp.Topic, p)
			}
		}
	}
	for _, tp := range st.Revoke {
		for _, p := range tp.Partitions {
			if !m.held[tp.Topic][p] {
				t.Fatalf("revoked %s/%d, which the reader does not hold", tp.Topic, p)
			}
		}
	}
	if len(st.Revoke) > 0 && m.revoking != nil {
		t.Fatalf("a second revocation %v while %v is with the driver", st.Revoke, m.revoking)
	}
	if len(st.Assign) > 0 {
		if m.revoking != nil || len(st.Revoke) > 0 {
			t.Fatalf("assigned %v before the revocation finished", st.Assign)
		}
		if m.leaving {
			t.Fatalf("assigned %v to a member that is leaving", st.Assign)
		}
		if m.losing != nil {
			t.Fatalf("assigned %v while losing %v", st.Assign, m.losing)
		}
	}
	for _, tp := range st.Assign {
		for _, p := range tp.Partitions {
			if m.held[tp.Topic][p] {
				t.Fatalf("assigned %s/%d twice", tp.Topic, p)
			}
			if m.held[tp.Topic] == nil {
				m.held[tp.Topic] = map[int32]bool{}
			}
			m.held[tp.Topic][p] = true
		}
	}
	if len(st.Revoke) > 0 {
		m.revoking = st.Revoke
	}
	if len(st.Lost) > 0 {
		m.losing = st.Lost
	}
	if st.Fatal != nil || st.Left {
		// The member's end: what it held is dropped at once, nothing awaits an answer.
		m.drop(m.losing)
		m.losing = nil
		if m.revoking != nil && st.Fatal == nil {
			t.Fatalf("left while %v is being revoked", m.revoking)
		}
		m.drop(m.revoking)
		m.revoking = nil
		m.dead, m.left = st.Fatal != nil, st.Left
		if len(m.held) != 0 {
			t.Fatalf("gone still holding %v", m.heldSet())
		}
	}
	if st.Retry > 0 {
		m.mustFull = true
	}
	if m.dead || m.left {
		return
	}
	if got, want := asSet848(m.r.ownedNames()), m.heldSet(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the reconciler owns %v, the reader holds %v", got, want)
	}
}

func (m *reconcileModel) drop(tps []TopicPartitions) {
	for _, tp := range tps {
		for _, p := range tp.Partitions {
			delete(m.held[tp.Topic], p)
		}
		if len(m.held[tp.Topic]) == 0 {
			delete(m.held, tp.Topic)
		}
	}
}

// send takes the next heartbeat, if any, and checks it.
func (m *reconcileModel) send() {
	t := m.t
	can := m.r.sendable()
	req := m.r.next()
	if can != (req != nil) {
		t.Fatalf("sendable says %v, next %v: the driver's heartbeat timer would disagree with what it can send", can, req)
	}
	if m.inflight != nil {
		if req != nil {
			t.Fatal("two heartbeats in flight")
		}
		return
	}
	if req == nil {
		if !m.dead && !m.left && m.losing == nil && !m.leaving && m.r.fenced == nil && !(m.away && m.awayLeave) {
			t.Fatal("no heartbeat from a live member")
		}
		return
	}
	if m.dead || m.left {
		t.Fatalf("heartbeat from a member that is gone: %+v", req)
	}
	if m.losing != nil {
		t.Fatalf("heartbeat before the lost partitions are dropped: %+v", req)
	}
	if req.MemberID == "" || (req.MemberID != m.memberID && !m.newIDOK && m.memberID != "") {
		t.Fatalf("member ID %q changed from %q without UNKNOWN_MEMBER_ID", req.MemberID, m.memberID)
	}
	m.memberID, m.newIDOK = req.MemberID, false
	switch {
	case req.MemberEpoch == -1 || req.MemberEpoch == -2:
		if !(m.leaving || m.away && !m.awayLeave) || len(m.held) != 0 {
			t.Fatalf("leave heartbeat %+v (leaving %v, away %v, holding %v)", req, m.leaving, m.away, m.heldSet())
		}
		if m.away {
			m.awayLeave, m.awayFlight = true, true
		}
		if (req.MemberEpoch == -2) != (m.r.instanceID != "") {
			t.Fatalf("leave epoch %d for instance %q", req.MemberEpoch, m.r.instanceID)
		}
	case m.away:
		t.Fatalf("a member away sent %+v", req)
	case req.MemberEpoch == 0:
		if req.TopicPartitions == nil || len(req.TopicPartitions) != 0 || req.RebalanceTimeoutMs == -1 || req.SubscribedTopicNames == nil {
			t.Fatalf("join is not full with nothing owned: %+v", req)
		}
		if len(m.held) != 0 {
			t.Fatalf("joining while the reader holds %v", m.heldSet())
		}
	default:
		full := req.RebalanceTimeoutMs != -1
		if full != (req.SubscribedTopicNames != nil) || (full && req.TopicPartitions == nil) {
			t.Fatalf("neither full nor partial: %+v", req)
		}
		if m.mustFull && !full {
			t.Fatalf("partial heartbeat after an error: %+v", req)
		}
		if !full && (req.InstanceID != nil || req.RackID != nil || req.ServerAssignor != nil) {
			t.Fatalf("partial heartbeat repeats fields: %+v", req)
		}
		if req.TopicPartitions != nil {
			got := map[string][]int32{}
			for _, tp := range req.TopicPartitions {
				got[modelTopics848[tp.TopicID]] = tp.Partitions
			}
			if !reflect.DeepEqual(got, m.heldSet()) {
				t.Fatalf("heartbeat says the member owns %v, the reader holds %v", got, m.heldSet())
			}
		}
	}
	if req.RebalanceTimeoutMs != -1 {
		m.mustFull = false
	}
	m.inflight = req
}

func genTarget848(t *rapid.T) *api.ConsumerGroupHeartbeatResponseAssignment {
	if rapid.Bool().Draw(t, "nil") {
		return nil
	}
	a := &api.ConsumerGroupHeartbeatResponseAssignment{}
	for _, id := range []codec.UUID{topicA, topicB, topicC} {
		ps := rapid.SliceOfDistinct(rapid.Int32Range(0, 3), func(p int32) int32 { return p }).Draw(t, "ps")
		if len(ps) > 0 {
			a.TopicPartitions = append(a.TopicPartitions, api.ConsumerGroupHeartbeatResponseTopicPartitions{TopicID: id, Partitions: ps})
		}
	}
	return a
}

var modelErrors848 = []*errcode.Error{
	errcode.UnknownMemberID, errcode.FencedMemberEpoch, errcode.StaleMemberEpoch,
	errcode.NotCoordinator, errcode.CoordinatorNotAvailable, errcode.CoordinatorLoadInProgress,
	errcode.UnreleasedInstanceID, errcode.GroupMaxSizeReached, errcode.GroupAuthorizationFailed,
}

func newModel848(t *rapid.T) *reconcileModel {
	instance := ""
	if rapid.Bool().Draw(t, "static") {
		instance = "i1"
	}
	n := 0
	r := newReconciler(reconcileConfig{
		Group: "g", InstanceID: instance, RebalanceMs: 1000, Topics: []string{"a", "b", "c"},
		NewID: func() string { n++; return fmt.Sprintf("m%d", n) },
	})
	r.resolved(map[codec.UUID]string{topicA: "a", topicB: "b"}) // c comes from metadata later
	return &reconcileModel{t: t, r: r, held: map[string]map[int32]bool{}}
}

// TestReconcileProperties drives a reconciler with random answers, failures, errors and
// driver completions, checking at every step that it never takes a partition twice,
// assigns nothing before a revocation finishes, owns exactly what the reader holds, tells
// the coordinator what the reader holds, sends full heartbeats when it must, and that once
// the coordinator's target stays put it ends owning exactly the target.
func TestReconcileProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newModel848(t)
		m.t = t
		epoch := int32(1)
		for i := rapid.IntRange(1, 60).Draw(t, "steps"); i > 0; i-- {
			switch rapid.IntRange(0, 11).Draw(t, "op") {
			case 0, 1:
				m.send()
			case 2, 3:
				if m.inflight != nil {
					epoch += rapid.Int32Range(0, 2).Draw(t, "bump")
					m.answer(epoch, genTarget848(t))
				}
			case 4:
				if m.inflight != nil {
					m.inflight = nil
					e := rapid.SampledFrom(modelErrors848).Draw(t, "err")
					if e == errcode.UnknownMemberID {
						m.newIDOK = true
					}
					m.mustFull = true
					st := m.r.answered(errResp848(e))
					if st.Fatal != nil && !errors.Is(st.Fatal, e) {
						t.Fatalf("fatal %v does not match %v", st.Fatal, e)
					}
					m.apply(st)
					m.awayAnswered()
				}
			case 5:
				if m.inflight != nil {
					m.inflight = nil
					m.mustFull = true
					m.apply(m.r.failed(errors.New("connection reset")))
					m.awayAnswered()
				}
			case 6:
				if m.revoking != nil {
					m.drop(m.revoking)
					m.revoking = nil
					m.apply(m.r.revoked())
				}
			case 7:
				if m.losing != nil {
					m.drop(m.losing)
					m.losing = nil
					m.apply(m.r.lost())
				}
			case 8:
				m.apply(m.r.resolved(map[codec.UUID]string{topicC: "c"}))
			case 9:
				if rapid.IntRange(0, 4).Draw(t, "leave?") == 0 && !m.dead && !m.left {
					m.leaving = true
					m.apply(m.r.leave())
				}
			case 10:
				if !m.dead && !m.left {
					m.pollExpired()
				}
			case 11:
				if !m.dead && !m.left {
					m.back()
				}
			}
		}
		m.settle(epoch)
	})
}

// settle answers every heartbeat with one fixed target and carries out every step until
// nothing changes, then checks the member owns the target (or is gone, having left).
func (m *reconcileModel) settle(epoch int32) {
	t := m.t
	target := genTarget848(t)
	if target == nil {
		target = assignment848()
	}
	m.apply(m.r.resolved(map[codec.UUID]string{topicC: "c"}))
	want := map[string][]int32{}
	for _, tp := range target.TopicPartitions {
		ps := slices.Clone(tp.Partitions)
		slices.Sort(ps)
		want[modelTopics848[tp.TopicID]] = ps
	}
	for range 50 {
		if m.dead || m.left {
			return
		}
		switch {
		case m.losing != nil:
			m.drop(m.losing)
			m.losing = nil
			m.apply(m.r.lost())
		case m.revoking != nil:
			m.drop(m.revoking)
			m.revoking = nil
			m.apply(m.r.revoked())
		case m.away && !m.backed && !m.leaving:
			m.back()
		case m.inflight != nil:
			m.answer(epoch+1, target)
		default:
			m.send()
			if m.inflight == nil && !m.dead && !m.left {
				t.Fatalf("stuck: nothing to do and no heartbeat (state %v, leaving %v)", m.r.state, m.leaving)
			}
		}
	}
	if m.leaving {
		t.Fatalf("a leaving member never left (state %v)", m.r.state)
	}
	if !reflect.DeepEqual(m.heldSet(), want) || !maps.EqualFunc(m.acked, want, slices.Equal[[]int32]) {
		t.Fatalf("settled holding %v, acknowledged %v; the target is %v", m.heldSet(), m.acked, want)
	}
	if m.r.due() {
		t.Fatal("settled with a heartbeat due")
	}
}
