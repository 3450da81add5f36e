package producer

import (
	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/record"
)

// Pending is one record on its way through the pipeline, with what the producer needs to
// report its outcome. It is the only thing that crosses a queue per record (once, when
// Produce hands it to the first stage); after that records travel in slices and batches.
// Custom stages see Pendings: they read the record and hand the Pending on (Next).
type Pending struct {
	rec   *troupe.Record
	cb    func(*troupe.Record, error)
	size  int32 // budget bytes taken for it
	gen   uint32
	taken int64 // when the producer took it in (unix ns): its deadline counts from here
}

// Record is the record this Pending carries. A stage may modify it (it is the caller's
// *Record: the caller gave it up until its callback runs).
func (p Pending) Record() *troupe.Record { return p.rec }

// batch is a sealed record batch of one partition: the unit that is sent, retried,
// restamped and reported. It is owned by its partition producer, except while in flight,
// when the broker producer sending it owns it; ownership moves by hand-off (actor.Owned).
//
// One is made per batch, and at thousands of partitions a batch holds one to three
// records, so its fields are ordered to pack it into 248 bytes (the allocator's 256-byte
// class; it was 296, in the 320 class): keep the words first and the small fields together.
type batch struct {
	actor.Owned

	part *partition // the partition producer it belongs to
	recs []Pending  // its records, in order
	// raw is the encoded v2 batch; from its cut until finish, its records only, behind
	// room for the header.
	raw []byte
	// bound is an upper bound on raw's size once finished (compressed or not), known when
	// the batch is cut.
	bound int
	// firstTS and maxTS are its records' first and largest timestamps (Unix ms), for the
	// header.
	firstTS, maxTS int64
	deadline       int64 // the earliest delivery deadline of its records (unix ns)
	baseOffset     int64
	appendTime     int64 // log-append time (ms) when the topic uses it, else -1
	stamp          record.Producer
	topicID        codec.UUID // the topic's ID when it was last sent (zero if unknown)
	err            error

	count       int32
	attempts    int32
	leaderEpoch int32 // of the leader it was last sent to
	// Where its last request placed it (topic and partition index in the request), so
	// that its answer is found without searching the response.
	reqTopic, reqPart int32

	state     batchState
	failure   failKind
	restamped bool // stamp differs from what raw holds
	// maybeWritten: an attempt may have been appended and no answer since says it was
	// not; the batch must not be restamped until one does.
	maybeWritten bool
	// suspect: an OUT_OF_ORDER or UNKNOWN_PRODUCER_ID answer was retried once against
	// fresh metadata before being believed.
	suspect bool
	orphan  bool // reported while in flight; its late outcome only releases it

	// res is the answer to its last request. A batch is in one request at a time, so one
	// result per batch is enough: a per-batch allocation less at thousands of partitions,
	// where a batch holds few records.
	res result
}

// failKind says why a batch failed for good.
type failKind uint8

const (
	noFailure failKind = iota
	failedOutOfOrder
	failedUnknownPID
	failedRejected
	expired
	abandoned
)
