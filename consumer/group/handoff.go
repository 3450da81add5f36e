package group

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

type handoffKind uint8

const (
	handAssign   handoffKind = iota // take parts: committed offsets, OnAssigned, then the reader
	handRevoke                      // give parts up: stop, wait for the user, OnRevoked, commit
	handLost                        // drop parts: stop, OnLost, no commit
	handLostAll                     // drop everything (the member actor restarted)
	handFatal                       // drop everything and close the reader: Poll reports the end
	handCloseAll                    // Close: give everything up, as a revocation
	handCommit                      // auto-commit: commit what was finished
)

// handoffMsg is what the hand-off actor receives, from the member actor (assign,
// revoke, lost) and from Close.
type handoffMsg struct {
	kind  handoffKind
	parts []TopicPartitions
	info  *memberInfo // the generation the partitions belong to (revoke: its commit's)
	reply actor.Reply[struct{}]
	// A commit asked by CommitAsync: its context, and who hears the outcome.
	ctx  context.Context
	done func(CommitResult)
	// auto marks an automatic commit. epoch is the loss epoch an assignment or an
	// automatic commit was sent in: a loss since voids it (Member.declareLoss).
	auto  bool
	epoch uint64
	// by, if set, is when a revocation must be done: past it, the coordinator may have
	// finished the rebalance without the member, and the partitions are lost instead.
	by time.Time
	// seq is an assignment's sequence number, and a revocation's: the last assignment
	// sent before it, which it overtakes for the partitions it names (Member.overtake).
	seq uint64
}

func (h handoffMsg) fail(err error) { h.reply.Send(struct{}{}, err) }

// answer reports a commit's outcome to CommitAsync's callback, if any.
func (h handoffMsg) answer(r CommitResult) {
	if h.done != nil {
		h.done(r)
	}
}

// handoff moves partitions between the group and the member's consumer.Reader, one
// message at a time, in order, and runs the user's callbacks on its goroutine: the
// callbacks therefore never run concurrently with each other, and always in the order
// the coordinator decided. It may wait (for the coordinator's committed offsets, for
// the user to come back from the batches in hand, for a callback); the member actor,
// which heartbeats, never waits for it.
//
// Owner: the member's supervisor ("group <id>"). The member actor sends it assignments,
// revocations and losses; Close sends it the final revocation and waits for the answer.
type handoff struct {
	m *Member
}

// Run is the hand-off's loop: one message at a time (actor.Receive), then, once Close
// has stopped it, the end of whatever the member still owns. Close normally gives
// everything up through the hand-off first (handCloseAll: OnRevoked, a commit); when it
// runs out of time before that is done (the hand-off held up by a commit or a lookup the
// coordinator does not answer, or the revocation cut short), what the member still owns
// is lost here (OnLost, nothing committed), on the hand-off's goroutine as every
// callback, so that no partition outlives a Close that returned without its callback.
func (h *handoff) Run(ctx context.Context, in *actor.Inbox[handoffMsg]) error {
	err := actor.Receive(h.handle).Run(ctx, in)
	h.closed(ctx)
	return err
}

// closed loses what the member still owns once Close has stopped the hand-off. ctx is
// the hand-off's, done when Close ran out of time: the reader gives the partitions up at
// once all the same, and OnLost sees it done.
func (h *handoff) closed(ctx context.Context) {
	m := h.m
	m.mu.Lock()
	closing := m.closing
	m.mu.Unlock()
	if !closing {
		return // a failure: the supervisor restarts the hand-off, which goes on
	}
	if left := m.Assigned(); len(left) > 0 {
		m.log.Warn("group member: Close ended before these partitions were given up; they are lost (nothing of theirs is committed)", "partitions", left)
		h.lose(ctx, left)
	}
}

