package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/supervisor"
)

// The supervisor's events are passed to Config.OnEvent as they are.
var _ troupe.Event = supervisor.Event(nil)

// Event is something that happened to a partition or a reader: one of Subscribed,
// Unsubscribed, SlowPartition, SlowReader, OffsetReset, LogTruncation and
// PartitionFailed. Switch on the concrete type. Each is a troupe.Event: it goes to
// Config.OnEvent beside the supervisor events of the consumer's actors and of its own
// client (supervisor.Started, supervisor.Restarted, ..., passed as they are), and, as a
// log record, to Config.Logger.
type Event interface {
	troupe.Event
	level() slog.Level
	attrs() []any
}

// About names the partition an event concerns; every partition event embeds it.
type About struct {
	Topic     string
	Partition int32
}

// String names the partition as "topic[partition]".
func (a About) String() string { return fmt.Sprintf("%s[%d]", a.Topic, a.Partition) }

// Source names the partition an event is about, as String does.
func (a About) Source() string { return a.String() }

// Subscribed: a partition's dispatcher subscribed it to the broker consumer of Broker
// (the partition's leader under LeaderEpoch), to fetch from Offset.
type Subscribed struct {
	About
	Broker      int32
	LeaderEpoch int32
	Offset      int64
}

// Unsubscribed: a broker consumer gave a partition back to its dispatcher because of
// Err (the leader moved, its epoch changed, the broker or the connection failed). The
// dispatcher finds the leader again and resubscribes; nothing is lost.
type Unsubscribed struct {
	About
	Broker int32
	Err    error
}

// SlowPartition: the user (or the partition's stage) did not take a batch within
// MaxProcessingTime, so the partition gave up its place at its broker consumer. It
// subscribes again once its feeder has delivered what it holds.
type SlowPartition struct {
	About
	Waited time.Duration
}

// OffsetReset: a partition's position was out of range (or its topic was recreated,
// Cause says which) and moved From -> To by Policy. Records between may be lost
// (From < To) or delivered again (To < From).
type OffsetReset struct {
	About
	From, To int64
	Policy   ResetPolicy
	Cause    error
}

// LogTruncation: after a leader change the new leader's log ended before the position
// reached; the partition moved back to Err.EndOffset. The same error is delivered on
// the partition.
type LogTruncation struct {
	About
	Err *TruncationError
}

// PartitionFailed: a partition stopped for good with Err (delivered to its user as
// Next's error or a stage's last batch).
type PartitionFailed struct {
	About
	Err error
}

// String describes the event in one line, as it is logged.
func (e Subscribed) String() string {
	return fmt.Sprintf("%s: subscribed to broker %d (leader epoch %d) at offset %d", e.About, e.Broker, e.LeaderEpoch, e.Offset)
}

// String describes the event in one line, as it is logged.
func (e Unsubscribed) String() string {
	return fmt.Sprintf("%s: unsubscribed from broker %d: %v", e.About, e.Broker, e.Err)
}

// String describes the event in one line, as it is logged.
func (e SlowPartition) String() string {
	return fmt.Sprintf("%s: batch not taken within %v; gave up its place at its broker consumer", e.About, e.Waited.Round(time.Millisecond))
}

// String describes the event in one line, as it is logged.
func (e OffsetReset) String() string {
	return fmt.Sprintf("%s: offset reset %d -> %d (%s): %v", e.About, e.From, e.To, e.Policy, e.Cause)
}

// String describes the event in one line, as it is logged.
func (e LogTruncation) String() string { return e.Err.Error() }

// String describes the event in one line, as it is logged.
func (e PartitionFailed) String() string {
	return fmt.Sprintf("%s: failed: %v", e.About, e.Err)
}

func (Subscribed) level() slog.Level    { return slog.LevelDebug }
func (Unsubscribed) level() slog.Level  { return slog.LevelInfo }
func (SlowPartition) level() slog.Level { return slog.LevelInfo }
func (OffsetReset) level() slog.Level   { return slog.LevelWarn }
func (LogTruncation) level() slog.Level { return slog.LevelWarn }
func (PartitionFailed) level() slog.Level {
	return slog.LevelError
}

func (e Subscribed) attrs() []any {
	return []any{"topic", e.Topic, "partition", e.Partition, "broker", e.Broker, "epoch", e.LeaderEpoch, "offset", e.Offset}
}
func (e Unsubscribed) attrs() []any {
	return []any{"topic", e.Topic, "partition", e.Partition, "broker", e.Broker, "err", e.Err}
}
func (e SlowPartition) attrs() []any {
	return []any{"topic", e.Topic, "partition", e.Partition, "waited", e.Waited}
}
func (e OffsetReset) attrs() []any {
	return []any{"topic", e.Topic, "partition", e.Partition, "from", e.From, "to", e.To, "policy", e.Policy.String(), "cause", e.Cause}
}
func (e LogTruncation) attrs() []any {
	return []any{"topic", e.Err.Topic, "partition", e.Err.Partition, "offset", e.Err.Offset, "epoch", e.Err.Epoch,
		"end_offset", e.Err.EndOffset, "end_epoch", e.Err.EndEpoch}
}
func (e PartitionFailed) attrs() []any {
	return []any{"topic", e.Topic, "partition", e.Partition, "err", e.Err}
}

// events delivers events to the configured hook and logger.
type events struct {
	log  *slog.Logger
	hook func(troupe.Event)
}

// emit logs e, formatting it only if the logger takes its level (a subscription per
// partition is an event: a reader's thousand partitions are a thousand of them), and
// hands it to the hook.
func (ev *events) emit(e Event) {
	ctx := context.Background()
	if l := e.level(); ev.log.Enabled(ctx, l) {
		ev.log.Log(ctx, l, e.String(), e.attrs()...)
	}
	if ev.hook != nil {
		ev.hook(e)
	}
}

// SlowReader: ready batches waited longer than MaxProcessingTime for the named Reader's
// Poll, so none of its partitions is fetched until the next Poll.
type SlowReader struct {
	Reader string
	Waited time.Duration
}

// String describes the event in one line, as it is logged.
func (e SlowReader) String() string {
	return fmt.Sprintf("%s: batches not polled within %v; its partitions are not fetched until the next poll", e.Reader, e.Waited.Round(time.Millisecond))
}

// Source names the reader.
func (e SlowReader) Source() string { return e.Reader }

func (SlowReader) level() slog.Level { return slog.LevelInfo }
func (e SlowReader) attrs() []any    { return []any{"reader", e.Reader, "waited", e.Waited} }
