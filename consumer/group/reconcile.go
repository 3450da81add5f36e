package group

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// Server-side assignors a KIP-848 group can ask the coordinator for by name. The broker's
// group.consumer.assignors lists what it offers (uniform and range by default); a name it
// does not offer is refused with UNSUPPORTED_ASSIGNOR.
const (
	// ServerAssignorUniform spreads partitions evenly and keeps them where they are
	// where balance allows (Kafka's default).
	ServerAssignorUniform = "uniform"
	// ServerAssignorRange gives each member contiguous ranges of each topic's partitions,
	// as the classic range assignor does.
	ServerAssignorRange = "range"
)

// Member epochs with a meaning of their own in ConsumerGroupHeartbeat.
const (
	epochJoin        int32 = 0  // join (or rejoin) the group
	epochLeave       int32 = -1 // leave the group
	epochStaticLeave int32 = -2 // a static member leaves and will come back
)

// reconciler is one member of a KIP-848 consumer group as a deterministic state machine:
// no goroutines, no clock, no I/O. The coordinator computes the member's target assignment
// and sends it in ConsumerGroupHeartbeat responses; the reconciler moves what the member
// owns towards it in the order KIP-848 asks — give up what the target no longer holds
// (revoke: stop fetching, let the user finish, commit), then take what it adds, then tell
// the coordinator through TopicPartitions in the next heartbeat — and builds each
// heartbeat, full or with only what changed since the last one the coordinator answered.
//
// Its inputs are the coordinator's answers (answered, failed), the driver's reports that
// it has done what a step asked (revoked, lost, resolved) and the user's wishes (subscribe,
// leave). Each returns a reconcileStep. The driver asks for the next heartbeat with next,
// when due says one is due at once or when interval has passed since the last.
//
// The coordinator names topics by ID; the reconciler takes what it can name and asks the
// driver to resolve the rest through metadata (step.Resolve). An unresolved topic waits
// for the names, it is not dropped.
//
//	joining ──answer──> stable ──target drops partitions──> revoking ──revoked──> stable
//	   ^                  │  └──target adds partitions: Assign, ack in the next heartbeat
//	   │                  └─ UNKNOWN_MEMBER_ID / FENCED / STALE_MEMBER_EPOCH ──> losing
//	   └──────────────────────────── lost: epoch 0 ───────────────────────────────┘
//	any ──leave──> (revoking) ──> leave heartbeat (epoch -1, or -2 if static) ──> left
//	stable ──pollExpired: partitions lost──> away: leave heartbeat ──back──> joining (epoch 0)
//	any ──fatal error──> dead
type reconciler struct {
	group      string
	instanceID string // static membership; "" for a dynamic member
	rack       string
	assignor   string // server-side assignor; "" for the broker's default
	rebalMs    int32
	topics     []string
	pattern    string        // a regular expression the coordinator matches topics with, or ""
	newID      func() string // a fresh member ID (a UUID; KIP-1082)

	state    reconcileState
	memberID string
	epoch    int32
	joined   bool  // the coordinator has answered a heartbeat in this membership
	interval int32 // ms, from the last answer; 0 until one says

	names    map[codec.UUID]string // topic names learnt from metadata
	asked    map[codec.UUID]bool   // topic IDs step.Resolve named that are still unresolved
	target   map[codec.UUID][]int32
	owned    map[codec.UUID][]int32
	revoking map[codec.UUID][]int32 // given to the driver to revoke, not yet revoked

	full       bool                   // the next heartbeat sends every field
	fullSeq    uint64                 // counts the reasons to send a full heartbeat
	sentSeq    uint64                 // fullSeq when the heartbeat in flight was built
	acked      map[codec.UUID][]int32 // the owned set the coordinator last received
	inflight   *api.ConsumerGroupHeartbeatRequest
	sentOwned  map[codec.UUID][]int32 // owned as the in-flight heartbeat carries it, or nil
	leaving    bool
	leaveReady bool  // everything is given up: send the leave heartbeat
	awayLeave  bool  // away: its leave heartbeat is still to send
	awayDrop   bool  // away: the driver has yet to drop what was lost (lost)
	awayBack   bool  // away: the user is back; rejoin once the leave heartbeat is answered
	fenced     error // a fencing error met while a revocation was with the driver
	unreleased int   // UNRELEASED_INSTANCE_ID answers in a row
	failures   int   // failed heartbeats in a row, for the driver's backoff
	err        error // why the member is dead
}

