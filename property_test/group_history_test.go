package property_test

import (
	"fmt"
	"slices"
	"sync"

	"github.com/troupe-go/troupe/consumer"
)

// groupHistory is what the group check saw: each member's callbacks (with the generation
// or member epoch the member reported in them), the records each member's user took and
// finished, and the committed offsets observed. It is a plain struct behind a mutex: the
// members' hand-off goroutines (callbacks) and pollers write to it, the check reads it
// and checks a1, a2, b, c and e on it.
type groupHistory struct {
	mu sync.Mutex

	// owner is, per partition, the member whose OnAssigned named it last and that has
	// not given it up since (OnRevoked, OnLost, a crash): the callbacks' view.
	owner map[consumer.About]string
	// open are the holdings not ended yet, per member and partition.
	open map[string]map[consumer.About]*holding
	// holdings are every holding, ended or not.
	holdings []*holding
	// overlaps are a2's candidates: a partition assigned to a member while another still
	// held it. Each is decided by how the old holder's holding ends: by OnRevoked (a
	// graceful move: the revoke did not finish before the assignment, a violation), or
	// by OnLost or a crash (not graceful: a3's business, not a2's).
	overlaps map[*holding][]string
	crashed  map[string]bool
	// closedM are the members whose Close has returned: they hold nothing (every holding
	// ended with a callback before Close returned) and run no callback any more.
	closedM map[string]bool

	// taken are, per partition and offset, how many times a user took the record
	// (returned by Poll to a member not crashed); done, how many times a user finished
	// it (took it, then polled again: a user that crashed in between did not process
	// it). finished is, per partition, the offset after the last record finished.
	taken    map[consumer.About]map[int64]int
	done     map[consumer.About]map[int64]int
	finished map[consumer.About]int64
	// committed is, per partition, the last committed offset observed.
	committed map[consumer.About]int64

	// wires are, per member, what it sent and heard (a3).
	wires map[string]*memberWire
	// ids are, per member, the member IDs it used or was given (classic protocol).
	ids map[string]map[string]bool

	violations []string
	changed    chan struct{}
}

// holding is one member's ownership of one partition, from its OnAssigned to its
// OnRevoked or OnLost (or its crash), with the generations (member epochs) the member
// reported then.
type holding struct {
	member   string
	part     consumer.About
	from, to int32 // generation at the start, and at the end (to: at the latest callback)
	end      string
	finished int64 // the offset after the last record its user finished in it
}

func newGroupHistory() *groupHistory {
	return &groupHistory{
		owner:     make(map[consumer.About]string),
		open:      make(map[string]map[consumer.About]*holding),
		overlaps:  make(map[*holding][]string),
		crashed:   make(map[string]bool),
		closedM:   make(map[string]bool),
		taken:     make(map[consumer.About]map[int64]int),
		done:      make(map[consumer.About]map[int64]int),
		finished:  make(map[consumer.About]int64),
		committed: make(map[consumer.About]int64),
		wires:     make(map[string]*memberWire),
		ids:       make(map[string]map[string]bool),
		changed:   make(chan struct{}),
	}
}

func (h *groupHistory) violate(format string, args ...any) {
	h.violations = append(h.violations, fmt.Sprintf(format, args...))
}

// notifyLocked wakes those waiting on Changed.
func (h *groupHistory) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change.
func (h *groupHistory) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// assigned records member's OnAssigned of parts, in generation gen.
func (h *groupHistory) assigned(member string, gen int32, parts []consumer.About) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.notifyLocked()
	if h.crashed[member] {
		return
	}
	if h.closedM[member] {
		h.violate("callbacks: %s assigned %v after its Close returned", member, parts)
		return
	}
	if h.open[member] == nil {
		h.open[member] = make(map[consumer.About]*holding)
	}
	for _, a := range parts {
		if h.open[member][a] != nil {
			h.violate("callbacks: %s assigned %s, which it holds already", member, a)
			continue
		}
		if prev := h.owner[a]; prev != "" {
			old := h.open[prev][a]
			h.overlaps[old] = append(h.overlaps[old], member)
		}
		hd := &holding{member: member, part: a, from: gen, to: gen}
		h.open[member][a] = hd
		h.holdings = append(h.holdings, hd)
		h.owner[a] = member
	}
}

