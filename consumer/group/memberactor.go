package group

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
)

// memberMsg is what the member actor receives: the answer to one of its requests, the
// partition counts its leader's assignor needs, the hand-off's note that a revocation
// is done, or Close's request to leave.
type memberMsg struct {
	call    *broker.Call // an answer, with kind, gen and sent
	kind    reqKind
	gen     int32
	sent    time.Time
	round   uint64            // a JoinGroup's or SyncGroup's: answers to an earlier one are stale
	planned *cluster.Snapshot // the leader's metadata (nil with planErr)
	planErr error
	planSeq uint64
	revoked bool
	back    bool // the user is back after the member went away (pollExpired)
	meta    bool // a metadata refresh for the coordinator lookup is done
	leave   actor.Reply[struct{}]

	// watched: a TopicPattern's listing of the cluster's topics is done (pattern.go).
	watched *patternAnswer
}

func (mm memberMsg) fail(err error) { mm.leave.Send(struct{}{}, err) }

// memberActor drives the member's membership state machine: it sends what each step
// says to the coordinator, on the connection kept for group requests (a JoinGroup is
// answered only once the whole group has rejoined, and nothing else should wait behind
// it), keeps the heartbeat, session and backoff timers on one Alarm, passes assignments,
// revocations and losses to the hand-off actor, and publishes the member ID, generation
// and coordinator for commits. It never waits on the user, nor on a request: answers
// come back to its mailbox.
//
// Owner: the member's supervisor ("group <id>"), which Member.Close stops after the
// actor has left the group (or at once, when it has failed for good).
type memberActor struct {
	m    *Member
	mach *membership

	coord     broker.Node
	haveCoord bool
	nodeIdx   int // which broker the next coordinator lookup asks

	alarm     actor.Alarm
	retryAt   time.Time
	pending   step // sent at retryAt
	hbDue     time.Time
	commitDue time.Time // the next automatic commit; zero when off
	hbFlight  bool
	aliveAt   time.Time // when the last heartbeat, JoinGroup or SyncGroup that succeeded was sent
	round     uint64    // the JoinGroup or SyncGroup sent last
	// calmAt is when the last request was sent that the coordinator answered with no
	// rebalance under way (a heartbeat, or SyncGroup): a rebalance began after it, so
	// the coordinator waits for this member until calmAt + ProcessingTime at least (the
	// rebalance timeout), and a revocation must be done by then.
	calmAt  time.Time
	planSeq uint64 // the leader's current metadata request
	leaving actor.Reply[struct{}]
	watch   *patternWatch // with a TopicPattern: the topics it matches (pattern.go)
}

func newMemberActor(m *Member) *memberActor {
	a := &memberActor{m: m, mach: newMembership(&m.cfg)}
	if m.cfg.TopicPattern != "" {
		pat, _ := newTopicPattern(m.cfg.TopicPattern, m.cfg.MatchInternalTopics) // compiled by Config.withDefaults already
		ccfg := m.client.Config()
		a.watch = &patternWatch{pat: pat, every: ccfg.RefreshInterval, fresh: ccfg.MinRefreshInterval}
	}
	return a
}

// Run is the actor's loop: runMember around the classic membership machine. With a
// TopicPattern, the membership starts once the pattern has been matched (watched).
func (a *memberActor) Run(ctx context.Context, in *actor.Inbox[memberMsg]) error {
	if a.watch == nil {
		a.do(a.mach.start())
	}
	return runMember(ctx, in, &a.alarm, a)
}

// ended reports whether the member is done: dead, after leaving or a fatal error.
func (a *memberActor) ended() bool { return a.mach.state == stateDead }

// leftReply is the Close waiting for the member to leave, if any.
func (a *memberActor) leftReply() actor.Reply[struct{}] { return a.leaving }

// memberLoop is what runMember drives: one protocol's member actor.
type memberLoop interface {
	ended() bool
	leftReply() actor.Reply[struct{}]
	next() time.Time
	handle(memberMsg)
	due(now time.Time)
}

