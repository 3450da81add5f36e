package property_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/internal/faults"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// waits are the times the "wait" action lets pass (on the bubble's clock): up to past a
// session timeout, so that faults, stalls and crashes take effect.
var groupWaits = []time.Duration{10 * time.Millisecond, 300 * time.Millisecond, time.Second, groupProcessing + time.Second, groupSession + time.Second}

func (g *gcheck) pick(t *rapid.T, what string) (int, *gmember) {
	if len(g.members) == 0 {
		t.Skip("no member")
	}
	i := rapid.IntRange(0, len(g.members)-1).Draw(t, what)
	return i, g.members[i]
}

// actLeave closes a member cleanly: it gives up what it owns (OnRevoked, a commit) and
// leaves the group.
func (g *gcheck) actLeave(t *rapid.T) {
	i, gm := g.pick(t, "member")
	g.note("%s leaves (Close)", gm.name)
	g.members = slices.Delete(g.members, i, i+1)
	g.closeMember(gm, len(g.faulty) == 0)
}

// closeMember closes gm within groupClose. With strict (no fault on the network), Close
// must succeed; under faults, its revocation's commit and its LeaveGroup may not get
// through in time, and an error is only noted. Either way, once Close has returned every
// holding of the member has ended with OnRevoked or OnLost (what could not be revoked
// cleanly is lost), and no callback comes after.
func (g *gcheck) closeMember(gm *gmember, strict bool) {
	gm.p.unstall()
	report := g.note
	if strict {
		report = g.problem
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupClose)
	defer cancel()
	if err := gm.m.Close(ctx); err != nil {
		report("%s: Close: %v", gm.name, err)
	}
	g.h.closed(gm.name)
	<-gm.p.done
	if err := gm.p.failure(); err != nil {
		g.problem("%s: its Poll failed: %v", gm.name, err)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), groupClose)
	defer ccancel()
	if err := gm.cons.Close(cctx); err != nil {
		report("%s: consumer Close: %v", gm.name, err)
	}
}

// actCrash kills a member: its connections close at once and no more open, so neither
// a LeaveGroup nor a commit reaches the broker; its user stops where it is (what it
// holds is not finished). The coordinator takes its partitions back when its session
// runs out. What is left of it in the process is closed, and ignored.
func (g *gcheck) actCrash(t *rapid.T) {
	i, gm := g.pick(t, "member")
	g.note("%s crashes", gm.name)
	g.members = slices.Delete(g.members, i, i+1)
	g.crash(gm)
}

func (g *gcheck) crash(gm *gmember) {
	g.h.crash(gm.name)
	gm.ks.kill()
	gm.p.stop()
	ctx, cancel := context.WithTimeout(context.Background(), crashClose)
	defer cancel()
	_ = gm.m.Close(ctx)
	_ = gm.cons.Close(ctx)
}

// actStall makes a member's user hold the next batches it takes without polling, until
// unstalled: past ProcessingTime a classic member gives its partitions up as lost.
func (g *gcheck) actStall(t *rapid.T) {
	_, gm := g.pick(t, "member")
	if gm.p.isStalled() {
		t.Skip("stalled already")
	}
	g.note("%s's user stalls", gm.name)
	gm.p.stall()
}

func (g *gcheck) actUnstall(t *rapid.T) {
	var stalled []*gmember
	for _, gm := range g.members {
		if gm.p.isStalled() {
			stalled = append(stalled, gm)
		}
	}
	if len(stalled) == 0 {
		t.Skip("no stalled member")
	}
	gm := rapid.SampledFrom(stalled).Draw(t, "member")
	g.note("%s's user comes back", gm.name)
	gm.p.unstall()
}

// actWait lets time pass while the members run. Every check runs in a synctest bubble
// (groupSyncCheck), so the sleep is the thing under test: it advances the bubble's fake
// clock once every goroutine in it is durably blocked, and synchronises nothing.
func (g *gcheck) actWait(t *rapid.T) {
	d := rapid.SampledFrom(groupWaits).Draw(t, "wait")
	g.note("wait %v", d)
	time.Sleep(d)
}

