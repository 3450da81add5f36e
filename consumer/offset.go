package consumer

import (
	"strconv"
	"time"

	"github.com/troupe-go/troupe/wire/cluster"
)

// Offset says where a partition consumer starts: Oldest, Newest, an exact offset (At) or
// the first record at or after a time (AtTime). The zero Offset is Oldest(). Offsets are
// values: none of them can be changed by a caller.
type Offset struct {
	kind  offsetKind
	at    int64 // the exact offset (kind exact), or Unix milliseconds (kind byTime)
	epoch int32 // kind exact: the leader epoch of the record before at, if known (AtEpoch); -1 otherwise
}

type offsetKind uint8

const (
	kindOldest offsetKind = iota
	kindNewest
	kindExact
	kindTime
)

// The points ListOffsets resolves, as Kafka spells them: -1 is the end of the log (the
// high-water mark) and -2 its start (the log start offset). They are the cluster
// package's Newest and Oldest, not offsets: At never takes them.
const (
	listNewest = cluster.Newest
	listOldest = cluster.Oldest
)

// Oldest starts at the oldest record still in the partition (its log start offset). It
// is also the zero Offset.
func Oldest() Offset { return Offset{kind: kindOldest} }

// Newest starts at the end of the partition (its high-water mark, or its last stable
// offset under ReadCommitted): only records written after the consumer starts are
// delivered.
func Newest() Offset { return Offset{kind: kindNewest} }

// At starts at offset n: the record with offset n, or the first one after it if n falls
// in a gap (compaction, transaction markers). A negative n is not an offset: the call
// that uses it (ConsumePartition, ReadPartitions, Reader.Add) fails with
// ErrInvalidOffset; say Oldest() or Newest() for the ends of the log. An offset beyond
// the end of the log, or before its start, is out of range: Config.OffsetReset decides
// what happens, and the reset is reported.
func At(n int64) Offset { return Offset{kind: kindExact, at: n, epoch: -1} }

// AtEpoch is At(n) with the leader epoch of the record before n, as a committed offset
// carries it (KIP-320): before the first fetch the consumer asks the partition's leader
// where that epoch ends in its log (OffsetForLeaderEpoch). If the log ends that epoch
// before n — it was truncated since the offset was taken, by an unclean leader election —
// the partition starts where it diverges and reports a *TruncationError (ErrLogTruncated)
// with the records that replaced the lost ones. A negative epoch is At(n).
func AtEpoch(n int64, leaderEpoch int32) Offset {
	return Offset{kind: kindExact, at: n, epoch: max(leaderEpoch, -1)}
}

// AtTime starts at the first record whose timestamp is at or after t, found with
// ListOffsets by timestamp; if there is none, at the end of the partition (as Newest).
// Timestamps are compared in milliseconds.
func AtTime(t time.Time) Offset { return Offset{kind: kindTime, at: t.UnixMilli()} }

// String describes the offset: "oldest", "newest", "42", "time 2024-05-01T10:00:00Z".
func (o Offset) String() string {
	switch o.kind {
	case kindOldest:
		return "oldest"
	case kindNewest:
		return "newest"
	case kindTime:
		return "time " + time.UnixMilli(o.at).UTC().Format(time.RFC3339Nano)
	}
	if o.epoch >= 0 {
		return strconv.FormatInt(o.at, 10) + " (epoch " + strconv.Itoa(int(o.epoch)) + ")"
	}
	return strconv.FormatInt(o.at, 10)
}

// listTimestamp is the ListOffsets timestamp that resolves o (-2 oldest, -1 newest, or
// milliseconds), and false for an exact offset, which needs no lookup.
func (o Offset) listTimestamp() (int64, bool) {
	switch o.kind {
	case kindOldest:
		return listOldest, true
	case kindNewest:
		return listNewest, true
	case kindTime:
		return o.at, true
	}
	return 0, false
}
