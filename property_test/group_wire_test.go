package property_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/troupe-go/troupe/internal/faults"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memberWire is what one member sent and heard, as a tap nearest its client saw it: the
// evidence a3 is checked on.
type memberWire struct {
	// proofs are the times the member sent the requests that then proved it a member
	// of the group: heartbeats answered without an error (REBALANCE_IN_PROGRESS too, for
	// the classic protocol: the coordinator still counts the member in), JoinGroup and
	// SyncGroup answered without an error (the coordinator takes either as a heartbeat;
	// a cooperative member reads on through a join); KIP-848's heartbeats answered
	// without an error.
	proofs []time.Time
	// fetches are the fetch requests it sent: when, and which partitions they fetched
	// (fetch sessions included: an incremental fetch fetches its session's partitions).
	fetches []fetchSent
	// commits are its offset commits: when each was sent and which partitions the
	// coordinator accepted.
	commits  []commitSeen
	sessions map[int64]map[int32]bool // per connection: the partitions of its fetch session
}

type fetchSent struct {
	at    time.Time
	parts []int32
}

type commitSeen struct {
	at       time.Time
	accepted []int32
	all      []int32
}

// wire records one exchange of member's (the tap calls it for each request as it is
// written, and again with its response). A crashed member's are ignored: nothing it
// writes after its crash reaches a broker.
func (h *groupHistory) wire(member string, ex faults.Exchange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch r := ex.Req.(type) {
	case *kmsg.JoinGroupRequest:
		h.noteIDLocked(member, r.MemberID)
	}
	if resp, ok := ex.Resp.(*kmsg.JoinGroupResponse); ok {
		h.noteIDLocked(member, resp.MemberID)
	}
	if h.crashed[member] {
		return
	}
	w := h.wires[member]
	if w == nil {
		w = &memberWire{sessions: make(map[int64]map[int32]bool)}
		h.wires[member] = w
	}
	if ex.Resp == nil {
		if req, ok := ex.Req.(*kmsg.FetchRequest); ok {
			w.fetched(ex.Conn, ex.Sent, req)
		}
		return
	}
	switch resp := ex.Resp.(type) {
	case *kmsg.HeartbeatResponse:
		if resp.ErrorCode == 0 || resp.ErrorCode == kerr.RebalanceInProgress.Code {
			w.proofs = append(w.proofs, ex.Sent)
		}
	case *kmsg.JoinGroupResponse:
		if resp.ErrorCode == 0 {
			w.proofs = append(w.proofs, ex.Sent)
		}
	case *kmsg.SyncGroupResponse:
		if resp.ErrorCode == 0 {
			w.proofs = append(w.proofs, ex.Sent)
		}
	case *kmsg.ConsumerGroupHeartbeatResponse:
		if resp.ErrorCode == 0 {
			w.proofs = append(w.proofs, ex.Sent)
		}
	case *kmsg.FetchResponse:
		if resp.ErrorCode != 0 {
			delete(w.sessions, ex.Conn) // the next fetch is a full one
		}
	case *kmsg.OffsetCommitResponse:
		c := commitSeen{at: ex.Sent}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				c.all = append(c.all, p.Partition)
				if p.ErrorCode == 0 {
					c.accepted = append(c.accepted, p.Partition)
				}
			}
		}
		w.commits = append(w.commits, c)
	}
}

// fetched notes a fetch request: a full one (session epoch 0, or -1: none) fetches what
// it lists; an incremental one its session's partitions, updated by what it lists and
// what it forgets.
func (w *memberWire) fetched(conn int64, at time.Time, req *kmsg.FetchRequest) {
	set := w.sessions[conn]
	if req.SessionEpoch <= 0 || set == nil {
		set = make(map[int32]bool)
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			set[p.Partition] = true
		}
	}
	for _, t := range req.ForgottenTopics {
		for _, p := range t.Partitions {
			delete(set, p)
		}
	}
	if req.SessionEpoch >= 0 {
		w.sessions[conn] = set
	} else {
		delete(w.sessions, conn)
	}
	if len(set) > 0 {
		parts := make([]int32, 0, len(set))
		for p := range set {
			parts = append(parts, p)
		}
		slices.Sort(parts)
		w.fetches = append(w.fetches, fetchSent{at: at, parts: parts})
	}
}

// lastProof returns the latest proof sent at or before t.
func (w *memberWire) lastProof(t time.Time) (time.Time, bool) {
	var last time.Time
	found := false
	for _, p := range w.proofs {
		if !p.After(t) && (!found || p.After(last)) {
			last, found = p, true
		}
	}
	return last, found
}

// checkSessions checks a3: a member without a successful heartbeat for its session
// timeout (counted from when that heartbeat was sent) has declared its partitions lost
// and stopped fetching them; and the commits it sends after that are refused. slack is
// how long after the session ran out a fetch already on its way may still be sent (the
// reader stopping a partition's fetches).
func (h *groupHistory) checkSessions(session, slack time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for member, w := range h.wires {
		for _, f := range w.fetches {
			last, ok := w.lastProof(f.at)
			if !ok {
				h.violate("a3: %s fetched partitions %v at %v, before any heartbeat of its succeeded", member, f.parts, f.at.Format(time.TimeOnly+".000"))
				continue
			}
			if late := f.at.Sub(last); late > session+slack {
				h.violate("a3: %s fetched partitions %v %v after the last heartbeat of its that succeeded was sent (session timeout %v)", member, f.parts, late, session)
			}
		}
		for _, c := range w.commits {
			if len(c.accepted) == 0 {
				continue
			}
			last, ok := w.lastProof(c.at)
			if !ok || c.at.Sub(last) > session {
				h.violate("a3: a commit %s sent %v after the last heartbeat of its that succeeded was sent (session timeout %v) was accepted for partitions %v", member, fmt.Sprint(c.at.Sub(last)), session, c.accepted)
			}
		}
	}
}

// noteIDLocked records a member ID member used or was given (classic protocol).
func (h *groupHistory) noteIDLocked(member, id string) {
	if id == "" {
		return
	}
	if h.ids[member] == nil {
		h.ids[member] = make(map[string]bool)
	}
	h.ids[member][id] = true
}

// crashedIDs returns the member IDs the crashed members used or were given.
func (h *groupHistory) crashedIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for member := range h.crashed {
		for id := range h.ids[member] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// allIDs returns every member ID any member used or was given.
func (h *groupHistory) allIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ids := range h.ids {
		for id := range ids {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