// runMember is the run loop both protocols' member actors share: handle the mailbox
// whole, wake on the alarm at next(), and when the member has ended answer the Close
// waiting for it and anything queued (a Close's leave) before going. A mailbox closed
// without Close (which leaves first) ends the loop too: the coordinator drops the member
// at the end of its session.
func runMember(ctx context.Context, in *actor.Inbox[memberMsg], alarm *actor.Alarm, l memberLoop) error {
	defer alarm.Stop()
	var batch []memberMsg
	for {
		if l.ended() {
			l.leftReply().Send(struct{}{}, nil)
			batch, _ = in.Drain(batch[:0])
			for _, mm := range batch {
				mm.leave.Send(struct{}{}, nil)
			}
			return nil
		}
		alarm.Set(l.next())
		select {
		case <-ctx.Done():
			return nil
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			for i := range batch {
				l.handle(batch[i])
				batch[i] = memberMsg{}
			}
			if closed {
				return nil
			}
		case <-alarm.C():
			l.due(time.Now())
		}
	}
}

// next is when the loop must wake: a retry, the next heartbeat, or the session's end.
func (a *memberActor) next() time.Time {
	at := actor.Earlier(a.retryAt, a.watchNext())
	if a.mach.heartbeating() && !a.hbFlight && a.haveCoord { // without a coordinator, the lookup's answer wakes it
		at = actor.Earlier(at, a.hbDue)
	}
	if a.mach.sessionBound() {
		at = actor.Earlier(at, a.aliveAt.Add(a.m.cfg.SessionTimeout))
	}
	if a.mach.state == stateStable {
		at = actor.Earlier(at, a.commitDue)
	}
	if a.mach.mayGoAway() {
		at = actor.Earlier(at, a.m.overdue())
	}
	return at
}

func (a *memberActor) due(now time.Time) {
	a.watchDue(now)
	if !a.retryAt.IsZero() && !now.Before(a.retryAt) {
		s := a.pending
		a.retryAt, a.pending = time.Time{}, step{}
		if s.Send == reqJoin {
			s = a.mach.join(0) // with the member ID it has now
		}
		if s.Fatal != nil {
			a.do(s)
		} else {
			a.send(s)
		}
	}
	if a.mach.state == stateStable && !a.commitDue.IsZero() && !now.Before(a.commitDue) {
		a.m.autoCommit(a.publish()) // the hand-off commits: this loop never waits for a commit
		a.commitDue = now.Add(a.m.cfg.AutoCommitInterval)
	}
	if a.mach.mayGoAway() && a.m.pollOverrun(now, a.mach.memberID) {
		a.retryAt, a.pending = time.Time{}, step{}
		a.do(a.mach.pollExpired())
		a.publish()
		return
	}
	if a.mach.sessionBound() && !now.Before(a.aliveAt.Add(a.m.cfg.SessionTimeout)) {
		a.m.stopFetching()
		a.m.log.Warn("group member: nothing sent to the coordinator succeeded within the session timeout; its partitions are lost",
			"member", a.mach.memberID, "state", a.mach.state, "session_timeout", a.m.cfg.SessionTimeout)
		a.do(a.mach.sessionLost())
		return
	}
	if !a.mach.heartbeating() {
		return
	}
	if !a.hbFlight && !now.Before(a.hbDue) && a.haveCoord {
		a.send(step{Send: reqHeartbeat, Req: a.mach.heartbeatRequest()})
	}
}

func (a *memberActor) handle(mm memberMsg) {
	switch {
	case mm.leave != (actor.Reply[struct{}]{}):
		a.leaving = mm.leave
		a.retryAt, a.pending = time.Time{}, step{}
		a.do(a.mach.leave())
	case mm.revoked:
		a.rejoinWhenMatched()
	case mm.back:
		a.do(a.mach.back())
	case mm.watched != nil:
		a.watched(mm.watched)
	case mm.meta:
		if a.mach.state == stateUnjoined || a.mach.after != reqNone {
			a.send(step{Send: reqFindCoordinator})
		}
	case mm.planSeq != 0:
		if mm.planSeq != a.planSeq {
			return // a rebalance that is over
		}
		if mm.planErr != nil {
			a.m.log.Warn("group leader: no metadata for the assignment; joining again", "err", mm.planErr)
			a.mach.failures++
			a.do(a.mach.join(a.mach.failures))
			return
		}
		counts := make(map[string]int32)
		for _, s := range a.mach.members {
			for _, t := range s.Topics {
				if tp := mm.planned.Topic(t); tp != nil && tp.Err == nil {
					counts[t] = int32(len(tp.Partitions))
				}
			}
		}
		a.do(a.mach.planned(counts))
	case mm.call != nil:
		a.answer(mm)
	}
}

