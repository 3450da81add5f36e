package group

import (
	"slices"
	"strings"

	"github.com/troupe-go/troupe/wire/cluster"
)

// ledger is the commit bookkeeping of one group user: per partition, how far the user
// has finished (the mark), what the group has committed as far as the user knows, and
// which offset a commit is carrying now. It decides what a commit sends, and it is what
// makes commits at-least-once and monotonic:
//
//   - A mark only moves forward (mark): finishing an older record again never lowers it.
//   - A commit sends a partition only when its mark is ahead of the committed offset
//     (due), so nothing the library commits moves an offset backwards, and a partition
//     whose mark is already committed is not sent again.
//   - Only an explicit offset (set) may move a commit backwards: the user said so.
//   - A failed commit leaves the mark due: the next commit carries it again.
//
// It is a plain deterministic struct: no goroutines, no clock, no I/O, no lock (its
// owner guards it). The same bookkeeping serves partitions assigned by hand (a Committer)
// and partitions a group member owns; the member's generation is not in it, but in the
// commit that carries what due returns.
type ledger struct {
	parts map[cluster.TopicPartition]*entry
}

// entry is one partition's bookkeeping.
type entry struct {
	mark      int64 // where to resume: the offset after the last one finished; -1: nothing marked
	epoch     int32 // leader epoch of the last record finished, -1 unknown
	metadata  string
	forced    bool  // mark was set explicitly: commit it even if it is not ahead
	committed int64 // the group's committed offset as last known (fetched or committed), -1 unknown
	sending   bool  // a commit carrying mark is in flight
}

func newLedger() *ledger { return &ledger{parts: make(map[cluster.TopicPartition]*entry)} }

func (l *ledger) entry(tp cluster.TopicPartition) *entry {
	e := l.parts[tp]
	if e == nil {
		e = &entry{mark: -1, epoch: -1, committed: -1}
		l.parts[tp] = e
	}
	return e
}

// known records the group's committed offset for tp, as fetched (-1: none): the group's
// state now, lower than what was committed before if someone rewound it since. A mark
// behind it stays unsent. While a commit of tp is in flight its outcome decides instead.
func (l *ledger) known(tp cluster.TopicPartition, committed int64) {
	if e := l.entry(tp); !e.sending {
		e.committed = committed
	}
}

// mark records that the user has finished with everything before next in tp; epoch is
// the leader epoch of the last record finished (-1 if unknown). It only ever moves the
// mark forward, and reports whether it did.
func (l *ledger) mark(tp cluster.TopicPartition, next int64, epoch int32) bool {
	e := l.entry(tp)
	if next <= e.mark {
		return false
	}
	// An explicit offset still to commit stays forced: the marks after it build on it.
	e.mark, e.epoch, e.metadata = next, epoch, ""
	return true
}

// set makes offset tp's mark, forward or backward: an explicit offset from the user,
// committed by the next commit even if it is not ahead of the committed offset.
func (l *ledger) set(o cluster.OffsetCommit) {
	e := l.entry(cluster.TopicPartition{Topic: o.Topic, Partition: o.Partition})
	e.mark, e.epoch, e.metadata, e.forced = o.Offset, o.LeaderEpoch(), o.Metadata, true
}

// due returns what a commit sends now — every partition whose mark is ahead of its
// committed offset, or set explicitly and not committed yet — and notes them as sending,
// so a second due before sent returns them no more. Sorted by topic and partition.
func (l *ledger) due() []cluster.OffsetCommit { return l.dueOf(nil) }

// dueOf is due for the partitions of only (nil: every partition): a group member's
// revocation commits the partitions it gives up, and only them. It looks up only's
// partitions rather than look through every one the ledger keeps: a member that owns
// 2000 partitions and gives up 1000 looks at 1000.
func (l *ledger) dueOf(only []cluster.TopicPartition) []cluster.OffsetCommit {
	var out []cluster.OffsetCommit
	add := func(tp cluster.TopicPartition, e *entry) {
		if e.sending || e.mark < 0 {
			return
		}
		if e.mark > e.committed || (e.forced && e.mark != e.committed) {
			e.sending = true
			out = append(out, cluster.OffsetCommit{Topic: tp.Topic, Partition: tp.Partition, Offset: e.mark, Metadata: e.metadata}.WithLeaderEpoch(e.epoch))
		}
	}
	if only == nil {
		for tp, e := range l.parts {
			add(tp, e)
		}
	} else {
		for _, tp := range only {
			if e := l.parts[tp]; e != nil {
				add(tp, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b cluster.OffsetCommit) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

// sent files the outcome of a commit of what due returned: a partition committed has its
// committed offset moved to what was sent; one that failed stays due. A mark that moved
// on while the commit was in flight stays due too.
func (l *ledger) sent(results []cluster.OffsetCommitResult) {
	for _, r := range results {
		e := l.parts[cluster.TopicPartition{Topic: r.Topic, Partition: r.Partition}]
		if e == nil {
			continue // forgotten meanwhile
		}
		e.sending = false
		if r.Err != nil {
			continue
		}
		e.committed = r.Offset
		if e.mark == r.Offset {
			e.forced = false
		}
	}
}

// forget drops tp: the user no longer reads it (a member lost or gave it up). A commit
// in flight for it is filed nowhere.
func (l *ledger) forget(tp cluster.TopicPartition) { delete(l.parts, tp) }

// committed returns tp's committed offset as last known, -1 if unknown.
func (l *ledger) committed(tp cluster.TopicPartition) int64 {
	if e := l.parts[tp]; e != nil {
		return e.committed
	}
	return -1
}

// marked returns tp's mark, -1 if nothing is marked.
func (l *ledger) marked(tp cluster.TopicPartition) int64 {
	if e := l.parts[tp]; e != nil {
		return e.mark
	}
	return -1
}