func (h *handoff) handle(ctx context.Context, msg handoffMsg) error {
	m := h.m
	switch msg.kind {
	case handAssign:
		taken := false
		if actx, done, ok := m.startVoidable(ctx, msg.epoch); ok {
			taken = h.assign(actx, abouts(msg.parts), msg.seq)
			done()
		}
		if !taken && ctx.Err() == nil && m.failure() == nil {
			// A loss came first (Member.declareLoss), or the member has no identity to
			// fetch the offsets as: the assignment is over.
			m.log.Info("group member: the assignment ended before its committed offsets came; its partitions are not taken", "partitions", abouts(msg.parts))
		}
		m.joinOnce.Do(func() { close(m.joined) })
	case handRevoke:
		h.revoke(ctx, abouts(msg.parts), msg.info, msg.by)
		m.overtook(msg.seq)
		_ = m.member.TrySend(memberMsg{revoked: true})
	case handLost:
		h.lose(ctx, abouts(msg.parts))
	case handLostAll:
		h.lose(ctx, m.Assigned())
	case handFatal:
		h.lose(ctx, m.Assigned())
		_ = m.r.Close(ctx) // Poll returns the member's error from now on
	case handCloseAll:
		h.revoke(ctx, m.Assigned(), m.info.Load(), time.Time{})
		msg.reply.Send(struct{}{}, nil)
	case handCommit:
		// Here, in order with the revocations, so that an automatic commit never races
		// one: a partition given up is no longer owned, and is not committed again.
		if msg.auto {
			m.mu.Lock()
			m.autoQueued = false
			m.mu.Unlock()
			actx, done, ok := m.startVoidable(ctx, msg.epoch)
			if !ok {
				break // a loss came after it was queued
			}
			defer done()
			ctx = actx
		}
		cctx, cancel := context.WithTimeout(ctx, m.ccfg.RequestTimeout)
		if msg.ctx != nil {
			stop := context.AfterFunc(msg.ctx, cancel)
			defer stop()
		}
		res := m.commit(cctx, nil, msg.info)
		cancel()
		what := "automatic commit"
		if msg.ctx != nil {
			what = "asynchronous commit"
		}
		if res.Err != nil {
			m.log.Warn("group member: "+what+" failed", "err", res.Err)
		} else {
			m.log.Debug("group member: "+what+" done", "partitions", len(res.Offsets))
		}
		msg.answer(res)
	}
	return nil
}

func abouts(parts []TopicPartitions) []consumer.About {
	var out []consumer.About
	for _, tp := range parts {
		for _, p := range tp.Partitions {
			out = append(out, consumer.About{Topic: tp.Topic, Partition: p})
		}
	}
	return out
}

// assign takes parts, of the assignment numbered seq: it looks up their committed
// offsets, runs OnAssigned, and hands them to the reader, each from its committed offset
// or, without one, from where the consumer's reset policy says.
//
// A revocation the member actor requested after the assignment was sent overtakes it for
// the partitions it names (Member.overtake): those not yet announced are dropped (no
// OnAssigned, never read: the revocation then finds nothing of theirs to give up), and the
// lookup of committed offsets is cancelled once nothing is left to take; those announced
// already are owned but not added to the reader, or taken out of it again at once if the
// revocation came while they were being added, so that the revocation behind this
// assignment gives them up (OnRevoked) without their having been fetched for it. A loss
// voids the whole assignment (startVoidable: ctx is cancelled).
func (h *handoff) assign(ctx context.Context, parts []consumer.About, seq uint64) (taken bool) {
	m := h.m
	m.mu.Lock()
	closing := m.closing
	all := len(parts)
	parts = m.remainingLocked(parts, seq)
	if all == 0 || closing {
		m.mu.Unlock()
		return true // nothing to take, or Close gave everything up already
	}
	if len(parts) == 0 {
		m.mu.Unlock()
		h.overtaken(all)
		return true
	}
	tctx, void := context.WithCancel(ctx)
	m.taking, m.takingSeq, m.takingVoid = parts, seq, void
	m.mu.Unlock()
	m.log.Debug(msgAssignmentReceived, "partitions", parts)
	defer func() {
		m.mu.Lock()
		m.taking, m.takingVoid = nil, nil
		m.mu.Unlock()
		void()
	}()
	offs, ok := h.committedOffsets(tctx, parts)
	if ctx.Err() == nil && tctx.Err() != nil {
		h.overtaken(all)
		return true
	}
	if !ok || ctx.Err() != nil || m.failure() != nil {
		return false
	}
	if parts = m.remaining(parts, seq); len(parts) == 0 {
		h.overtaken(all)
		return true
	}
	h.callback(ctx, "OnAssigned", m.cfg.OnAssigned, parts)
	var fresh []consumer.About
	m.mu.Lock()
	for _, a := range parts {
		m.token++
		m.owned[a] = m.token
		tp := cluster.TopicPartition{Topic: a.Topic, Partition: a.Partition}
		m.l.forget(tp)
		delete(m.revoking, a)
		m.noteChangeLocked()
		if c, ok := offs[a]; ok {
			m.l.known(tp, c.offset)
		} else if m.ccfg.OffsetReset == consumer.ResetNone {
			m.pending = append(m.pending, &consumer.Batch{Topic: a.Topic, Partition: a.Partition,
				Err: fmt.Errorf("%w: %s", ErrNoCommittedOffset, a)})
		} else {
			fresh = append(fresh, a)
		}
	}
	// Owned, and announced: what a revocation overtook meanwhile is not read (the
	// revocation behind this assignment gives it up).
	fresh = m.remainingLocked(fresh, seq)
	// Adding waits for the topics' metadata when the client lacks it (where they start is
	// looked up afterwards, asynchronously, by the reader's dispatcher); a revocation or a
	// loss cancels that wait (Member.overtake, Member.declareLoss). An add that failed
	// because of it is made again without the cancelled context (the wait is all it
	// cancels), for what no revocation has overtaken since.
	actx, cancel := context.WithCancel(ctx)
	m.adding = cancel
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.adding = nil
		m.mu.Unlock()
		cancel()
	}()
	add := func(from consumer.Offset, parts ...consumer.About) error {
		err := m.r.Add(actx, from, parts...)
		if err != nil && actx.Err() != nil && ctx.Err() == nil {
			if parts = m.remaining(parts, seq); len(parts) == 0 {
				return nil
			}
			err = m.r.Add(ctx, from, parts...)
		}
		return err
	}
	// With the epoch committed with each: the reader checks with the leader that the log
	// was not truncated under it since (KIP-320), for all of them together.
	starts := make(map[consumer.About]consumer.Offset, len(offs))
	for _, a := range m.remaining(parts, seq) {
		if c, ok := offs[a]; ok {
			starts[a] = consumer.AtEpoch(c.offset, c.epoch)
		}
	}
	if len(starts) > 0 {
		err := m.r.AddOffsets(actx, starts)
		if err != nil && actx.Err() != nil && ctx.Err() == nil {
			for _, a := range slices.Collect(maps.Keys(starts)) {
				if len(m.remaining([]consumer.About{a}, seq)) == 0 {
					delete(starts, a)
				}
			}
			err = m.r.AddOffsets(ctx, starts)
		}
		if err != nil {
			for a, from := range starts { // one at a time, to say which cannot be read
				h.added(add(from, a), a)
			}
		}
	}
	from := consumer.Oldest()
	if m.ccfg.OffsetReset == consumer.ResetLatest {
		from = consumer.Newest()
	}
	if len(fresh) > 0 && add(from, fresh...) != nil {
		for _, a := range fresh { // one at a time, to say which cannot be read
			h.added(add(from, a), a)
		}
	}
	// Overtaken while they were being added: out of the reader again before anything
	// else (the revocation behind this assignment gives them up).
	m.mu.Lock()
	var late []consumer.About
	for _, a := range parts {
		if at, ok := m.overtaken[a]; ok && at >= seq {
			late = append(late, a)
		}
	}
	m.mu.Unlock()
	if len(late) > 0 {
		m.log.Debug("group member: partitions revoked while they were being added; out of the reader again", "partitions", late)
		if err := h.remove(ctx, late); err != nil {
			m.log.Warn("group member: stopping revoked partitions", "err", err)
		}
	}
	return true
}

// overtaken logs an assignment of n partitions that a revocation overtook whole.
func (h *handoff) overtaken(n int) {
	h.m.log.Info("group member: a revocation came before the assignment was taken; its partitions are not taken", "partitions", n)
}

// added reports a partition the reader could not take.
func (h *handoff) added(err error, a consumer.About) {
	if err != nil && !errors.Is(err, consumer.ErrAlreadyConsuming) {
		h.m.log.Error("group member: cannot read an assigned partition", "partition", a, "err", err)
	}
}