type reconcileState uint8

const (
	reconcileStable   reconcileState = iota // owns what it has acknowledged or will at once
	reconcileRevoking                       // waiting for the driver to revoke r.revoking
	reconcileLosing                         // fenced: waiting for the driver to drop what was owned
	reconcileLeft                           // the leave heartbeat was answered (or could not be sent)
	reconcileDead                           // failed for good
	reconcileAway                           // out of the group: its user overran the processing time
)

func (s reconcileState) String() string {
	return [...]string{"stable", "revoking", "losing", "left", "dead", "away"}[s]
}

// reconcileStep is what the driver does after an input, in this order: drop Lost without
// committing and then call lost; revoke Revoke (stop fetching, let the user finish the
// batch in hand, commit, give up) and then call revoked; hand Assign to the reader; look
// up the names of the topic IDs in Resolve and call resolved; with FindCoordinator, find
// the group's coordinator again. Retry > 0 means the last heartbeat failed that many times
// in a row: send the next after a backoff. Fatal is the member's end: it owns nothing and
// sends nothing more. Left means the member has left the group.
type reconcileStep struct {
	Lost            []TopicPartitions
	Revoke          []TopicPartitions
	Assign          []TopicPartitions
	Resolve         []codec.UUID
	FindCoordinator bool
	Retry           int
	Fatal           error
	Left            bool
}

// maxUnreleased848 is how many UNRELEASED_INSTANCE_ID answers in a row a static member
// waits out (its previous incarnation may still be leaving) before giving up.
const maxUnreleased848 = 5

// reconcileConfig is what a reconciler needs to know of the member.
type reconcileConfig struct {
	Group          string
	InstanceID     string
	Rack           string
	ServerAssignor string
	RebalanceMs    int32
	Topics         []string
	Pattern        string // instead of Topics: SubscribedTopicRegex (ConsumerGroupHeartbeat v1)
	NewID          func() string
}

func newReconciler(c reconcileConfig) *reconciler {
	r := &reconciler{
		group: c.Group, instanceID: c.InstanceID, rack: c.Rack, assignor: c.ServerAssignor,
		rebalMs: c.RebalanceMs, topics: slices.Clone(c.Topics), pattern: c.Pattern, newID: c.NewID,
		names: map[codec.UUID]string{}, asked: map[codec.UUID]bool{},
		full: true,
	}
	sort.Strings(r.topics)
	r.memberID = r.newID()
	return r
}

// memberEpoch is the member's epoch, which its commits carry (OffsetCommit v9+ takes it
// as the generation).
func (r *reconciler) memberEpoch() int32 { return r.epoch }

// ownedNames is what the member owns now, by topic name.
func (r *reconciler) ownedNames() []TopicPartitions { return r.named(r.owned) }

// heartbeatInterval is the interval the coordinator asked for, in milliseconds (0 until it
// has said).
func (r *reconciler) heartbeatInterval() int32 { return r.interval }

// sendable reports whether next would return a heartbeat now: none is in flight, the
// member is not gone, not fenced (a revocation under way when it was fenced, or when its
// session ran out, finishes first: then its partitions are lost), not waiting for lost
// partitions to be dropped, and, away or leaving, its leave heartbeat may go. The driver
// keeps its heartbeat timer only while it is true: a timer past due with nothing to send
// would wake it again at once, for ever.
func (r *reconciler) sendable() bool {
	if r.inflight != nil || r.state == reconcileDead || r.state == reconcileLeft || r.state == reconcileLosing || r.fenced != nil {
		return false
	}
	if r.state == reconcileAway {
		return r.awayLeave && !r.awayDrop
	}
	if r.leaving {
		return r.leaveReady
	}
	return true
}

// due reports whether a heartbeat should go now rather than at the interval: to join, to
// acknowledge a changed assignment, or to leave.
func (r *reconciler) due() bool {
	if !r.sendable() {
		return false
	}
	if r.state == reconcileAway || r.leaving {
		return true // its leave heartbeat
	}
	return !r.joined || !sameParts(r.owned, r.acked)
}