// joined fills in the generation of member's holdings taken before its Join returned
// (recorded with -1), and returns what it holds.
func (h *groupHistory) joined(member string, gen int32) []consumer.About {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []consumer.About
	for a, hd := range h.open[member] {
		if hd.from < 0 {
			hd.from, hd.to = gen, max(hd.to, gen)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, byPartition)
	return out
}

// released records member's OnRevoked ("revoked") or OnLost ("lost") of parts, in
// generation gen.
func (h *groupHistory) released(member, how string, gen int32, parts []consumer.About) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.notifyLocked()
	if h.crashed[member] {
		return
	}
	if h.closedM[member] {
		h.violate("callbacks: %s %s %v after its Close returned", member, how, parts)
		return
	}
	for _, a := range parts {
		hd := h.open[member][a]
		if hd == nil {
			h.violate("callbacks: %s %s %s, which it did not hold", member, how, a)
			continue
		}
		h.endLocked(hd, how, gen)
	}
}

// closed records that member's Close has returned, whether it succeeded or not: every
// holding of the member must have ended with OnRevoked or OnLost by then (a user must
// never believe it still owns partitions after Close), and no callback may come after.
// A holding still open is a violation, and ends here.
func (h *groupHistory) closed(member string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.notifyLocked()
	if h.crashed[member] {
		return
	}
	h.closedM[member] = true
	var held []consumer.About
	for a, hd := range h.open[member] {
		held = append(held, a)
		h.endLocked(hd, "closed", hd.to)
	}
	if len(held) > 0 {
		slices.SortFunc(held, byPartition)
		h.violate("close: %s's Close returned while it still held %v without OnRevoked or OnLost", member, held)
	}
}

// crash ends every holding of member: a crashed process runs nothing more, and its
// partitions are taken from it by the coordinator's session timeout.
func (h *groupHistory) crash(member string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.notifyLocked()
	h.crashed[member] = true
	for _, hd := range h.open[member] {
		h.endLocked(hd, "crashed", hd.to)
	}
}

func (h *groupHistory) endLocked(hd *holding, how string, gen int32) {
	hd.end = how
	if gen > hd.to {
		hd.to = gen
	}
	delete(h.open[hd.member], hd.part)
	if h.owner[hd.part] == hd.member {
		delete(h.owner, hd.part)
	}
	if how == "revoked" {
		for _, next := range h.overlaps[hd] {
			h.violate("a2: %s was assigned to %s before %s's OnRevoked of it had finished (a graceful move)", hd.part, next, hd.member)
		}
	}
	delete(h.overlaps, hd)
}

// owners returns, per partition, the members holding it now (the callbacks' view).
func (h *groupHistory) owners() map[consumer.About][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[consumer.About][]string)
	for m, hs := range h.open {
		for a := range hs {
			out[a] = append(out[a], m)
		}
	}
	return out
}

// took records records a user took from a Poll (member not crashed).
func (h *groupHistory) took(member string, bs []*consumer.Batch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.notifyLocked()
	if h.crashed[member] {
		return
	}
	for _, b := range bs {
		a := consumer.About{Topic: b.Topic, Partition: b.Partition}
		if h.taken[a] == nil {
			h.taken[a] = make(map[int64]int)
		}
		for i := range b.Records {
			h.taken[a][b.Records[i].Offset]++
		}
	}
}

// finish records that a user finished bs (it came back to Poll for more).
func (h *groupHistory) finish(member string, bs []*consumer.Batch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.notifyLocked()
	if h.crashed[member] {
		return
	}
	for _, b := range bs {
		a := consumer.About{Topic: b.Topic, Partition: b.Partition}
		if h.done[a] == nil {
			h.done[a] = make(map[int64]int)
		}
		for i := range b.Records {
			h.done[a][b.Records[i].Offset]++
		}
		if n := len(b.Records); n > 0 {
			h.finished[a] = max(h.finished[a], b.Records[n-1].Offset+1)
			if hd := h.open[member][a]; hd != nil {
				hd.finished = max(hd.finished, b.Records[n-1].Offset+1)
			}
		}
	}
}

// unprocessed returns how many records of [0, end[p]) of each partition no user has
// finished (b).
func (h *groupHistory) unprocessed(topic string, end map[int32]int64) map[int32]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[int32]int)
	for p, e := range end {
		a := consumer.About{Topic: topic, Partition: p}
		for o := range e {
			if h.done[a][o] == 0 {
				out[p]++
			}
		}
	}
	return out
}

