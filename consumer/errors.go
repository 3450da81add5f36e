package consumer

import (
	"errors"
	"fmt"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/errcode"
)

// Errors of the consumer, matched with errors.Is.
var (
	// ErrInvalidConfig: a Config that cannot work (negative sizes, an unsupported
	// isolation level, neither a Client nor Seeds).
	ErrInvalidConfig = errors.New("consumer: invalid config")

	// ErrUnknownTopic: ConsumePartition was asked for a topic the cluster does not know,
	// or a consumed topic was deleted. The error also matches
	// errcode.UnknownTopicOrPartition.
	ErrUnknownTopic = errors.New("consumer: unknown topic")

	// ErrUnknownPartition: ConsumePartition was asked for a partition the topic does not
	// have (negative, or not below its partition count).
	ErrUnknownPartition = errors.New("consumer: partition out of range")

	// ErrInvalidOffset: ConsumePartition, ReadPartitions or Reader.Add was given
	// At(n) with n < 0: the ends of the log are Oldest() and Newest(), never -2 and -1.
	ErrInvalidOffset = errors.New("consumer: invalid offset")

	// ErrAlreadyConsuming: the partition already has a PartitionConsumer in this
	// Consumer; close it first. Two would deliver every record twice.
	ErrAlreadyConsuming = errors.New("consumer: partition already consumed")

	// ErrStageAttached: Next (or Records) was called on a partition whose batches go to
	// a custom stage; the stage receives them instead.
	ErrStageAttached = errors.New("consumer: batches go to a stage")

	// ErrOffsetOutOfRange: the fetch position is outside the partition's log and the
	// reset policy is ResetNone. It also matches errcode.OffsetOutOfRange. Terminal.
	ErrOffsetOutOfRange = errors.New("consumer: offset out of range")

	// ErrLogTruncated: after a leader change the new leader's log ends before the
	// position the consumer had reached (KIP-320): records the consumer delivered are no
	// longer in the log, and those written in their place will be delivered. Next
	// returns it once, as a *TruncationError, and then carries on. It is the only error
	// Next returns that is not terminal.
	ErrLogTruncated = errors.New("consumer: log truncated")

	// ErrCorrupt: a fetched batch could not be read (bad CRC, undecodable records,
	// unsupported compression, or larger than Config.MaxDecompressedSize when
	// decompressed). Terminal; the *CorruptError says which offsets to skip to.
	ErrCorrupt = errors.New("consumer: corrupt data")

	// ErrClosed is troupe.ErrClosed: the partition consumer or the consumer was closed.
	ErrClosed = troupe.ErrClosed
)

// UnknownTopicError is returned for a topic the cluster does not know. It matches
// ErrUnknownTopic and errcode.UnknownTopicOrPartition.
type UnknownTopicError struct {
	Topic string
	Cause error // what the metadata said, if anything
}

// Error describes what happened and to which partition (or topic).
func (e *UnknownTopicError) Error() string {
	s := fmt.Sprintf("consumer: unknown topic %q", e.Topic)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Is matches ErrUnknownTopic and errcode.UnknownTopicOrPartition.
func (e *UnknownTopicError) Is(target error) bool {
	return target == ErrUnknownTopic || target == errcode.UnknownTopicOrPartition
}

// Unwrap returns the cause.
func (e *UnknownTopicError) Unwrap() error { return e.Cause }

// OutOfRangeError reports that a partition's fetch position fell outside its log while
// the reset policy was ResetNone. It matches ErrOffsetOutOfRange and
// errcode.OffsetOutOfRange.
type OutOfRangeError struct {
	Topic     string
	Partition int32
	Offset    int64 // the position that was out of range
}

// Error describes what happened and to which partition (or topic).
func (e *OutOfRangeError) Error() string {
	return fmt.Sprintf("consumer: %s[%d]: offset %d out of range and the reset policy is none", e.Topic, e.Partition, e.Offset)
}

// Is matches ErrOffsetOutOfRange and errcode.OffsetOutOfRange.
func (e *OutOfRangeError) Is(target error) bool {
	return target == ErrOffsetOutOfRange || target == errcode.OffsetOutOfRange
}

// TruncationError reports a log truncation found after a leader change: the consumer
// had fetched up to Offset under leader epoch Epoch, and the new leader says that epoch
// ends at EndOffset (in EndEpoch). Consumption continues at EndOffset. It matches
// ErrLogTruncated.
type TruncationError struct {
	Topic     string
	Partition int32
	Offset    int64
	Epoch     int32
	EndOffset int64
	EndEpoch  int32
}

// Error describes what happened and to which partition (or topic).
func (e *TruncationError) Error() string {
	return fmt.Sprintf("consumer: %s[%d]: log truncated: fetched up to %d in epoch %d, the leader's log has epoch %d end at %d; continuing there",
		e.Topic, e.Partition, e.Offset, e.Epoch, e.EndEpoch, e.EndOffset)
}

// Is matches ErrLogTruncated.
func (e *TruncationError) Is(target error) bool { return target == ErrLogTruncated }

// CorruptError reports a batch that could not be read. Records before Offset were
// delivered; the unreadable batch spans [Offset, Next). A consumer that accepts the loss
// can consume again from At(Next). Next is -1 when the batch's own header cannot be
// trusted (its CRC does not match).
type CorruptError struct {
	Topic     string
	Partition int32
	Offset    int64
	Next      int64
	Err       error // from wire/record: ErrChecksum, ErrCorrupt, ErrTooLarge, ErrUnsupported
}

// Error describes what happened and to which partition (or topic).
func (e *CorruptError) Error() string {
	return fmt.Sprintf("consumer: %s[%d]: batch at offset %d unreadable: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

// Is matches ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }
