package producer

import (
	"errors"
	"fmt"

	"github.com/troupe-go/troupe"
)

// Errors a record can fail with. Every record error also matches exactly one of
// troupe.ErrNotWritten and troupe.ErrMaybeWritten (see RecordError).
var (
	// ErrInvalidConfig: a Config that cannot work (returned by New).
	ErrInvalidConfig = errors.New("producer: invalid config")
	// ErrInvalidRecord: a nil record, or one without a topic (at Produce, or after the
	// custom stages).
	ErrInvalidRecord = errors.New("producer: invalid record")
	// ErrRecordTooLarge: a record larger than MaxRecordBytes, or one the broker refused as
	// too large even on its own (MESSAGE_TOO_LARGE).
	ErrRecordTooLarge = errors.New("producer: record too large")
	// ErrUnknownTopic: the brokers said the topic does not exist, and it did not appear
	// within UnknownTopicWait (or the records waiting for it would exceed
	// UnknownTopicShare of the budget). The error also matches
	// errcode.UnknownTopicOrPartition, as the consumer's does. A topic that could not be
	// looked up because no broker answered does not read as unknown: its records fail
	// with the last metadata failure, which matches cluster.ErrUnavailable and names the
	// broker and the cause (a refused connection, say).
	ErrUnknownTopic = errors.New("producer: unknown topic")
	// ErrDeliveryTimeout: the record's DeliveryTimeout passed before its outcome was known.
	// The error wraps the last failure that kept the record from being written, if there
	// was one (a broker unreachable: a *broker.Error naming it, matching
	// broker.ErrNetwork or broker.ErrUnavailable; no leader; ...). Transient failures
	// (brokers down, connections refused after the producer has worked) never fail a
	// record before its DeliveryTimeout.
	ErrDeliveryTimeout = errors.New("producer: delivery timeout")
	// ErrSequenceLost: the broker reported OUT_OF_ORDER_SEQUENCE_NUMBER or
	// UNKNOWN_PRODUCER_ID for the oldest unacknowledged batch of a partition: it lost
	// records it had acknowledged, or its state for this producer. The batch itself was
	// not written; earlier acknowledged records of the partition may have been lost.
	ErrSequenceLost = errors.New("producer: broker lost acknowledged records or producer state (possible data loss)")
	// ErrRejected: the broker refused the batch without writing it, for a reason a retry
	// cannot fix (invalid records, authorization, ...). The Kafka error code is wrapped.
	ErrRejected = errors.New("producer: rejected by the broker")
)

// RecordError is the error a record's callback gets. It says why, and whether the record
// may be in the log: errors.Is(err, troupe.ErrNotWritten) or troupe.ErrMaybeWritten.
type RecordError struct {
	Topic        string
	Partition    int32 // -1 if the record was never assigned one
	MaybeWritten bool
	Err          error
}

func (e *RecordError) Error() string {
	state := "not written"
	if e.MaybeWritten {
		state = "may have been written"
	}
	return fmt.Sprintf("producer: record for %s[%d] %s: %v", e.Topic, e.Partition, state, e.Err)
}

// Is matches troupe.ErrMaybeWritten or troupe.ErrNotWritten.
func (e *RecordError) Is(target error) bool {
	switch target {
	case troupe.ErrMaybeWritten:
		return e.MaybeWritten
	case troupe.ErrNotWritten:
		return !e.MaybeWritten
	}
	return false
}

func (e *RecordError) Unwrap() error { return e.Err }

// errProducerClosed is the cause of records refused after Close, or failed by it. It
// matches troupe.ErrClosed and reads "producer closed", so that a record's error says
// "producer" once ("producer: record for t[0] not written: producer closed").
var errProducerClosed error = producerClosed{}

// producerClosed is errProducerClosed's type.
type producerClosed struct{}

func (producerClosed) Error() string        { return "producer closed" }
func (producerClosed) Is(target error) bool { return target == troupe.ErrClosed }

func notWritten(topic string, partition int32, err error) error {
	return &RecordError{Topic: topic, Partition: partition, Err: err}
}