// committedOffsets asks the coordinator (the cluster client finds it, and retries when
// it moves or loads), again after failures with backoff, until it answers or ctx ends.
// A partition without a committed offset is left out. It asks for stable offsets
// (RequireStable: a transactional commit still pending is waited out, not read past).
//
// A KIP-848 member asks as itself (OffsetFetch v9: its member ID and epoch), as the Java
// client does. An answer of STALE_MEMBER_EPOCH or UNKNOWN_MEMBER_ID (the member's epoch
// moved on, or the coordinator no longer knows it) is asked again with the member's
// current ID and epoch while it still has them; once the member has none (it was fenced
// or its session ran out: a loss of these partitions follows), the assignment is over
// and ok is false: the partitions are not taken. A classic member asks as an admin does,
// as Java's classic consumer.
func (h *handoff) committedOffsets(ctx context.Context, parts []consumer.About) (_ map[consumer.About]committed, ok bool) {
	m := h.m
	tps := make([]cluster.TopicPartition, len(parts))
	for i, a := range parts {
		tps[i] = cluster.TopicPartition{Topic: a.Topic, Partition: a.Partition}
	}
	for failures := 0; ; failures++ {
		if failures > 0 {
			t := time.NewTimer(m.cfg.Backoff.Delay(failures, rand.Float64()))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, false
			}
		}
		var as *cluster.GroupMember
		if m.cfg.Protocol == Consumer {
			info := m.info.Load()
			if info.memberID == "" || info.generation < 0 {
				return nil, false // the hand-off says the assignment ended
			}
			as = &cluster.GroupMember{MemberID: info.memberID, Generation: info.generation}
		}
		rctx, cancel := context.WithTimeout(ctx, m.ccfg.RequestTimeout)
		got, err := m.client.FetchOffsets(rctx, cluster.ReadCommitted, m.cfg.Group, as, tps...)
		cancel()
		out := make(map[consumer.About]committed, len(got))
		for _, g := range got {
			if err == nil {
				err = g.Err
			}
			if g.Err == nil && g.Offset >= 0 {
				out[consumer.About{Topic: g.Topic, Partition: g.Partition}] = committed{g.Offset, g.LeaderEpoch}
			}
		}
		if err == nil {
			return out, true
		}
		if ctx.Err() != nil {
			return nil, false
		}
		if errors.Is(err, errcode.GroupAuthorizationFailed) || errors.Is(err, errcode.TopicAuthorizationFailed) {
			// Asking again will not help: the member cannot know where to start.
			m.fail(fmt.Errorf("group %q: fetching committed offsets: %w", m.cfg.Group, err))
			return nil, false
		}
		if as != nil && (errors.Is(err, errcode.StaleMemberEpoch) || errors.Is(err, errcode.UnknownMemberID)) {
			m.log.Debug("group member: committed offsets refused to this member epoch; asking again with the member's current one",
				"member", as.MemberID, "epoch", as.Generation, "err", err)
			continue
		}
		m.log.Warn("group member: fetching committed offsets failed; trying again", "err", err)
	}
}

