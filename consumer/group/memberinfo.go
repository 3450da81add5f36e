package group

import (
	"context"
	"errors"
	"time"

	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// What the two protocols' member actors share beyond runMember: publishing the member's
// identity for commits (and waiting for it to change), deciding as whom a refused commit
// is sent again, the processing-time check, and the automatic commits.

// setInfo publishes what commits need, and wakes the commits waiting for the member ID
// or generation to change (waitInfo).
func (m *Member) setInfo(info *memberInfo) {
	old := m.info.Swap(info)
	if old != nil && old.memberID == info.memberID && old.generation == info.generation {
		return
	}
	m.infoMu.Lock()
	defer m.infoMu.Unlock()
	if m.infoCh != nil {
		close(m.infoCh)
		m.infoCh = nil
	}
}

// waitInfo waits, at most d and within ctx, for the published member ID or generation to
// differ from was's, and returns what is published then.
func (m *Member) waitInfo(ctx context.Context, was *memberInfo, d time.Duration) *memberInfo {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		m.infoMu.Lock()
		if m.infoCh == nil {
			m.infoCh = make(chan struct{})
		}
		ch := m.infoCh
		m.infoMu.Unlock()
		cur := m.info.Load() // after taking ch: a change from now on closes it
		if cur.memberID != was.memberID || cur.generation != was.generation {
			return cur
		}
		select {
		case <-ch:
		case <-t.C:
			return m.info.Load()
		case <-ctx.Done():
			return m.info.Load()
		}
	}
}

// sendAgainAs says as whom to send again what a commit sent as info's member had refused
// because the generation (or KIP-848 member epoch) moved on — the member's current
// generation — or nil when nothing is sent again: nothing was refused so, the member is
// no longer in the group, or (classic) its generation has not moved, so that the same
// refusal would come back. A KIP-848 member refused with STALE_MEMBER_EPOCH while its
// epoch has not moved as far as it knows waits, at most two heartbeat intervals and
// within ctx, for the answer to its next heartbeat, and sends again with the epoch it
// has then, as the Java client retries such a commit with its latest epoch. The wait
// holds the member's commit lock (commits stay one at a time, so none moves an offset
// backwards): a revocation's commit waits behind it, at most as long. The coordinator
// refuses an epoch only once it has answered a heartbeat with a newer one, so the wait
// normally ends as soon as that answer is read.
func (m *Member) sendAgainAs(ctx context.Context, info *memberInfo, results []cluster.OffsetCommitResult) *memberInfo {
	var moved, stale bool
	for _, r := range results {
		moved = moved || generationMoved(r.Err)
		stale = stale || errors.Is(r.Err, errcode.StaleMemberEpoch)
	}
	if !moved {
		return nil
	}
	cur := m.info.Load()
	same := cur.memberID == info.memberID && cur.generation == info.generation
	if same && stale && m.cfg.Protocol == Consumer {
		cur = m.waitInfo(ctx, info, 2*max(info.interval, m.cfg.HeartbeatInterval))
		same = false // sent again with the current epoch, moved on or not
	}
	if same || cur.memberID == "" || cur.generation < 0 || ctx.Err() != nil {
		return nil
	}
	return cur
}

// pollOverrun reports whether, at now, the user has overrun ProcessingTime (expire),
// and if so says why the member leaves (a warning, and ProcessingTimeExceeded to the
// consumer's OnEvent): both protocols' member actors then make it leave, its partitions
// lost, until the user's next Poll.
func (m *Member) pollOverrun(now time.Time, memberID string) bool {
	if !m.expire(now) {
		return false
	}
	lost := m.Assigned()
	m.log.Warn("group member: the user did not poll within ProcessingTime; leaving the group, its partitions are lost (the next Poll rejoins)",
		"member", memberID, "processing_time", m.cfg.ProcessingTime, "static", m.cfg.InstanceID != "", "protocol", m.cfg.Protocol, "partitions", len(lost))
	if m.ccfg.OnEvent != nil {
		m.ccfg.OnEvent(ProcessingTimeExceeded{Group: m.cfg.Group, MemberID: memberID, Protocol: m.cfg.Protocol,
			Static: m.cfg.InstanceID != "", ProcessingTime: m.cfg.ProcessingTime, Lost: lost})
	}
	return true
}

// autoCommit has the hand-off commit what was finished, as info's member: both
// protocols' member actors call it every AutoCommitInterval while the member is in the
// group. The hand-off commits in order with revocations, so an automatic commit never
// races one, and the member actor never waits for it.
func (m *Member) autoCommit(info *memberInfo) {
	// One queued at a time: a slow coordinator must not make them pile up in front of a
	// loss (declareLoss voids the one queued and cancels the one being made).
	if epoch, ok := m.queueAutoCommit(); ok {
		_ = m.hand.TrySend(handoffMsg{kind: handCommit, info: info, auto: true, epoch: epoch})
	}
}

// stopFetching takes every partition the member owns out of its reader at once: both
// protocols' member actors call it when the member's session has run out. The loss
// itself (OnLost, in order with the other callbacks) is the hand-off's, and may wait
// behind what the hand-off is doing — a revocation waiting for its user, which a KIP-848
// member lets finish before it loses the rest — but from the session's end no fetch
// names these partitions and Poll returns nothing of theirs (Reader.Remove's guarantee;
// a fetch already on its way may still be answered, and is dropped). It does not wait
// for their subscriptions to end (the member actor never waits): Remove is given a
// context that is done already, and the partitions are out of the reader either way.
func (m *Member) stopFetching() {
	parts := m.Assigned()
	if len(parts) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = m.r.Remove(ctx, parts...)
}

// loseParts hands the hand-off a loss of parts (OnLost, no commit), for either
// protocol's member actor: the loss is declared first, so that an assignment or a lookup
// still under way is voided rather than taken.
func (m *Member) loseParts(memberID string, parts []TopicPartitions) {
	m.log.Info("group member: partitions lost", "member", memberID, "partitions", parts)
	m.declareLoss()
	_ = m.hand.TrySend(handoffMsg{kind: handLost, parts: parts})
}