func (a *memberActor) answer(mm memberMsg) {
	call := mm.call
	switch mm.kind {
	case reqFindCoordinator:
		node, err := coordinatorOf(call, a.m.cfg.Group)
		if err == nil {
			a.coord, a.haveCoord = node, true
			a.m.client.NoteCoordinator(a.m.cfg.Group, node)
			a.m.log.Debug("group member: coordinator found", "coordinator", node)
		} else {
			a.haveCoord = false
			a.nodeIdx++
		}
		a.publish()
		a.do(a.mach.coordinator(err))
	case reqJoin:
		if mm.round != a.round {
			return // answers a JoinGroup given up for a later one (sessionLost)
		}
		resp, _ := call.Response.(*api.JoinGroupResponse)
		if call.Err == nil && resp != nil && resp.ErrorCode == 0 {
			a.aliveAt = mm.sent // the coordinator knew the member when it took it
		}
		if resp != nil {
			a.m.log.Debug("group member: JoinGroup answered", "code", resp.ErrorCode, "member", resp.MemberID, "generation", resp.GenerationID, "took", time.Since(mm.sent))
		} else {
			a.m.log.Debug("group member: JoinGroup failed", "err", call.Err, "took", time.Since(mm.sent))
		}
		a.do(a.mach.joined(resp, call.Err))
	case reqSync:
		if mm.round != a.round {
			return
		}
		resp, _ := call.Response.(*api.SyncGroupResponse)
		if call.Err == nil && resp != nil && resp.ErrorCode == 0 {
			a.calmAt, a.aliveAt = mm.sent, mm.sent
		}
		a.do(a.mach.synced(resp, call.Err))
	case reqHeartbeat:
		a.hbFlight = false
		a.hbDue = time.Now().Add(a.m.cfg.HeartbeatInterval)
		resp, _ := call.Response.(*api.HeartbeatResponse)
		s := a.mach.heartbeat(mm.gen, resp, call.Err)
		if s.Alive {
			a.aliveAt = mm.sent
			if !s.Rebalance && a.mach.state == stateStable {
				a.calmAt = mm.sent
			}
		}
		a.do(s)
	case reqLeave:
		a.do(a.mach.left(nil, call.Err))
	}
}

// do carries out a step of the state machine.
func (a *memberActor) do(s step) {
	h := a.m.hand
	info := a.publish()
	if len(s.Lost) > 0 {
		a.m.loseParts(a.mach.memberID, s.Lost)
	}
	if s.Fatal != nil {
		a.m.fail(s.Fatal)
		return
	}
	if s.Rebalance {
		a.m.log.Info("group member: rebalance; revoking", "member", a.mach.memberID, "partitions", s.Revoke)
		a.matchBeforeRejoin()
		if len(s.Revoke) == 0 {
			a.rejoinWhenMatched()
			return
		}
		seq := a.m.overtake(s.Revoke)
		_ = h.TrySend(handoffMsg{kind: handRevoke, parts: s.Revoke, info: info, by: a.calmAt.Add(a.m.cfg.ProcessingTime), seq: seq})
	}
	if s.Assigned {
		a.m.log.Info("group member: assigned", "member", a.mach.memberID, "generation", a.mach.generation,
			"cooperative", a.mach.cooperative, "added", s.Assign, "owned", a.mach.owned)
		now := time.Now() // aliveAt is when the SyncGroup that assigned was sent
		a.hbDue = now.Add(a.m.cfg.HeartbeatInterval)
		if !a.m.cfg.DisableAutoCommit {
			a.commitDue = now.Add(a.m.cfg.AutoCommitInterval)
		}
		epoch, seq := a.m.nextAssignment()
		_ = h.TrySend(handoffMsg{kind: handAssign, parts: s.Assign, epoch: epoch, seq: seq})
	}
	if s.Planning {
		a.plan(s.Plan)
	}
	if s.Send == reqNone {
		return
	}
	if s.Send == reqFindCoordinator {
		a.haveCoord = false // until found again: no heartbeats to the old one
	}
	if s.Retry > 0 {
		a.pending = s
		a.retryAt = time.Now().Add(a.m.cfg.Backoff.Delay(s.Retry, rand.Float64()))
		return
	}
	a.send(s)
}

