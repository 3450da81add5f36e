package group

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/errcode"
)

// membership is the classic group protocol of one member, eager or incremental
// cooperative (KIP-429, cooperative.go), as a deterministic state machine: no
// goroutines, no clock, no I/O. Its inputs are the coordinator's responses (or the
// errors in their place) and the member's own events (revocation done, session
// expired, leave); each returns a step — the next request to send, and what to do with
// partitions. The member actor (memberActor) is a thin loop
// that sends what a step says, keeps the timers, and feeds the answers back.
//
//	unjoined ──coordinator found──> joining ──JoinGroup ok──> syncing ──SyncGroup ok──> stable
//	   ^                              ^  │ MEMBER_ID_REQUIRED: again at once, with the ID   │
//	   │                              │  └ UNKNOWN_MEMBER_ID: again, without an ID          │
//	   │                              └──── revoked ──── rebalancing <── REBALANCE_IN_PROGRESS (eager)
//	   │                              └──────────────────────────────── REBALANCE_IN_PROGRESS (cooperative:
//	   │                                  keeps its partitions; after a SyncGroup that took some away,
//	   │                                  rejoins once they are revoked, still stable meanwhile)
//	   └─ NOT_COORDINATOR, a broken connection (find the coordinator again)
//	any ──leave──> leaving ──LeaveGroup answered──> dead;   any ──fatal error──> dead
type membership struct {
	group      string
	instanceID string // static membership (KIP-345); "" for a dynamic member
	topics     []string
	assignors  []Assignor
	sessionMs  int32
	rebalMs    int32

	state      memberState
	memberID   string
	generation int32
	protocol   string // the assignor the coordinator chose
	leader     bool
	members    []Subscription // the leader's: the members' subscriptions to assign over
	owned      []TopicPartitions
	// cooperative: the generation the member last joined chose a cooperative assignor
	// (KIP-429): it keeps its partitions through the next rebalance.
	cooperative bool
	// last is the assignment of generation lastGen, kept through an eager revocation
	// for the assignors' user data (the sticky ones); nil and -1 once lost.
	last       []TopicPartitions
	lastGen    int32
	revoking   int     // revocations handed to the driver and not yet revoked
	rejoin     bool    // cooperative: rejoin once revoking is back to 0
	after      reqKind // what to send once the coordinator is found again
	failures   int     // consecutive failures, for the backoff; 0 after a success
	unreleased int     // UNRELEASED_INSTANCE_ID answers in a row
	err        error   // why the member is dead, or nil

	// joinedTopics are the topics of the last JoinGroup sent; topics may have changed
	// since (resubscribe, pattern.go).
	joinedTopics []string
}

// maxUnreleased is how many UNRELEASED_INSTANCE_ID answers in a row a static member
// waits out (its previous incarnation may still be leaving) before giving up.
const maxUnreleased = 5

type memberState uint8

const (
	stateUnjoined    memberState = iota // no coordinator known yet
	stateJoining                        // JoinGroup in flight (or about to be)
	stateSyncing                        // SyncGroup in flight, or the leader assigning
	stateStable                         // owns its assignment; heartbeats
	stateRebalancing                    // giving up everything it owns before rejoining
	stateLeaving                        // LeaveGroup in flight
	stateDead                           // left, or failed for good
	stateAway                           // out of the group: its user overran ProcessingTime; rejoins at the next Poll
)

func (s memberState) String() string {
	return [...]string{"unjoined", "joining", "syncing", "stable", "rebalancing", "leaving", "dead", "away"}[s]
}

// reqKind names the requests the member sends.
type reqKind uint8

const (
	reqNone reqKind = iota
	reqFindCoordinator
	reqJoin
	reqSync
	reqHeartbeat
	reqLeave
)

func (k reqKind) String() string {
	return [...]string{"none", "FindCoordinator", "JoinGroup", "SyncGroup", "Heartbeat", "LeaveGroup"}[k]
}