func (g *gcheck) actNetFault(t *rapid.T) {
	node := rapid.IntRange(0, virtualBrokers-1).Draw(t, "node")
	tx := faults.Toxic{Kind: rapid.SampledFrom([]faults.Kind{faults.Reset, faults.Timeout, faults.Latency, faults.Down}).Draw(t, "toxic")}
	if tx.Kind != faults.Down {
		tx.Dir = rapid.SampledFrom([]faults.Direction{faults.Upstream, faults.Downstream}).Draw(t, "direction")
	}
	switch tx.Kind {
	case faults.Reset:
		tx.Delay = rapid.SampledFrom(resetDelays).Draw(t, "delay")
	case faults.Timeout:
		tx.Delay = rapid.SampledFrom(timeoutDelays).Draw(t, "delay")
	case faults.Latency:
		tx.Delay = rapid.SampledFrom(latencies).Draw(t, "delay")
	}
	g.note("network fault on node %d: %v", node, tx)
	if err := g.nw.Inject(node, tx); err != nil {
		g.t.Fatalf("injecting %v: %v", tx, err)
	}
	g.faulty[node] = true
}

func (g *gcheck) actNetHeal(t *rapid.T) {
	if len(g.faulty) == 0 {
		t.Skip("nothing to heal")
	}
	node := rapid.SampledFrom(slices.Sorted(maps.Keys(g.faulty))).Draw(t, "node")
	g.note("network heal on node %d", node)
	if err := g.nw.Heal(node); err != nil {
		g.t.Fatalf("healing node %d: %v", node, err)
	}
	delete(g.faulty, node)
}

// actMoveCoordinator moves every group's coordinator (kfake's RehashCoordinators): the
// old one answers NOT_COORDINATOR from then on.
func (g *gcheck) actMoveCoordinator(*rapid.T) {
	kc := g.c.Kfake()
	before := kc.CoordinatorFor(g.group)
	kc.RehashCoordinators()
	g.note("coordinator moves: node %d to node %d", before, kc.CoordinatorFor(g.group))
}

// committed reads the group's committed offsets with kgo, past every fault.
func (g *gcheck) committed() (map[consumer.About]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = g.group
	resp, err := req.RequestWith(ctx, g.kcl)
	if err != nil {
		return nil, err
	}
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("OffsetFetch: error code %d", resp.ErrorCode)
	}
	out := make(map[consumer.About]int64)
	for _, gr := range resp.Groups { // v8+
		if gr.ErrorCode == kerr.GroupIDNotFound.Code {
			continue // no member and no commit yet, or an empty group the coordinator dropped
		}
		if gr.ErrorCode != 0 {
			return nil, fmt.Errorf("OffsetFetch: group error code %d", gr.ErrorCode)
		}
		for _, tp := range gr.Topics {
			for _, p := range tp.Partitions {
				if p.Offset >= 0 {
					out[consumer.About{Topic: tp.Topic, Partition: p.Partition}] = p.Offset
				}
			}
		}
	}
	for _, tp := range resp.Topics { // before v8
		for _, p := range tp.Partitions {
			if p.Offset >= 0 {
				out[consumer.About{Topic: tp.Topic, Partition: p.Partition}] = p.Offset
			}
		}
	}
	return out, nil
}

// observeCommitted reads the committed offsets and checks c on them.
func (g *gcheck) observeCommitted(when string) map[consumer.About]int64 {
	got, err := g.committed()
	if err != nil {
		g.problem("reading the committed offsets (%s): %v", when, err)
		return nil
	}
	g.h.observeCommitted(when, got)
	return got
}

// waitGroup waits, for at most d, until cond holds, re-evaluating it whenever the
// history changes and every 100 ms of the bubble's clock. It reports whether cond held.
func (g *gcheck) waitGroup(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond) // cond may read the broker, which says nothing when it changes
	defer tick.Stop()
	for {
		changed := g.h.Changed()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
}