// plan asks for the metadata of the topics the leader assigns.
func (a *memberActor) plan(topics []string) {
	a.planSeq++
	seq, ref := a.planSeq, a.m.member
	if len(topics) == 0 {
		a.handle(memberMsg{planSeq: seq, planned: &cluster.Snapshot{}})
		return
	}
	// The client's snapshot will do when it knows every topic, as the Java client's
	// metadata cache does (it is refreshed on the client's interval): a refresh waits
	// out the client's MinRefreshInterval since the last one, which the coordinator
	// lookup has just made.
	if snap := a.m.client.Snapshot(); snap != nil && knowsAll(snap, topics) {
		a.handle(memberMsg{planSeq: seq, planned: snap})
		return
	}
	a.m.client.RefreshAsync(func(snap *cluster.Snapshot, err error) {
		_ = ref.TrySend(memberMsg{planSeq: seq, planned: snap, planErr: err})
	}, topics...)
}

func knowsAll(snap *cluster.Snapshot, topics []string) bool {
	for _, t := range topics {
		if tp := snap.Topic(t); tp == nil || tp.Err != nil {
			return false
		}
	}
	return true
}

// publish stores what commits need.
func (a *memberActor) publish() *memberInfo {
	info := &memberInfo{memberID: a.mach.memberID, generation: a.mach.commitGeneration(), cooperative: a.mach.cooperative}
	a.m.setInfo(info)
	return info
}

// send sends the request of step s; its answer comes back to the mailbox.
func (a *memberActor) send(s step) {
	ref := a.m.member
	now := time.Now()
	mm := memberMsg{kind: s.Send, gen: a.mach.generation, sent: now}
	call := &broker.Call{Request: s.Req}
	call.Done = func(c *broker.Call) {
		mm.call = c
		_ = ref.TrySend(mm) // room: at most a few of the actor's calls are in flight
	}
	var node broker.Node
	purpose := broker.Group
	switch s.Send {
	case reqFindCoordinator:
		snap := a.m.client.Snapshot()
		var nodes []broker.Node
		if snap != nil {
			nodes = snap.Nodes()
		}
		if len(nodes) == 0 {
			a.m.client.RefreshAsync(func(*cluster.Snapshot, error) { _ = ref.TrySend(memberMsg{meta: true}) })
			return
		}
		node, purpose = nodes[a.nodeIdx%len(nodes)], broker.Admin
		call = findCoordinatorCall(a.m.cfg.Group)
		call.Done = func(c *broker.Call) {
			mm.call = c
			_ = ref.TrySend(mm)
		}
	case reqJoin, reqSync:
		a.round++
		mm.round = a.round
		// Answered once the group has rejoined: up to the rebalance timeout.
		call.Deadline = now.Add(a.m.cfg.ProcessingTime + a.m.ccfg.RequestTimeout)
		node = a.coord
	case reqHeartbeat:
		a.hbFlight = true
		node = a.coord
	case reqLeave:
		// Not behind a JoinGroup that may be waiting on the group connection.
		node, purpose = a.coord, broker.Admin
		req := s.Req.(*api.LeaveGroupRequest)
		members, id := req.Members, req.MemberID
		call.Prepare = func(v int16) error {
			req.MemberID, req.Members = "", nil
			if v >= 3 {
				req.Members = members
			} else {
				req.MemberID = id
			}
			return nil
		}
	}
	if !a.haveCoord && s.Send != reqFindCoordinator {
		a.do(a.mach.findAgain(s.Send))
		return
	}
	conn, err := a.m.client.Conn(node, purpose)
	if err == nil {
		err = conn.TrySend(call)
	}
	if err != nil {
		call.Err = err
		mm.call = call
		a.answer(mm)
	}
}