// step is what the driver does after an input, in this order: give up Lost (no commit);
// with Rebalance, give up Revoke (commit first) and then call revoked; with Assigned,
// take Assign; with Planning, look up the partition counts of Plan and call planned;
// send Send after Retry failures' worth of backoff (none when Retry is 0). Fatal is the
// member's end: it owns nothing and sends nothing more.
type step struct {
	Send      reqKind
	Req       api.Request // the request of kind Send (nil for FindCoordinator and reqNone)
	Retry     int
	Lost      []TopicPartitions
	Rebalance bool
	Revoke    []TopicPartitions
	Assigned  bool
	Assign    []TopicPartitions
	Planning  bool
	Plan      []string // topics whose partition counts the leader's assignor needs
	Alive     bool     // the coordinator answered as a member's session expects
	Fatal     error
}

func newMembership(cfg *Config) *membership {
	return &membership{
		group: cfg.Group, instanceID: cfg.InstanceID, topics: cfg.Topics, assignors: cfg.Assignors,
		sessionMs: int32(cfg.SessionTimeout.Milliseconds()), rebalMs: int32(cfg.ProcessingTime.Milliseconds()),
		generation: -1, lastGen: -1,
	}
}

// start begins: find the coordinator, then join.
func (m *membership) start() step {
	m.state, m.after = stateUnjoined, reqJoin
	return step{Send: reqFindCoordinator}
}

// coordinator takes the outcome of a FindCoordinator.
func (m *membership) coordinator(err error) step {
	switch {
	case m.state == stateDead:
		return step{}
	case m.state == stateLeaving && m.after == reqLeave:
		// Leaving, and the coordinator had to be found first: leave now, or, if it
		// cannot be found, leave it to drop the member at the end of its session.
		m.after = reqNone
		if err != nil {
			m.state = stateDead
			return step{}
		}
		return step{Send: reqLeave, Req: m.leaveRequest()}
	case m.state == stateLeaving, m.state == stateAway:
		return step{}
	}
	if err != nil {
		if f := m.fatal(err); f != nil {
			return m.die(f)
		}
		m.failures++
		return step{Send: reqFindCoordinator, Retry: m.failures}
	}
	// failures run on: they count the request that failed, which is yet to succeed.
	after := m.after
	m.after = reqNone
	switch after {
	case reqJoin:
		return m.join(0)
	case reqHeartbeat:
		return step{Send: reqHeartbeat, Req: m.heartbeatRequest()}
	}
	return step{}
}

// findAgain drops the coordinator: find it again, then send after.
func (m *membership) findAgain(after reqKind) step {
	m.failures++
	m.after = after
	if after == reqJoin {
		m.state = stateUnjoined
	}
	return step{Send: reqFindCoordinator, Retry: m.failures}
}

func (m *membership) join(retry int) step {
	m.state, m.rejoin = stateJoining, false
	m.leader, m.members = false, nil
	req, err := m.joinRequest()
	if err != nil {
		return m.die(err)
	}
	return step{Send: reqJoin, Req: req, Retry: retry}
}

// joined takes the answer to JoinGroup.
func (m *membership) joined(resp *api.JoinGroupResponse, err error) step {
	if m.state != stateJoining {
		return step{}
	}
	if err == nil {
		err = errcode.ForCode(resp.ErrorCode)
	}
	switch {
	case err == nil:
	case errors.Is(err, errcode.MemberIDRequired): // KIP-394: again at once, with this ID
		m.memberID = resp.MemberID
		return m.join(0)
	case errors.Is(err, errcode.UnknownMemberID):
		m.memberID = ""
		return m.lose(err) // what a cooperative member kept through the join is lost
	case errors.Is(err, errcode.IllegalGeneration):
		return m.lose(err)
	case errors.Is(err, errcode.RebalanceInProgress):
		return m.join(0)
	case errors.Is(err, errcode.UnreleasedInstanceID):
		m.unreleased++
		if m.unreleased > maxUnreleased {
			return m.die(m.wrap(err))
		}
		m.failures++
		return m.join(m.failures)
	default:
		return m.retry(err, reqJoin)
	}
	m.failures, m.unreleased = 0, 0
	m.memberID, m.generation = resp.MemberID, resp.GenerationID
	m.protocol = ""
	if resp.ProtocolName != nil {
		m.protocol = *resp.ProtocolName
	}
	if m.assignor() == nil {
		return m.die(fmt.Errorf("group %q: %w: the coordinator chose %q, not offered", m.group, errcode.InconsistentGroupProtocol, m.protocol))
	}
	// The protocol the coordinator chose decides how this generation rebalances: a
	// group whose members offer both kinds follows its choice (KIP-429's upgrade path).
	m.cooperative = m.assignor().Cooperative()
	m.state = stateSyncing
	m.leader = resp.Leader == resp.MemberID
	if !m.leader || resp.SkipAssignment {
		return m.sync(nil)
	}
	var topics []string
	for _, mem := range resp.Members {
		var s Subscription
		if _, err := s.Decode(mem.Metadata); err != nil {
			return m.die(fmt.Errorf("group %q: member %s: %w", m.group, mem.MemberID, err))
		}
		s.MemberID = mem.MemberID
		if mem.GroupInstanceID != nil {
			s.InstanceID = *mem.GroupInstanceID
		}
		m.members = append(m.members, s)
		topics = append(topics, s.Topics...)
	}
	slices.Sort(topics)
	return step{Planning: true, Plan: slices.Compact(topics)}
}