// ownerFinished returns, for partition a, the offset after the last record finished by
// the one member holding it now (0 if it is held by none, or by several).
func (h *groupHistory) ownerFinished(a consumer.About) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var got *holding
	for _, hs := range h.open {
		if hd := hs[a]; hd != nil {
			if got != nil {
				return 0
			}
			got = hd
		}
	}
	if got == nil {
		return 0
	}
	return got.finished
}

// revokedFinished returns, for partition a, the offset after the last record finished by
// a holding of it that ended with a revocation (whose commit may or may not have got
// through: the caller checks the committed offset).
func (h *groupHistory) revokedFinished(a consumer.About) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var fin int64
	for _, hd := range h.holdings {
		if hd.part == a && hd.end == "revoked" {
			fin = max(fin, hd.finished)
		}
	}
	return fin
}

// finishedUpTo returns the offset after the last finished record of each partition.
func (h *groupHistory) finishedUpTo() map[consumer.About]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[consumer.About]int64, len(h.finished))
	for a, o := range h.finished {
		out[a] = o
	}
	return out
}

// observeCommitted checks c: no partition's committed offset is below one observed
// before. when says when it was read, for the report.
func (h *groupHistory) observeCommitted(when string, got map[consumer.About]int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for a, o := range got {
		if prev, ok := h.committed[a]; ok && o < prev {
			h.violate("c: %s's committed offset went back from %d to %d (%s)", a, prev, o, when)
		}
		h.committed[a] = o
	}
	for a, prev := range h.committed {
		if _, ok := got[a]; !ok {
			h.violate("c: %s's committed offset %d disappeared (%s)", a, prev, when)
		}
	}
}

// checkOverlaps checks a1: within one generation (or member epoch), no two members held
// one partition. A holding counts for the generations from the one its member reported
// at OnAssigned to the one at its end; holdings that ended in a loss or a crash are left
// out (what a member that lost its place believed is a3's business, and the generation
// it reads can already be its next one).
func (h *groupHistory) checkOverlaps() {
	h.mu.Lock()
	defer h.mu.Unlock()
	by := make(map[consumer.About][]*holding)
	for _, hd := range h.holdings {
		if hd.end == "lost" || hd.end == "crashed" || hd.end == "closed" || hd.from < 0 {
			continue
		}
		by[hd.part] = append(by[hd.part], hd)
	}
	for a, hs := range by {
		for i, x := range hs {
			for _, y := range hs[i+1:] {
				if x.member != y.member && x.from <= max(y.to, y.from) && y.from <= max(x.to, x.from) {
					h.violate("a1: %s held by %s (generations %d-%d) and by %s (generations %d-%d) in the same generation", a, x.member, x.from, x.to, y.member, y.from, y.to)
				}
			}
		}
	}
}

// problems returns the violations found so far, sorted.
func (h *groupHistory) problems() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(h.violations)
	slices.Sort(out)
	return slices.Compact(out)
}

// stats summarises the history: how partitions moved, and how many records were taken
// more than once.
func (h *groupHistory) stats() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ends := make(map[string]int)
	for _, hd := range h.holdings {
		ends[hd.end]++
	}
	again := 0
	for _, offs := range h.taken {
		for _, n := range offs {
			if n > 1 {
				again++
			}
		}
	}
	return fmt.Sprintf("%d holdings (revoked %d, lost %d, crashed %d, held at the end %d), %d records taken more than once",
		len(h.holdings), ends["revoked"], ends["lost"], ends["crashed"], ends[""], again)
}

// groupTally sums, over a suite's passing checks, how partitions moved: the figures that
// say the checks exercised what they claim to.
type groupTally struct {
	mu                                       sync.Mutex
	checks, holdings, revoked, lost, crashed int
	again                                    int
}

func (t *groupTally) add(h *groupHistory) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.checks++
	for _, hd := range h.holdings {
		t.holdings++
		switch hd.end {
		case "revoked":
			t.revoked++
		case "lost":
			t.lost++
		case "crashed":
			t.crashed++
		}
	}
	for _, offs := range h.taken {
		for _, n := range offs {
			if n > 1 {
				t.again++
			}
		}
	}
}

func (t *groupTally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("%d checks passed: %d partition holdings (%d ended by OnRevoked, %d by OnLost, %d by a crash); %d records taken more than once",
		t.checks, t.holdings, t.revoked, t.lost, t.crashed, t.again)
}

// byPartition orders partitions of the check's one topic.
func byPartition(x, y consumer.About) int { return int(x.Partition - y.Partition) }
