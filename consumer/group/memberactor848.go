package group

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/codec"
)

// memberActor848 drives a member of a KIP-848 consumer group (Config.Protocol Consumer):
// it sends the heartbeats its reconciler builds to the group's coordinator, one at a
// time, at the interval the coordinator asks for (at once to join, acknowledge or leave;
// after a backoff when one failed), finds the coordinator again when told, resolves topic
// IDs through the client's metadata, passes revocations, assignments and losses to the
// hand-off actor (the same one, with the same callbacks and commits, as a classic member),
// has the hand-off commit every AutoCommitInterval, makes the member leave when its user
// overruns ProcessingTime (and rejoin when the user is back), and publishes the member ID
// and epoch for commits. It never waits on the user or on a
// request: answers come back to its mailbox. It shares memberMsg with memberActor: a
// heartbeat's answer comes as a call of kind reqHeartbeat (gen: the heartbeat's sequence
// number), resolved topic IDs as planned metadata.
//
// Owner: the member's supervisor ("group <id>"), which Member.Close stops after the actor
// has left the group (or at once, when it has failed for good).
type memberActor848 struct {
	m    *Member
	mach *reconciler

	coord     broker.Node
	haveCoord bool
	finding   bool // a coordinator lookup is in flight
	nodeIdx   int  // which broker the next coordinator lookup asks
	lookups   int  // failed lookups in a row, for the backoff

	alarm     actor.Alarm
	retryAt   time.Time // no heartbeat before (a backoff after a failure)
	hbDue     time.Time // the next heartbeat at the interval
	hbFlight  bool
	hbSeq     int32     // the sequence number of the heartbeat in flight
	aliveAt   time.Time // when the last heartbeat that succeeded was sent
	commitDue time.Time // the next automatic commit; zero when off or out of the group
	announced bool      // Join has been woken (the first answer came)
	planSeq   uint64
	leaving   actor.Reply[struct{}]
	closing   bool
}

func newMemberActor848(m *Member) *memberActor848 {
	return &memberActor848{m: m, mach: newReconciler(reconcileConfig{
		Group: m.cfg.Group, InstanceID: m.cfg.InstanceID, ServerAssignor: m.cfg.ServerAssignor,
		RebalanceMs: int32(m.cfg.ProcessingTime.Milliseconds()), Topics: m.cfg.Topics,
		Pattern: m.cfg.TopicPattern, NewID: randomMemberID,
	})}
}

// Run is the actor's loop: runMember (memberactor.go) around the reconciler.
func (a *memberActor848) Run(ctx context.Context, in *actor.Inbox[memberMsg]) error {
	a.find()
	return runMember(ctx, in, &a.alarm, a)
}

// ended reports whether the member is done: it left, or it ended on a fatal error.
func (a *memberActor848) ended() bool {
	return a.mach.state == reconcileDead || a.mach.state == reconcileLeft
}

// leftReply is the Close waiting for the member to leave, if any.
func (a *memberActor848) leftReply() actor.Reply[struct{}] { return a.leaving }

// next is when the loop must wake: the next heartbeat (or its retry), the session's
// end, the next automatic commit, or the user's overrunning ProcessingTime.
func (a *memberActor848) next() time.Time {
	var at time.Time
	if a.haveCoord && !a.hbFlight && a.mach.sendable() { // fenced while revoking, leaving before its revocation is done, away: nothing to send, no timer
		at = a.hbDue
		if a.mach.due() {
			at = time.Now()
		}
		if at.Before(a.retryAt) {
			at = a.retryAt
		}
	} else if !a.haveCoord && !a.finding {
		at = a.retryAt
		if at.IsZero() {
			at = time.Now()
		}
	}
	if a.mach.sessionBound() {
		at = actor.Earlier(at, a.aliveAt.Add(a.m.cfg.SessionTimeout))
	}
	if a.mach.joined {
		at = actor.Earlier(at, a.commitDue)
		if a.mach.state == reconcileStable {
			at = actor.Earlier(at, a.m.overdue())
		}
	}
	return at
}

// schedule keeps the automatic commits' timer: every AutoCommitInterval from when the
// member is in the group (its first answer), off while it is out of it.
func (a *memberActor848) schedule() {
	switch {
	case !a.mach.joined:
		a.commitDue = time.Time{}
	case a.commitDue.IsZero() && !a.m.cfg.DisableAutoCommit:
		a.commitDue = time.Now().Add(a.m.cfg.AutoCommitInterval)
	}
}