// planned runs the leader's assignor over the members, given the partition counts of
// the topics Plan named (a topic the cluster does not know is left out), and sends the
// assignments.
func (m *membership) planned(counts map[string]int32) step {
	if m.state != stateSyncing || !m.leader || m.members == nil {
		return step{}
	}
	got, err := m.assignor().Assign(m.members, counts)
	if err == nil {
		err = checkAssignment(m.members, counts, got)
	}
	if err == nil && m.cooperative {
		err = checkCooperative(m.members, got)
	}
	if err != nil {
		return m.die(fmt.Errorf("group %q: assignor %q: %w", m.group, m.protocol, err))
	}
	m.members = nil
	return m.sync(got)
}

// checkAssignment refuses an assignment that gives a partition twice, names a
// partition that does not exist, or a member that is not in the group.
func checkAssignment(members []Subscription, counts map[string]int32, got map[string]Assignment) error {
	type tp struct {
		topic string
		p     int32
	}
	seen := make(map[tp]bool)
	for id, a := range got {
		if !slices.ContainsFunc(members, func(s Subscription) bool { return s.MemberID == id }) {
			return fmt.Errorf("%w: assigned to %q, who is not a member", ErrInvalidAssignment, id)
		}
		for _, t := range a.Partitions {
			for _, p := range t.Partitions {
				if p < 0 || p >= counts[t.Topic] {
					return fmt.Errorf("%w: %s/%d does not exist", ErrInvalidAssignment, t.Topic, p)
				}
				if seen[tp{t.Topic, p}] {
					return fmt.Errorf("%w: %s/%d given twice", ErrInvalidAssignment, t.Topic, p)
				}
				seen[tp{t.Topic, p}] = true
			}
		}
	}
	return nil
}

// synced takes the answer to SyncGroup.
func (m *membership) synced(resp *api.SyncGroupResponse, err error) step {
	if m.state != stateSyncing {
		return step{}
	}
	if err == nil {
		err = errcode.ForCode(resp.ErrorCode)
	}
	switch {
	case err == nil:
	case errors.Is(err, errcode.UnknownMemberID):
		m.memberID = ""
		return m.lose(err)
	case errors.Is(err, errcode.IllegalGeneration):
		return m.lose(err)
	case errors.Is(err, errcode.RebalanceInProgress):
		return m.join(0)
	default:
		return m.retry(err, reqJoin)
	}
	if !slices.Equal(m.joinedTopics, m.topics) {
		// The subscription changed while the member joined (a pattern matched other
		// topics): the assignment is for the old one. Take nothing of it; join again.
		m.failures = 0
		return m.join(0)
	}
	var a Assignment
	if _, derr := a.Decode(resp.Assignment); derr != nil {
		// The leader sent what cannot be read: join again and let it assign again.
		m.failures++
		return m.join(m.failures)
	}
	m.failures = 0
	m.state = stateStable
	return m.take(normalize(a.Partitions))
}

