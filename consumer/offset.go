package consumer

import (
	"strconv"
	"time"
)

// Offset says where a partition consumer starts: Oldest, Newest, an exact offset (At) or
// the first record at or after a time (AtTime). The zero Offset is Oldest.
type Offset struct {
	kind offsetKind
	at   int64 // the exact offset (kind exact), or Unix milliseconds (kind byTime)
}

type offsetKind uint8

const (
	kindOldest offsetKind = iota
	kindNewest
	kindExact
	kindTime
)

// The special offsets, as Kafka's ListOffsets spells them: -1 is the end of the log (the
// high-water mark) and -2 its start (the log start offset). At(-1) and At(-2) mean the
// same as Newest and Oldest, as in Sarama.
const (
	OffsetNewest int64 = -1
	OffsetOldest int64 = -2
)

var (
	// Oldest starts at the oldest record still in the partition (its log start offset).
	Oldest = Offset{kind: kindOldest}
	// Newest starts at the end of the partition (its high-water mark): only records
	// written after the consumer starts are delivered.
	Newest = Offset{kind: kindNewest}
)

// At starts at offset n: the record with offset n, or the first one after it if n falls
// in a gap (compaction, transaction markers). At(OffsetNewest) is Newest and
// At(OffsetOldest) is Oldest; any other negative n is refused by ConsumePartition with
// ErrInvalidOffset. An offset beyond the end of the log, or before its start, is out of
// range: Config.OffsetReset decides what happens, and the reset is reported.
func At(n int64) Offset {
	switch n {
	case OffsetNewest:
		return Newest
	case OffsetOldest:
		return Oldest
	}
	return Offset{kind: kindExact, at: n}
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
	return strconv.FormatInt(o.at, 10)
}

// listTimestamp is the ListOffsets timestamp that resolves o (-2 oldest, -1 newest, or
// milliseconds), and false for an exact offset, which needs no lookup.
func (o Offset) listTimestamp() (int64, bool) {
	switch o.kind {
	case kindOldest:
		return OffsetOldest, true
	case kindNewest:
		return OffsetNewest, true
	case kindTime:
		return o.at, true
	}
	return 0, false
}