// ends returns the end offset of every partition (what was produced: the topic is the
// check's own, and its producer is past every fault).
func (g *gcheck) ends() map[int32]int64 {
	out := make(map[int32]int64, g.opts.partitions)
	for p := range g.opts.partitions {
		out[p] = int64(g.produced[p])
	}
	return out
}

// settled reports d: every partition is held by exactly one member, each a live one.
func (g *gcheck) settled() (bool, string) {
	owners := g.h.owners()
	live := make(map[string]bool)
	for _, gm := range g.members {
		live[gm.name] = true
	}
	var bad []string
	for p := range g.opts.partitions {
		a := consumer.About{Topic: g.topic, Partition: p}
		if hs := owners[a]; len(hs) != 1 || !live[hs[0]] {
			bad = append(bad, fmt.Sprintf("%s held by %v", a, hs))
		}
	}
	return len(bad) == 0, strings.Join(bad, ", ")
}

// finish heals everything, lets the group settle, checks d and b, closes every member
// cleanly and checks e, restarts a member to check that it re-delivers nothing already
// processed, and reports every violation.
func (g *gcheck) finish() {
	g.note("heal everything")
	g.nw.HealAll()
	clear(g.faulty)
	g.dropGhosts()
	for _, gm := range g.members {
		gm.p.unstall()
	}
	if len(g.members) == 0 {
		g.addMember()
	}
	// Records after the heal, on every partition, so that the end has something to
	// take everywhere.
	for p := range g.opts.partitions {
		g.produce(p, 2)
	}
	g.note("produced 2 records per partition after the heal")
	ends := g.ends()
	allTaken := func() bool {
		for _, n := range g.h.unprocessed(g.topic, ends) {
			if n > 0 {
				return false
			}
		}
		return true
	}
	allFinished := func() bool {
		fin := g.h.finishedUpTo()
		for p, e := range ends {
			if e > 0 && fin[consumer.About{Topic: g.topic, Partition: p}] < e {
				return false
			}
		}
		return true
	}
	ok := g.waitGroup(groupSettle, func() bool {
		s, _ := g.settled()
		return s && allTaken() && allFinished()
	})
	if !ok {
		if s, why := g.settled(); !s {
			g.problem("d: the group did not settle within %v of the heal: %s", groupSettle, why)
		}
		if n := g.h.unprocessed(g.topic, ends); !allTaken() {
			g.problem("b: records never processed (taken and finished) by any member, per partition, %v after the heal: %v", groupSettle, n)
		}
		if !allFinished() {
			g.problem("the members did not finish every record within %v of the heal (finished up to %v, ends %v)", groupSettle, g.h.finishedUpTo(), ends)
		}
	}
	// Assigned() agrees with the callbacks once no hand-off is under way. A member owns
	// what it revokes until the commit on revocation has answered, after OnRevoked has
	// returned (a KIP-848 or cooperative move can begin just as the group looks settled:
	// seen once in 2000 checks), so a difference is a problem only if it lasts.
	if !g.waitGroup(groupSettle, func() bool { return g.assignedMismatch() == "" }) {
		g.problem("%s", g.assignedMismatch())
	}
	// One more record per partition, once settled: its owner now must take and finish
	// it (and everything before it in its holding), so that what a clean close commits
	// is the end of the log (e), whoever finished the records before.
	for p := range g.opts.partitions {
		g.produce(p, 1)
	}
	ends = g.ends()
	// Or a holding revoked since (a KIP-848 or cooperative move after the group looked
	// settled) finished it and its revocation committed it: its successor starts there
	// and has nothing to take.
	if !g.waitGroup(groupSettle, func() bool {
		var committed map[consumer.About]int64
		for p, e := range ends {
			a := consumer.About{Topic: g.topic, Partition: p}
			if g.h.ownerFinished(a) >= e {
				continue
			}
			if g.h.revokedFinished(a) < e {
				return false
			}
			if committed == nil {
				c, err := g.committed()
				if err != nil {
					return false
				}
				committed = c
			}
			if committed[a] < e {
				return false
			}
		}
		return true
	}) {
		g.problem("the owners did not finish the records produced once the group settled within %v", groupSettle)
	}
	g.note("settled, and the owners finished 1 more record per partition; closing every member")
	g.observeCommitted("settled")

	// e: a clean close of every member commits, per partition, the offset after the last
	// finished record. A user counts its batches finished just before it polls again,
	// and the member counts them when that Poll begins: a Close in between would leave
	// them finished for the check and not for the member (a race of the check's, seen
	// once in 900 checks). Once every goroutine in the bubble is durably blocked, each
	// user waits inside Poll (or holds what it took, stalled: not finished either way).
	synctest.Wait()
	for _, gm := range g.members {
		g.closeMember(gm, true)
	}
	g.members = nil
	got := g.observeCommitted("after every member closed")
	fin := g.h.finishedUpTo()
	for p := range ends {
		a := consumer.About{Topic: g.topic, Partition: p}
		if got[a] != fin[a] {
			g.problem("e: %s's committed offset after a clean close of every member is %d; its last finished record is %d", a, got[a], fin[a]-1)
		}
	}

	// e: a restart re-delivers nothing already processed: a new member starts at the
	// committed offsets.
	if len(g.problems) == 0 {
		g.restartCheck(got)
	}
	g.h.checkOverlaps()
	g.h.checkSessions(groupSession, sessionSlack)
	g.report()
}

