package troupe

import "time"

// Record is one Kafka record as the producer accepts it and the consumer delivers it.
//
// On the produce path the producer reads Topic, Partition (only with a manual partitioner),
// Key, Value, Headers and Timestamp, and fills in Partition, Offset and LeaderEpoch when the
// broker acknowledges the record. The producer keeps the *Record it is given until the
// record's callback has run; the caller must not modify it before then.
//
// On the consume path every field is set by the consumer.
type Record struct {
	// Topic names the topic the record belongs to. It must not be empty.
	Topic string
	// Partition is the partition the record was written to or read from.
	Partition int32
	// Offset is the record's offset in its partition, set once the record is acknowledged
	// (-1 when acks are disabled) or when it is consumed.
	Offset int64
	// Key is the record key; nil means a null key, which is distinct from an empty key.
	Key []byte
	// Value is the record value; nil means a null value (a tombstone on compacted topics).
	Value []byte
	// Headers are the record headers, in order. Keys may repeat.
	Headers []Header
	// Timestamp is the record's timestamp. A zero Timestamp on produce means "now": the
	// producer sets it as it takes the record into its pipeline (microseconds after
	// Produce accepts it).
	Timestamp time.Time
	// LeaderEpoch is the leader epoch of the partition leader that wrote the record, or -1
	// when unknown.
	LeaderEpoch int32
}

// Header is one record header. A nil Value is a null header value.
type Header struct {
	Key   string
	Value []byte
}