func (a *memberActor848) due(now time.Time) {
	if a.mach.sessionBound() && !now.Before(a.aliveAt.Add(a.m.cfg.SessionTimeout)) {
		a.m.stopFetching()
		a.m.log.Warn("group member: no heartbeat succeeded within the session timeout; its partitions are lost",
			"member", a.mach.memberID, "session_timeout", a.m.cfg.SessionTimeout)
		a.hbFlight = false // its answer, if it ever comes, is for a membership that is over
		a.do(a.mach.expired())
		return
	}
	if a.mach.joined && !a.commitDue.IsZero() && !now.Before(a.commitDue) {
		a.m.autoCommit(a.publish())
		a.commitDue = now.Add(a.m.cfg.AutoCommitInterval)
	}
	if a.mach.state == reconcileStable && a.mach.joined && a.m.pollOverrun(now, a.mach.memberID) {
		a.hbFlight = false // its answer, if it ever comes, is for a membership that is over
		a.do(a.mach.pollExpired())
		return // the leave heartbeat is due at once: next says when
	}
	if now.Before(a.retryAt) {
		return
	}
	if !a.haveCoord {
		if !a.finding {
			a.find()
		}
		return
	}
	if !a.hbFlight && (a.mach.due() || !now.Before(a.hbDue)) {
		a.beat()
	}
}

func (a *memberActor848) handle(mm memberMsg) {
	switch {
	case mm.leave != (actor.Reply[struct{}]{}):
		// Close has given up everything through the hand-off already: what the
		// reconciler revokes from now on needs no more from it.
		a.leaving, a.closing = mm.leave, true
		a.do(a.mach.leave())
	case mm.revoked:
		a.do(a.mach.revoked())
	case mm.back:
		a.do(a.mach.back())
	case mm.meta:
		a.finding = false
		a.find()
	case mm.planSeq != 0:
		if mm.planSeq != a.planSeq {
			return
		}
		names := map[codec.UUID]string{}
		if mm.planned != nil {
			for id := range a.mach.target {
				if tp := mm.planned.TopicByID(id); tp != nil {
					names[id] = tp.Name
				}
			}
		}
		if mm.planErr != nil {
			a.m.log.Warn("group member: no metadata to name assigned topics; asking again", "err", mm.planErr)
		}
		a.do(a.mach.resolved(names))
	case mm.call != nil:
		a.answer(mm)
	}
}

func (a *memberActor848) answer(mm memberMsg) {
	call := mm.call
	switch mm.kind {
	case reqFindCoordinator:
		a.finding = false
		node, err := coordinatorOf(call, a.m.cfg.Group)
		if err == nil {
			a.coord, a.haveCoord, a.lookups = node, true, 0
			a.m.client.NoteCoordinator(a.m.cfg.Group, node)
			a.m.log.Debug("group member: coordinator found", "coordinator", node)
		} else {
			a.haveCoord = false
			a.nodeIdx++
			a.lookups++
			a.retryAt = time.Now().Add(a.m.cfg.Backoff.Delay(a.lookups, rand.Float64()))
			a.m.log.Debug("group member: no coordinator yet", "err", err)
		}
		a.publish()
	case reqHeartbeat:
		if !a.hbFlight || mm.gen != a.hbSeq {
			return // the answer to a heartbeat of a membership that is over
		}
		a.hbFlight = false
		resp, _ := call.Response.(*api.ConsumerGroupHeartbeatResponse)
		var st reconcileStep
		if call.Err != nil || resp == nil {
			a.m.log.Debug("group member: heartbeat failed", "err", call.Err)
			st = a.mach.failed(call.Err)
		} else {
			if resp.ErrorCode == 0 {
				a.aliveAt = mm.sent
			}
			st = a.mach.answered(resp)
		}
		a.hbDue = time.Now().Add(a.interval())
		a.do(st)
	}
}