// dropGhosts removes the crashed members from a classic group, as their session timeouts
// would. A workaround for kfake (2026-09): a member whose second JoinGroup (with the ID
// from MEMBER_ID_REQUIRED) reached the coordinator just before it crashed becomes a
// member at the end of the rebalance, and, as it never sends SyncGroup, and the pending
// sync is cleared once the leader's SyncGroup completes, it is never expired: it keeps
// its partitions for good. Kafka expires it at the end of its session.
func (g *gcheck) dropGhosts() {
	if g.removeIDs(g.h.crashedIDs()) >= 0 {
		g.note("the crashed members' IDs removed from the group (a kfake workaround; see dropGhosts)")
	}
}

// dropLeftovers removes, once every member has closed, any member a classic group still
// holds. A second kfake workaround (2026-09): a member that closes while its second
// JoinGroup (with the ID from MEMBER_ID_REQUIRED) is still on its way sends LeaveGroup on
// another connection; when that arrives first, kfake drops the pending ID and then takes
// the JoinGroup as a new member's, which never heartbeats and is never expired. Kafka
// answers such a JoinGroup UNKNOWN_MEMBER_ID.
func (g *gcheck) dropLeftovers() {
	if n := g.removeIDs(g.h.allIDs()); n > 0 {
		g.note("%d leftover members removed from the group after every member closed (a kfake workaround; see dropLeftovers)", n)
	}
}