// revoke gives parts up: it stops fetching them, waits (up to ProcessingTime, or until
// by if set) until the user is back from the batches in hand, runs OnRevoked, commits
// what was finished (as the member of info's generation), and only then lets them go. A
// user who does not come back in time loses them instead: nothing is committed for them.
// by is the coordinator's deadline for the member's rejoin, as far as the member can
// tell: past it, another member may own the partitions already, and OnRevoked would
// run after that member's OnAssigned.
func (h *handoff) revoke(ctx context.Context, parts []consumer.About, info *memberInfo, by time.Time) {
	m := h.m
	parts = h.ownedOf(parts)
	if len(parts) == 0 {
		return
	}
	m.mu.Lock()
	for _, a := range parts {
		m.revoking[a] = true
	}
	m.mu.Unlock()
	if err := h.remove(ctx, parts); err != nil {
		m.log.Warn("group member: stopping revoked partitions", "err", err)
	}
	m.mu.Lock()
	inHand, back := m.inHand, m.back
	m.mu.Unlock()
	wait := m.cfg.ProcessingTime
	if !by.IsZero() {
		wait = time.Until(by)
	}
	late := false
	if inHand {
		m.log.Debug("group member: revocation waits for the user to come back from the batches in hand", "partitions", parts)
		t := time.NewTimer(max(wait, 0))
		select {
		case <-back:
			t.Stop()
		case <-t.C:
			late = true
		case <-ctx.Done():
			t.Stop()
		}
	}
	if ctx.Err() != nil {
		// Close ran out of time: the revocation cannot be done cleanly (OnRevoked with
		// a commit that cannot go through), so the partitions are lost.
		m.log.Warn("group member: Close ended before the revocation was done; the revoked partitions are lost", "partitions", parts)
		h.lose(ctx, parts)
		return
	}
	if late || (!by.IsZero() && !time.Now().Before(by)) {
		m.log.Warn("group member: the revocation was not done within the rebalance timeout (ProcessingTime, counted from before the rebalance began); the revoked partitions are lost",
			"processing_time", m.cfg.ProcessingTime)
		h.lose(ctx, parts)
		return
	}
	h.callback(ctx, "OnRevoked", m.cfg.OnRevoked, parts)
	if err := m.commit(ctx, parts, info).Err; err != nil {
		// At-least-once: the next owner reads them again from the last commit.
		m.log.Warn("group member: commit on revocation failed", "err", err)
	}
	h.forget(parts)
	m.log.Debug(msgReleased, "partitions", parts)
}

// msgAssignmentReceived is the Debug record of an assignment the hand-off starts to take
// (before it fetches the committed offsets and runs OnAssigned): bench/cmd/troupe times
// the assignment half of a rebalance from it.
const msgAssignmentReceived = "group member: assignment received"

// msgReleased is the Debug record of partitions the hand-off has released after a
// revocation (OnRevoked returned, the commit on revocation answered, the partitions
// forgotten): bench/cmd/troupe times the revoke half of a rebalance by it.
const msgReleased = "group member: revoked partitions released"

// lose drops parts without committing anything for them and runs OnLost.
func (h *handoff) lose(ctx context.Context, parts []consumer.About) {
	m := h.m
	parts = h.ownedOf(parts)
	if len(parts) == 0 {
		return
	}
	h.forget(parts)
	if err := h.remove(ctx, parts); err != nil {
		m.log.Warn("group member: stopping lost partitions", "err", err)
	}
	h.callback(ctx, "OnLost", m.cfg.OnLost, parts)
}

// remove takes parts out of the reader, waiting for their subscriptions to end at most
// ProcessingTime (the rebalance's own bound): past it they are no longer returned by Poll
// all the same, and a fetch still in flight for them is dropped when it lands.
func (h *handoff) remove(ctx context.Context, parts []consumer.About) error {
	ctx, cancel := context.WithTimeout(ctx, h.m.cfg.ProcessingTime)
	defer cancel()
	return h.m.r.Remove(ctx, parts...)
}

// callback runs one of the user's callbacks. A callback that panics is logged, with its
// stack, and the hand-off goes on: a partition given up halfway would wedge the group's
// rebalance (the member could neither rejoin nor read), so the panic is not allowed to
// stop the actor, as net/http does not let a handler's panic stop its server.
func (h *handoff) callback(ctx context.Context, name string, f func(context.Context, []consumer.About), parts []consumer.About) {
	if f == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			h.m.log.Error("group member: a callback panicked; the hand-off goes on", "callback", name,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	f(ctx, parts)
}

// ownedOf keeps the partitions of parts the member took: an assignment skipped (Close
// came first) or cut short has none to give up, and no callback hears of them.
func (h *handoff) ownedOf(parts []consumer.About) []consumer.About {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	out := parts[:0:0]
	for _, a := range parts {
		if m.owned[a] != 0 {
			out = append(out, a)
		}
	}
	return out
}

func (h *handoff) forget(parts []consumer.About) {
	m := h.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range parts {
		delete(m.owned, a)
		m.noteChangeLocked()
		m.l.forget(cluster.TopicPartition{Topic: a.Topic, Partition: a.Partition})
		delete(m.revoking, a)
	}
}