// heartbeating reports whether the member heartbeats: while it owns its assignment, and
// while it gives it up before rejoining (the user may take up to ProcessingTime to come
// back from the batches in hand, longer than the session: the coordinator must not drop
// the member meanwhile), as the Java client's heartbeat thread does until it rejoins.
func (m *membership) heartbeating() bool {
	return m.state == stateStable || m.state == stateRebalancing
}

// heartbeat takes the answer to a Heartbeat sent in generation gen.
func (m *membership) heartbeat(gen int32, resp *api.HeartbeatResponse, err error) step {
	if !m.heartbeating() || gen != m.generation {
		return step{} // answers a generation that is over
	}
	if err == nil {
		err = errcode.ForCode(resp.ErrorCode)
	}
	if m.state == stateRebalancing {
		// Already giving everything up; the answers only keep the session, and say
		// how to rejoin.
		switch {
		case err == nil, errors.Is(err, errcode.RebalanceInProgress):
			return step{Alive: true}
		case errors.Is(err, errcode.UnknownMemberID):
			m.memberID = "" // the coordinator dropped it: rejoin afresh
			return step{}
		case errors.Is(err, errcode.IllegalGeneration), errors.Is(err, errcode.CoordinatorLoadInProgress):
			return step{}
		}
		return m.retry(err, reqHeartbeat)
	}
	switch {
	case err == nil:
		m.failures = 0
		return step{Alive: true}
	case errors.Is(err, errcode.RebalanceInProgress) && m.cooperative:
		return m.rebalanceCooperative()
	case errors.Is(err, errcode.RebalanceInProgress):
		// Eager: give up everything, then rejoin (revoked).
		m.state = stateRebalancing
		revoke := m.owned
		m.owned = nil
		m.revoking++
		return step{Rebalance: true, Revoke: revoke, Alive: true}
	case errors.Is(err, errcode.UnknownMemberID):
		m.memberID = ""
		return m.lose(err)
	case errors.Is(err, errcode.IllegalGeneration):
		return m.lose(err)
	case errors.Is(err, errcode.CoordinatorLoadInProgress):
		return step{} // the next heartbeat asks again
	default:
		return m.retry(err, reqHeartbeat)
	}
}

// lose gives up what the member owns without committing (another member may own it
// already) and rejoins.
func (m *membership) lose(error) step {
	lost := m.drop()
	s := m.join(0)
	s.Lost = lost
	return s
}

// sessionBound reports whether the member holds partitions on the strength of its
// session: a stable member, and a cooperative one that keeps reading what it owns while
// it joins again (KIP-429). A JoinGroup that hangs (the coordinator unreachable) may
// never have reached the coordinator, which then drops the member at the end of its
// session and gives its partitions to others: the member cannot tell, so it counts the
// session from the last request answered, JoinGroup and SyncGroup included. (The Java
// client does not: it fetches on through a join of any length.)
func (m *membership) sessionBound() bool {
	return m.state == stateStable ||
		(m.cooperative && len(m.owned) > 0 && m.state != stateDead && m.state != stateLeaving)
}

// sessionLost: nothing sent to the coordinator has succeeded for the session timeout,
// so it has likely given the partitions to others. They are lost; find the coordinator
// and rejoin.
func (m *membership) sessionLost() step {
	if !m.sessionBound() {
		return step{}
	}
	lost := m.drop()
	s := m.findAgain(reqJoin)
	s.Lost = lost
	return s
}

// revoked: the driver has given up what a step's Revoke named. Once every revocation
// handed out is done, an eager member rejoins, and so does a cooperative one that must
// (it gave partitions up, or the group rebalanced meanwhile): until then its
// subscription would leave out partitions it still reads.
func (m *membership) revoked() step {
	if m.revoking > 0 {
		m.revoking--
	}
	switch {
	case m.revoking > 0:
		return step{}
	case m.state == stateRebalancing:
		return m.join(0)
	case m.state == stateStable && m.rejoin:
		return m.join(0)
	}
	return step{}
}