// next returns the heartbeat to send now, or nil when none may go (sendable): one is in
// flight, the member is waiting for the driver to drop lost partitions or to finish
// revoking before it leaves, or it is gone. The driver sends at most one at a time and
// answers each with answered or failed.
func (r *reconciler) next() *api.ConsumerGroupHeartbeatRequest {
	if !r.sendable() {
		return nil
	}
	req := &api.ConsumerGroupHeartbeatRequest{}
	req.Default()
	req.GroupID, req.MemberID, req.MemberEpoch = r.group, r.memberID, r.epoch
	if r.state == reconcileAway || r.leaving {
		r.awayLeave = false
		req.MemberEpoch = epochLeave
		if r.instanceID != "" {
			req.MemberEpoch = epochStaticLeave
			req.InstanceID = strPtr(r.instanceID)
		}
		r.inflight, r.sentOwned = req, nil
		return req
	}
	if r.full || r.epoch == epochJoin {
		if r.instanceID != "" {
			req.InstanceID = strPtr(r.instanceID)
		}
		if r.rack != "" {
			req.RackID = strPtr(r.rack)
		}
		req.RebalanceTimeoutMs = r.rebalMs
		if r.pattern != "" {
			// The coordinator matches it, against whole names; the names stay null.
			req.SubscribedTopicRegex = strPtr(r.pattern)
		} else {
			req.SubscribedTopicNames = slices.Clone(r.topics)
			if req.SubscribedTopicNames == nil {
				req.SubscribedTopicNames = []string{}
			}
		}
		if r.assignor != "" {
			req.ServerAssignor = strPtr(r.assignor)
		}
	}
	if r.full || r.epoch == epochJoin || !sameParts(r.owned, r.acked) {
		// Joining, the member owns nothing (the coordinator refuses anything else).
		req.TopicPartitions = ownedToWire(r.owned)
		r.sentOwned = cloneParts(r.owned)
	} else {
		r.sentOwned = nil
	}
	r.inflight, r.sentSeq = req, r.fullSeq
	return req
}

// subscribe changes the topics the member subscribes to; the next heartbeat sends every
// field (a coordinator reads a changed subscription from a full heartbeat in every version).
func (r *reconciler) subscribe(topics []string) {
	r.topics = slices.Clone(topics)
	sort.Strings(r.topics)
	r.full = true
	r.fullSeq++ // a full heartbeat in flight carries the old subscription
}

// answered takes the coordinator's answer to the heartbeat next returned last.
func (r *reconciler) answered(resp *api.ConsumerGroupHeartbeatResponse) reconcileStep {
	sent := r.inflight
	if sent == nil || r.state == reconcileDead || r.state == reconcileLeft {
		return reconcileStep{} // nothing asked, or too late to matter
	}
	r.inflight = nil
	if r.state == reconcileAway {
		return r.awayLeft()
	}
	if sent.MemberEpoch == epochLeave || sent.MemberEpoch == epochStaticLeave {
		// Whatever the answer, the member is gone (an error means the coordinator had
		// already removed it).
		r.state = reconcileLeft
		return reconcileStep{Left: true}
	}
	if err := errcode.ForCode(resp.ErrorCode); err != nil {
		if resp.ErrorMessage != nil && *resp.ErrorMessage != "" {
			err = fmt.Errorf("%w: %s", err, *resp.ErrorMessage)
		}
		return r.refused(err)
	}
	if err := checkHeartbeatResponse(resp); err != nil {
		return r.die(r.wrap(err))
	}
	r.failures, r.unreleased = 0, 0
	if r.sentOwned != nil {
		r.acked, r.sentOwned = r.sentOwned, nil
	}
	if sent.RebalanceTimeoutMs != -1 && r.sentSeq == r.fullSeq {
		r.full = false
	}
	if resp.MemberID != nil && *resp.MemberID != "" {
		r.memberID = *resp.MemberID
	}
	if resp.HeartbeatIntervalMs > 0 {
		r.interval = resp.HeartbeatIntervalMs
	}
	r.epoch, r.joined = resp.MemberEpoch, true
	if r.leaving {
		if r.fenced == nil && r.state == reconcileStable {
			return r.startLeave()
		}
		return reconcileStep{}
	}
	if resp.Assignment != nil {
		r.target = targetFromWire(resp.Assignment.TopicPartitions)
		for id := range r.asked {
			if _, ok := r.target[id]; !ok {
				delete(r.asked, id)
			}
		}
	}
	return r.reconcile()
}