// removeIDs sends LeaveGroup for ids to a classic group and returns how many it removed
// (-1 when it sent nothing).
func (g *gcheck) removeIDs(ids []string) int {
	if g.opts.protocol != group.Classic || len(ids) == 0 {
		return -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = g.group
	for _, id := range ids {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		req.Members = append(req.Members, m)
	}
	resp, err := req.RequestWith(ctx, g.kcl)
	if err != nil {
		g.problem("removing the members %v from the group: %v", ids, err)
		return -1
	}
	n := 0
	for _, m := range resp.Members {
		if m.ErrorCode == 0 {
			n++
		}
	}
	return n
}

// ownedBy lists what member holds, by its callbacks.
// assignedMismatch describes the first member whose Assigned() differs from what its
// callbacks say it owns, or returns "".
func (g *gcheck) assignedMismatch() string {
	for _, gm := range g.members {
		if gm.m == nil {
			continue
		}
		got, want := gm.m.Assigned(), g.ownedBy(gm.name)
		slices.SortFunc(got, byPartition)
		slices.SortFunc(want, byPartition)
		if !slices.Equal(got, want) {
			return fmt.Sprintf("%s: Assigned() lists %v, its callbacks %v", gm.name, got, want)
		}
	}
	return ""
}

func (g *gcheck) ownedBy(member string) []consumer.About {
	var out []consumer.About
	for a, hs := range g.h.owners() {
		if slices.Contains(hs, member) {
			out = append(out, a)
		}
	}
	return out
}

// restartCheck starts one member after every other closed, produces a record per
// partition, and checks that what it takes starts at the committed offsets.
func (g *gcheck) restartCheck(committed map[consumer.About]int64) {
	g.dropLeftovers()
	g.note("restart: one member after every member closed")
	before := make(map[consumer.About]map[int64]int)
	g.h.mu.Lock()
	for a, offs := range g.h.taken {
		before[a] = maps.Clone(offs)
	}
	g.h.mu.Unlock()
	g.addMember()
	if len(g.members) != 1 {
		g.problem("e: the restarted member could not join")
		return
	}
	for p := range g.opts.partitions {
		g.produce(p, 1)
	}
	ends := g.ends()
	if !g.waitGroup(groupSettle, func() bool {
		fin := g.h.finishedUpTo()
		for p, e := range ends {
			if fin[consumer.About{Topic: g.topic, Partition: p}] < e {
				return false
			}
		}
		return true
	}) {
		g.problem("e: the restarted member did not finish the records produced after the restart within %v", groupSettle)
	}
	gm := g.members[0]
	g.members = nil
	g.closeMember(gm, true)
	g.h.mu.Lock()
	defer g.h.mu.Unlock()
	for a, offs := range g.h.taken {
		for o, n := range offs {
			if n > before[a][o] && o < committed[a] {
				g.violations(fmt.Sprintf("e: the restarted member re-delivered %s offset %d, below the committed %d", a, o, committed[a]))
			}
		}
	}
}

func (g *gcheck) violations(msg string) { g.h.violations = append(g.h.violations, msg) }

// teardown closes whatever a failed check left open.
func (g *gcheck) teardown() {
	g.nw.HealAll()
	for _, gm := range g.members {
		gm.p.unstall()
		ctx, cancel := context.WithTimeout(context.Background(), groupClose)
		_ = gm.m.Close(ctx)
		gm.p.stop()
		_ = gm.cons.Close(ctx)
		cancel()
	}
	g.members = nil
	if g.kcl != nil {
		g.kcl.Close()
		g.kcl = nil
	}
}

// report fails the check with every violation and problem, and writes the artefacts.
func (g *gcheck) report() {
	vs := g.h.problems()
	if len(vs) == 0 && len(g.problems) == 0 {
		g.t.Logf("%v: %d actions, %d records; %s", g.opts, len(g.actions), sum(g.produced), g.h.stats())
		if g.tally != nil {
			g.tally.add(g.h)
		}
		return
	}
	dir := artefactDir(g.test)
	where := dir
	if err := writeGroupArtefacts(dir, g, vs); err != nil {
		where = fmt.Sprintf("(could not write artefacts: %v)", err)
	}
	g.t.Fatalf("%d violations, %d other problems\n%s\n%s\nconfiguration: %v\nactions:\n%s\nartefacts in %s",
		len(vs), len(g.problems), strings.Join(vs, "\n"), strings.Join(g.problems, "\n"), g.opts, strings.Join(g.actions, "\n"), where)
}

func writeGroupArtefacts(dir string, g *gcheck, vs []string) error {
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	summary := fmt.Sprintf("configuration: %v\n\nactions:\n%s\n\nviolations:\n%s\n%s\n", g.opts, strings.Join(g.actions, "\n"), strings.Join(vs, "\n"), strings.Join(g.problems, "\n"))
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(summary), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "client.log"), g.logs.bytes(), 0o644)
}

func sum(m map[int32]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