// leave: the member is closing and has given up what it owned. A static member does
// not send LeaveGroup (KIP-345): the coordinator keeps its place for the session
// timeout, so a restart takes its partitions back without a rebalance.
func (m *membership) leave() step {
	if m.state == stateDead {
		return step{}
	}
	m.owned, m.rejoin = nil, false
	if m.instanceID != "" || m.memberID == "" {
		m.state = stateDead
		return step{}
	}
	m.state = stateLeaving
	return step{Send: reqLeave, Req: m.leaveRequest()}
}

// pollExpired: the user has not come back from the batches in hand for ProcessingTime
// (Java's max.poll.interval.ms). The member gives up its place in the group so that
// the others can take its partitions: they are lost (another member may own them soon:
// nothing of theirs is committed). A dynamic member sends LeaveGroup and forgets its
// member ID; a static one (KIP-345) sends nothing and stops heartbeating, so the
// coordinator drops it at the end of its session, as the Java client does. It waits
// away, sending nothing, until back.
func (m *membership) pollExpired() step {
	if !m.mayGoAway() {
		return step{}
	}
	lost := m.drop()
	m.state, m.after, m.rejoin = stateAway, reqNone, false
	s := step{Lost: lost}
	if m.instanceID == "" && m.memberID != "" {
		s.Send, s.Req = reqLeave, m.leaveRequest()
		reason := "the consumer's user did not poll within the processing time"
		s.Req.(*api.LeaveGroupRequest).Members[0].Reason = &reason
		m.memberID = ""
	}
	return s
}

// mayGoAway reports whether a user overrunning the processing time makes the member
// leave (pollExpired): only a stable member with no revocation under way. A revocation
// (eager, or a cooperative one in a stable generation) waits for the user itself, up to
// the hand-off's bound, past which it is a loss: leaving the group before it ended would
// let others take the partitions while the user may still finish and commit them.
func (m *membership) mayGoAway() bool {
	return m.state == stateStable && m.revoking == 0
}

// back: the user came back after pollExpired; rejoin, finding the coordinator first.
func (m *membership) back() step {
	if m.state != stateAway {
		return step{}
	}
	m.state, m.after = stateUnjoined, reqJoin
	return step{Send: reqFindCoordinator}
}

// left takes the answer to LeaveGroup: whatever it is, the member is gone.
func (m *membership) left(*api.LeaveGroupResponse, error) step {
	if m.state == stateLeaving {
		m.state = stateDead
	}
	return step{}
}

// retry handles the errors every group request shares: a coordinator that moved or a
// broken connection (find it again), one still loading (the same request again, after a
// backoff), and the fatal ones.
func (m *membership) retry(err error, again reqKind) step {
	var code *errcode.Error
	switch {
	case errors.Is(err, errcode.NotCoordinator), errors.Is(err, errcode.CoordinatorNotAvailable):
		return m.findAgain(again)
	case m.fatal(err) != nil:
		return m.die(m.fatal(err))
	case errors.Is(err, errcode.CoordinatorLoadInProgress) || (errors.As(err, &code) && code.Retriable):
		m.failures++
		if again == reqJoin {
			return m.join(m.failures)
		}
		return step{} // heartbeats: the next one asks again
	case errors.As(err, &code):
		return m.die(m.wrap(err)) // an answer the protocol does not expect here
	default:
		// The request failed on its way (connection lost, timed out): the coordinator
		// may have moved.
		return m.findAgain(again)
	}
}

// fatal returns the member's end if err is one it cannot recover from, or nil.
func (m *membership) fatal(err error) error {
	for _, e := range []*errcode.Error{
		errcode.FencedInstanceID, errcode.GroupAuthorizationFailed, errcode.TopicAuthorizationFailed,
		errcode.InconsistentGroupProtocol, errcode.GroupMaxSizeReached, errcode.UnsupportedAssignor,
		errcode.InvalidSessionTimeout, errcode.InvalidGroupID,
	} {
		if errors.Is(err, e) {
			return m.wrap(err)
		}
	}
	return nil
}

func (m *membership) wrap(err error) error {
	return fmt.Errorf("group %q: %w", m.group, err)
}

// die ends the member: what it owns is lost (a fenced member must not commit).
func (m *membership) die(err error) step {
	lost := m.drop()
	m.state, m.err, m.rejoin = stateDead, err, false
	return step{Lost: lost, Fatal: err}
}