// checkHeartbeatResponse refuses what no coordinator sends with a success: a negative
// epoch or partition.
func checkHeartbeatResponse(resp *api.ConsumerGroupHeartbeatResponse) error {
	if resp.MemberEpoch < 1 {
		return fmt.Errorf("%w: ConsumerGroupHeartbeat answered member epoch %d", ErrMalformed, resp.MemberEpoch)
	}
	if resp.Assignment == nil {
		return nil
	}
	for _, t := range resp.Assignment.TopicPartitions {
		for _, p := range t.Partitions {
			if p < 0 {
				return fmt.Errorf("%w: ConsumerGroupHeartbeat assigned partition %d of topic %s", ErrMalformed, p, t.TopicID)
			}
		}
	}
	return nil
}

// failed: the heartbeat next returned last got no answer (the connection broke, the
// request timed out). The coordinator may or may not have read it, so the next sends
// every field.
func (r *reconciler) failed(err error) reconcileStep {
	sent := r.inflight
	if sent == nil || r.state == reconcileDead || r.state == reconcileLeft {
		return reconcileStep{}
	}
	r.inflight, r.sentOwned, r.full = nil, nil, true
	if r.state == reconcileAway {
		return r.awayLeft() // best effort, as leaving
	}
	if sent.MemberEpoch == epochLeave || sent.MemberEpoch == epochStaticLeave {
		// Leaving is best effort: the session timeout removes a member that could not say.
		r.state = reconcileLeft
		return reconcileStep{Left: true}
	}
	if r.leaving {
		return r.leaveAfterError()
	}
	if errors.Is(err, ErrPatternNotSupported) {
		// The coordinator's version cannot carry the subscription: every heartbeat
		// would fail the same way.
		return r.die(r.wrap(err))
	}
	r.failures++
	return reconcileStep{Retry: r.failures, FindCoordinator: true}
}

// refused handles an error code in an answer.
func (r *reconciler) refused(err error) reconcileStep {
	r.sentOwned, r.full = nil, true
	switch {
	case errors.Is(err, errcode.UnknownMemberID):
		return r.fence(err, true)
	case errors.Is(err, errcode.FencedMemberEpoch), errors.Is(err, errcode.StaleMemberEpoch):
		return r.fence(err, false)
	case r.leaving && (errcode.Retriable(err) || errors.Is(err, errcode.UnreleasedInstanceID)):
		return r.leaveAfterError()
	case errors.Is(err, errcode.NotCoordinator), errors.Is(err, errcode.CoordinatorNotAvailable):
		r.failures++
		return reconcileStep{Retry: r.failures, FindCoordinator: true}
	case errors.Is(err, errcode.UnreleasedInstanceID):
		r.unreleased++
		if r.unreleased < maxUnreleased848 {
			r.failures++
			return reconcileStep{Retry: r.failures}
		}
		return r.die(r.wrap(err))
	case errcode.Retriable(err):
		r.failures++
		return reconcileStep{Retry: r.failures}
	}
	// FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, UNSUPPORTED_ASSIGNOR,
	// GROUP/TOPIC_AUTHORIZATION_FAILED, INVALID_REGULAR_EXPRESSION, INVALID_REQUEST,
	// GROUP_ID_NOT_FOUND (a classic group of that name), UNSUPPORTED_VERSION and any other
	// error Kafka does not mark retriable: sending again would get the same answer.
	return r.die(r.wrap(err))
}

// fence: the coordinator no longer counts the member in (unknownID: it does not know the
// ID at all). What the member owns may be another member's already, so it is lost, not
// revoked: dropped without a commit. Then the member joins again with epoch 0 — with a new
// ID if the coordinator forgot the old one. A revocation the driver is carrying out is
// let finish first (its commit carries the old epoch and is refused).
func (r *reconciler) fence(err error, unknownID bool) reconcileStep {
	if unknownID {
		err = &fenceError{err: err, newID: true}
	} else {
		err = &fenceError{err: err}
	}
	if r.state == reconcileRevoking {
		r.fenced = err
		return reconcileStep{}
	}
	if r.leaving {
		// The member was on its way out; the coordinator has already let it go.
		lost := r.named(r.owned)
		r.owned, r.state = nil, reconcileLeft
		return reconcileStep{Lost: lost, Left: true}
	}
	return r.lose(err)
}