func (a *memberActor848) interval() time.Duration {
	if ms := a.mach.heartbeatInterval(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return a.m.cfg.HeartbeatInterval
}

// do carries out a step of the reconciler.
func (a *memberActor848) do(st reconcileStep) {
	defer a.schedule()
	h := a.m.hand
	info := a.publish()
	if len(st.Lost) > 0 {
		a.m.loseParts(a.mach.memberID, st.Lost)
	}
	if st.Fatal != nil {
		a.m.fail(st.Fatal)
		return
	}
	if st.Left {
		a.m.log.Info("group member: left the group", "member", a.mach.memberID)
		return
	}
	// What the reconciler is told once this step is carried out: lost at once (the
	// hand-off drops the partitions before it takes anything sent after), revoked at once
	// while closing (Close had the hand-off give everything up already).
	var then func() reconcileStep
	if len(st.Lost) > 0 {
		then = a.mach.lost
	}
	if len(st.Revoke) > 0 {
		if a.closing {
			then = a.mach.revoked
		} else {
			a.m.log.Info("group member: revoking", "member", a.mach.memberID, "epoch", a.mach.epoch, "partitions", st.Revoke)
			seq := a.m.overtake(st.Revoke)
			_ = h.TrySend(handoffMsg{kind: handRevoke, parts: st.Revoke, info: info, seq: seq})
		}
	}
	if len(st.Assign) > 0 || (!a.announced && a.mach.joined) {
		// The first answer wakes Join even when it assigns nothing.
		a.announced = true
		if len(st.Assign) > 0 {
			a.m.log.Info("group member: assigned", "member", a.mach.memberID, "epoch", a.mach.epoch, "partitions", st.Assign)
		}
		epoch, seq := a.m.nextAssignment()
		_ = h.TrySend(handoffMsg{kind: handAssign, parts: st.Assign, info: info, epoch: epoch, seq: seq})
	}
	if len(st.Resolve) > 0 {
		a.resolve(st.Resolve)
	}
	if st.Retry > 0 {
		a.retryAt = time.Now().Add(a.m.cfg.Backoff.Delay(st.Retry, rand.Float64()))
	}
	if st.FindCoordinator {
		a.haveCoord = false
	}
	if then != nil {
		a.do(then())
	}
}

// resolve names the topic IDs an assignment uses: from the client's snapshot when it
// knows them all (it describes the subscribed topics already, or every topic after the
// coordinator lookup of a fresh client), as the Java client's metadata cache does;
// otherwise it asks the client for the metadata of the subscribed topics (every topic of
// the cluster for a TopicPattern, no Topics, as the coordinator may assign any topic it
// matches). A refresh waits out the client's MinRefreshInterval since the last request,
// which the coordinator lookup may just have made: a quarter of a second before the
// first assignment is taken, by default.
func (a *memberActor848) resolve(ids []codec.UUID) {
	a.planSeq++
	seq, ref := a.planSeq, a.m.member
	if snap := a.m.client.Snapshot(); snap != nil && namesAll(snap, ids) {
		a.handle(memberMsg{planSeq: seq, planned: snap})
		return
	}
	a.m.client.RefreshAsync(func(snap *cluster.Snapshot, err error) {
		_ = ref.TrySend(memberMsg{planSeq: seq, planned: snap, planErr: err})
	}, a.m.cfg.Topics...)
}

// namesAll reports whether snap names every topic ID of ids.
func namesAll(snap *cluster.Snapshot, ids []codec.UUID) bool {
	for _, id := range ids {
		if snap.TopicByID(id) == nil {
			return false
		}
	}
	return true
}

// publish stores what commits need: the member epoch is the generation of a KIP-848
// member's commits (OffsetCommit v9+).
func (a *memberActor848) publish() *memberInfo {
	info := &memberInfo{memberID: a.mach.memberID, generation: a.mach.epoch, interval: a.interval()}
	if !a.mach.joined || a.mach.state == reconcileLosing || a.mach.state == reconcileDead {
		info.generation = -1
	}
	a.m.setInfo(info)
	return info
}

// find looks the coordinator up; its answer comes back to the mailbox.
func (a *memberActor848) find() {
	ref := a.m.member
	snap := a.m.client.Snapshot()
	var nodes []broker.Node
	if snap != nil {
		nodes = snap.Nodes()
	}
	a.finding = true
	if len(nodes) == 0 {
		a.m.client.RefreshAsync(func(*cluster.Snapshot, error) { _ = ref.TrySend(memberMsg{meta: true}) })
		return
	}
	node := nodes[a.nodeIdx%len(nodes)]
	call := findCoordinatorCall(a.m.cfg.Group)
	mm := memberMsg{kind: reqFindCoordinator, sent: time.Now()}
	call.Done = func(c *broker.Call) {
		mm.call = c
		_ = ref.TrySend(mm)
	}
	a.sendCall(node, broker.Admin, call, mm)
}

// beat sends the reconciler's next heartbeat.
func (a *memberActor848) beat() {
	req := a.mach.next()
	if req == nil {
		return
	}
	a.hbSeq++
	a.hbFlight = true
	ref := a.m.member
	mm := memberMsg{kind: reqHeartbeat, gen: a.hbSeq, sent: time.Now()}
	call := &broker.Call{Request: req}
	if req.SubscribedTopicRegex != nil {
		call.Prepare = needsRegexVersion
	}
	call.Done = func(c *broker.Call) {
		mm.call = c
		_ = ref.TrySend(mm) // room: one heartbeat and one lookup in flight at most
	}
	a.sendCall(a.coord, broker.Group, call, mm)
}

func (a *memberActor848) sendCall(node broker.Node, purpose broker.Purpose, call *broker.Call, mm memberMsg) {
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