func (m *membership) assignor() Assignor {
	for _, a := range m.assignors {
		if a.Name() == m.protocol {
			return a
		}
	}
	return nil
}

func (m *membership) instance() *string {
	if m.instanceID == "" {
		return nil
	}
	return &m.instanceID
}

func (m *membership) sync(got map[string]Assignment) step {
	req, err := m.syncRequest(got)
	if err != nil {
		return m.die(fmt.Errorf("group %q: assignor %q: %w", m.group, m.protocol, err))
	}
	return step{Send: reqSync, Req: req}
}

// joinRequest fails only if the subscription cannot be encoded (Config.withDefaults
// refuses the topic names that cannot be).
func (m *membership) joinRequest() (*api.JoinGroupRequest, error) {
	req := &api.JoinGroupRequest{}
	req.Default()
	req.GroupID = m.group
	req.SessionTimeoutMs = m.sessionMs
	req.RebalanceTimeoutMs = m.rebalMs
	req.MemberID = m.memberID
	req.GroupInstanceID = m.instance()
	req.ProtocolType = "consumer"
	m.joinedTopics = m.topics
	for _, a := range m.assignors {
		// An eager member owns nothing when it joins: it gave everything up first; a
		// cooperative one names what it kept. Generation is the generation it last
		// joined (KIP-792; -1 once it lost its partitions), as the Java client sends:
		// a member whose SyncGroup failed still claims what it kept in the generation
		// it joined, whose leader held back whatever it was to give up. The user data
		// carries the last assignment and its generation (the sticky assignors').
		sub := Subscription{Topics: m.topics, UserData: a.UserData(m.last, m.lastGen), Owned: m.owned, Generation: m.generation}
		meta, err := sub.Encode(nil, SubscriptionVersion)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", m.group, err)
		}
		req.Protocols = append(req.Protocols, api.JoinGroupRequestProtocol{Name: a.Name(), Metadata: meta})
	}
	return req, nil
}

func (m *membership) syncRequest(got map[string]Assignment) (*api.SyncGroupRequest, error) {
	req := &api.SyncGroupRequest{}
	req.Default()
	req.GroupID, req.GenerationID, req.MemberID = m.group, m.generation, m.memberID
	req.GroupInstanceID = m.instance()
	typ, name := "consumer", m.protocol
	req.ProtocolType, req.ProtocolName = &typ, &name
	ids := make([]string, 0, len(got))
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := got[id]
		b, err := a.Encode(nil, AssignmentVersion)
		if err != nil {
			return nil, err
		}
		req.Assignments = append(req.Assignments, api.SyncGroupRequestAssignment{MemberID: id, Assignment: b})
	}
	return req, nil
}

func (m *membership) heartbeatRequest() *api.HeartbeatRequest {
	req := &api.HeartbeatRequest{}
	req.Default()
	req.GroupID, req.GenerationID, req.MemberID = m.group, m.generation, m.memberID
	req.GroupInstanceID = m.instance()
	return req
}

// leaveRequest names the member both ways; the driver keeps the one the version sent
// has (MemberID before version 3, Members from it).
func (m *membership) leaveRequest() *api.LeaveGroupRequest {
	req := &api.LeaveGroupRequest{}
	req.Default()
	req.GroupID, req.MemberID = m.group, m.memberID
	reason := "the consumer is closing"
	req.Members = []api.LeaveGroupRequestMemberIdentity{{MemberID: m.memberID, Reason: &reason}}
	return req
}

// normalize sorts an assignment by topic and partition, merging a topic named twice.
func normalize(in []TopicPartitions) []TopicPartitions {
	by := make(map[string][]int32)
	for _, tp := range in {
		by[tp.Topic] = append(by[tp.Topic], tp.Partitions...)
	}
	out := make([]TopicPartitions, 0, len(by))
	for t, ps := range by {
		slices.Sort(ps)
		out = append(out, TopicPartitions{Topic: t, Partitions: slices.Compact(ps)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	if len(out) == 0 {
		return nil
	}
	return out
}