// fenceError records why a member was fenced and whether it needs a new ID.
type fenceError struct {
	err   error
	newID bool
}

func (e *fenceError) Error() string { return e.err.Error() }
func (e *fenceError) Unwrap() error { return e.err }

func (r *reconciler) lose(err error) reconcileStep {
	r.fenced = err
	r.target, r.revoking = nil, nil
	if len(r.owned) == 0 {
		r.rejoin()
		return reconcileStep{}
	}
	r.state = reconcileLosing
	return reconcileStep{Lost: r.named(r.owned)}
}

// lost: the driver has dropped what step.Lost named. The member joins again.
func (r *reconciler) lost() reconcileStep {
	if r.state == reconcileAway {
		r.owned, r.awayDrop = nil, false // the leave heartbeat may go
		return reconcileStep{}
	}
	if r.state != reconcileLosing {
		return reconcileStep{}
	}
	r.owned = nil
	r.rejoin()
	if r.leaving {
		r.state = reconcileLeft
		return reconcileStep{Left: true}
	}
	return reconcileStep{}
}

func (r *reconciler) rejoin() {
	var fe *fenceError
	if errors.As(r.fenced, &fe) && fe.newID {
		r.memberID = r.newID()
	}
	r.state, r.fenced = reconcileStable, nil
	r.epoch, r.joined, r.full = epochJoin, false, true
	r.owned, r.acked, r.target, r.revoking = nil, nil, nil, nil
}

// revoked: the driver has given up what step.Revoke named.
func (r *reconciler) revoked() reconcileStep {
	if r.state != reconcileRevoking {
		return reconcileStep{}
	}
	r.owned = subtractParts(r.owned, r.revoking)
	r.revoking, r.state = nil, reconcileStable
	if r.fenced != nil {
		if r.leaving {
			lost := r.named(r.owned)
			r.owned, r.state = nil, reconcileLeft
			return reconcileStep{Lost: lost, Left: true}
		}
		return r.lose(r.fenced)
	}
	if r.leaving {
		return r.startLeave()
	}
	return r.reconcile()
}

// resolved takes topic names learnt from metadata. The request is answered: an ID still
// without a name is asked for again at once (the driver's metadata client spaces its
// refreshes), so a topic the metadata does not show yet waits, and is not dropped.
func (r *reconciler) resolved(names map[codec.UUID]string) reconcileStep {
	for id, name := range names {
		if name != "" {
			r.names[id] = name
		}
	}
	clear(r.asked)
	if r.state != reconcileStable || r.leaving {
		return reconcileStep{}
	}
	return r.reconcile()
}

// expired: no heartbeat has succeeded for the session timeout, so the coordinator has
// likely given the member's partitions to others. They are lost, and the member joins
// again with the same ID; a heartbeat still in flight is forgotten (its answer, if it ever
// comes, is dropped by answered).
func (r *reconciler) expired() reconcileStep {
	if r.state == reconcileDead || r.state == reconcileLeft || r.state == reconcileLosing || r.state == reconcileAway {
		return reconcileStep{}
	}
	r.inflight, r.sentOwned, r.full = nil, nil, true
	return r.fence(errSessionExpired, false)
}

// sessionBound reports whether the member holds partitions on the strength of its
// session, so that a session without a successful heartbeat loses them (expired): in the
// group and owning some, not already losing them, away or gone, and not already fenced
// (a revocation under way when the session ran out finishes first, then they are lost).
// The member actor's session timer runs only while it does: otherwise the timer, once
// past, would wake the actor again at once, for nothing to do.
func (r *reconciler) sessionBound() bool {
	switch r.state {
	case reconcileDead, reconcileLeft, reconcileLosing, reconcileAway:
		return false
	}
	return r.joined && len(r.owned) > 0 && r.fenced == nil
}

// errSessionExpired is why a member whose heartbeats all failed for the session timeout
// lost its partitions.
var errSessionExpired = errors.New("group: no heartbeat succeeded within the session timeout")

// leave: the member is closing. It gives up what it owns (revoked: committed first) and
// then sends the leave heartbeat, epoch -1, or -2 for a static member so the coordinator
// keeps its assignment for it. A member that never joined just stops.
func (r *reconciler) leave() reconcileStep {
	if r.leaving || r.state == reconcileDead || r.state == reconcileLeft {
		return reconcileStep{}
	}
	r.leaving = true
	switch {
	case r.state == reconcileAway:
		if r.inflight != nil || r.awayLeave {
			return reconcileStep{} // the leave heartbeat's answer ends it
		}
		r.state = reconcileLeft
		return reconcileStep{Left: true}
	case r.state == reconcileRevoking || r.state == reconcileLosing || r.fenced != nil:
		return reconcileStep{} // revoked or lost goes on
	case r.inflight != nil:
		return reconcileStep{} // answered or failed goes on
	}
	return r.startLeave()
}

// leaveAfterError: a heartbeat sent before leave failed; leaving is best effort, so the
// member goes on to its leave heartbeat (after a revocation in hand, if any).
func (r *reconciler) leaveAfterError() reconcileStep {
	if r.state != reconcileStable {
		return reconcileStep{}
	}
	return r.startLeave()
}

func (r *reconciler) startLeave() reconcileStep {
	if !r.joined || r.epoch == epochJoin {
		lost := r.named(r.owned)
		r.owned, r.state = nil, reconcileLeft
		return reconcileStep{Lost: lost, Left: true}
	}
	if len(r.owned) > 0 {
		r.revoking, r.state = cloneParts(r.owned), reconcileRevoking
		return reconcileStep{Revoke: r.named(r.revoking)}
	}
	r.leaveReady = true
	return reconcileStep{}
}

// reconcile moves what the member owns towards the target: first revoke what the target
// no longer holds; once that is done (revoked), take what it adds.
func (r *reconciler) reconcile() reconcileStep {
	if r.state != reconcileStable || r.target == nil {
		return reconcileStep{}
	}
	var st reconcileStep
	want := map[codec.UUID][]int32{}
	for id, ps := range r.target {
		if _, ok := r.names[id]; ok {
			want[id] = ps
		} else if !r.asked[id] {
			r.asked[id] = true
			st.Resolve = append(st.Resolve, id)
		}
	}
	slices.SortFunc(st.Resolve, func(a, b codec.UUID) int { return compareUUIDs(a, b) })
	if gone := subtractParts(r.owned, want); len(gone) > 0 {
		r.revoking, r.state = gone, reconcileRevoking
		st.Revoke = r.named(gone)
		return st
	}
	if added := subtractParts(want, r.owned); len(added) > 0 {
		r.owned = unionParts(r.owned, added)
		st.Assign = r.named(added)
	}
	return st
}

func (r *reconciler) die(err error) reconcileStep {
	lost := r.named(r.owned)
	r.owned, r.revoking, r.target = nil, nil, nil
	r.state, r.err, r.inflight = reconcileDead, err, nil
	return reconcileStep{Lost: lost, Fatal: err}
}

func (r *reconciler) wrap(err error) error {
	return fmt.Errorf("group %q: consumer group heartbeat: %w", r.group, err)
}

// named turns a set of partitions by topic ID into one by name, sorted by name. Every ID
// in a set the member owns has a name.
func (r *reconciler) named(set map[codec.UUID][]int32) []TopicPartitions {
	if len(set) == 0 {
		return nil
	}
	out := make([]TopicPartitions, 0, len(set))
	for id, ps := range set {
		out = append(out, TopicPartitions{Topic: r.names[id], Partitions: slices.Clone(ps)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

func strPtr(s string) *string { return &s }

// randomMemberID is a fresh member ID: a random (version 4) UUID written as Kafka writes
// its Uuid, 22 characters of unpadded URL-safe base64 — what the Java client sends since
// Kafka 4.0 (KIP-1082), where the member, not the coordinator, makes its ID.
func randomMemberID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // crypto/rand.Read never fails (it crashes the program instead)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return base64.RawURLEncoding.EncodeToString(u[:])
}
