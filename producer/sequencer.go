package producer

import (
	"math"

	"github.com/troupe-go/troupe/wire/record"
)

// sequencer is one partition's sequencing and retry-ordering state: which batches are
// unresolved, which may be sent now, and what each outcome means for the rest. It is plain
// deterministic code — no goroutines, no clock, no I/O — driven by the partition producer
// and tested exhaustively against a model of a broker (sequencer_test.go).
//
// The rules, for an idempotent producer (Kafka's producer-id, epoch and sequence numbers):
//
//   - Batches are stamped with consecutive sequence numbers as they are sealed, and sent in
//     that order, at most maxInflight at a time.
//   - After any failure the partition holds: nothing new is sent until every batch in
//     flight has resolved. Then the unresolved batches are sent again, in order, with their
//     original stamps, so the broker's duplicate detection (the last five batches) makes a
//     retry of an appended batch a DUPLICATE_SEQUENCE_NUMBER, which counts as success.
//   - OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that is not the first unresolved one is the
//     echo of an earlier failure (the broker refused it because an earlier batch is
//     missing): it is retried silently. For the first unresolved batch, it and
//     UNKNOWN_PRODUCER_ID mean the broker lost acknowledged records or its state for this
//     producer: the batch fails with an error that says so, and the partition recovers.
//   - A batch rejected without being appended (too large, invalid records, ...) fails,
//     which leaves a gap in the sequence: the partition recovers.
//   - A batch whose attempt may have been appended (a timeout, a connection lost after
//     sending) has an unknown outcome; nothing after it is sent until a resend has told
//     what happened to it (appended, or a duplicate: success; OUT_OF_ORDER: not written).
//     Otherwise later batches could push it out of the broker's five-batch memory and its
//     retry would be written twice.
//   - Recovering restamps every unresolved batch under the next epoch from sequence 0
//     (KIP-360: a partition leader accepts a higher epoch starting at 0). It waits until no
//     batch is in flight and none has an unknown outcome, so a restamp can never duplicate
//     a record. At epoch MaxInt16 the partition needs a new producer ID first.
//   - Until a batch stamped with the current producer ID has been appended, one batch at a
//     time. A partition leader with no state for a producer takes any first sequence
//     number from it when the partition holds records (Kafka 2.5+, KIP-360; only an empty
//     partition insists on 0, KAFKA-15591), so nothing on the broker stops a later batch
//     from being appended ahead of an earlier one that failed without being sent. Once a
//     batch is appended the leader has state for the producer, and its sequence check
//     keeps order from then on (a new epoch, too, must start at sequence 0).
//   - Outcomes are reported in sequence order: a batch that resolved early waits for the
//     ones before it, so callbacks run in offset order.
//
// Without idempotence there are no stamps; maxInflight is 1, so a retry cannot overtake a
// later batch, and a retry of a batch that may have been appended may duplicate it.
type sequencer struct {
	idempotent  bool
	maxInflight int

	stamp record.Producer // ID and epoch for new batches; BaseSequence is the next sequence
	q     []*batch        // every batch not yet reported, in sequence order
	sent  int             // batches of q in flight

	hold    bool // a failure happened: send nothing until nothing is in flight
	recover bool // the sequence chain is broken: restamp before sending more
	needID  bool // the epochs of this producer ID are used up: get a new ID to recover
	// confirmed: a batch stamped with the current producer ID was appended, so the leader
	// holds state for it and checks its sequence numbers. Until then, one batch at a time.
	confirmed bool
}

// batchState is where a batch is in its life, as far as the sequencer knows.
type batchState uint8

const (
	queued   batchState = iota // sealed, not in flight; not appended (never sent, or known not to be)
	inflight                   // sent, awaiting its outcome
	unknown                    // its last attempt may have been appended: send it again as it is
	done                       // resolved: succeeded, or failed for good; waiting to be reported
)

// outcome classifies what happened to one attempt of a batch.
type outcome uint8

const (
	appended     outcome = iota // written (including DUPLICATE_SEQUENCE_NUMBER)
	notAppended                 // retriable, and definitely not written
	maybeApplied                // retriable, and perhaps written (timeout, connection lost after sending, NOT_ENOUGH_REPLICAS_AFTER_APPEND)
	outOfOrder                  // OUT_OF_ORDER_SEQUENCE_NUMBER
	unknownPID                  // UNKNOWN_PRODUCER_ID
	rejected                    // not written and not retriable: the batch fails
)

func newSequencer(idempotent bool, maxInflight int) sequencer {
	if !idempotent {
		maxInflight = 1
	}
	return sequencer{idempotent: idempotent, maxInflight: maxInflight, stamp: record.NoProducer()}
}

// setProducer installs the producer ID and epoch to stamp batches with. The first call
// starts sequences at 0; a later call (a new ID after the epochs ran out) takes effect at
// the pending restamp.
func (s *sequencer) setProducer(id int64, epoch int16) {
	first := s.stamp.ID < 0
	s.stamp.ID, s.stamp.Epoch = id, epoch
	if first {
		s.stamp.BaseSequence = 0
		// Batches sealed before the ID was known are stamped now, in order.
		for _, b := range s.q {
			s.stampNext(b)
		}
		return
	}
	if s.needID {
		s.needID = false
		s.confirmed = false // a new ID: the leader has no state for it
		s.restamp(epoch)
	}
}

// hasProducer reports whether batches can be stamped: always without idempotence.
func (s *sequencer) hasProducer() bool { return !s.idempotent || s.stamp.ID >= 0 }

// seal appends a newly sealed batch of b.count records, stamping it if the producer ID is
// known (otherwise setProducer stamps it).
func (s *sequencer) seal(b *batch) {
	b.state = queued
	switch {
	case !s.idempotent:
		b.stamp = record.NoProducer()
	case s.stamp.ID >= 0:
		s.stampNext(b)
	}
	s.q = append(s.q, b)
}

func (s *sequencer) stampNext(b *batch) {
	b.stamp = s.stamp
	b.restamped = true
	s.stamp.BaseSequence = addSeq(s.stamp.BaseSequence, b.count)
}

// addSeq returns seq+n in Kafka's sequence space, which wraps from MaxInt32 to 0.
func addSeq(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

// ready appends to dst the batches to send now, in order, marks them in flight, and
// returns dst. A batch whose stamp changed since its bytes were sealed has restamped set.
func (s *sequencer) ready(dst []*batch) []*batch {
	if !s.hasProducer() {
		return dst
	}
	if s.sent == 0 {
		s.hold = false
		if s.recover && !s.anyUnknown() {
			s.recoverNow()
		}
	}
	if s.hold || s.needID {
		return dst
	}
	// Nothing goes out after a batch whose outcome is unknown until the broker has said
	// what happened to it: were later batches appended, the broker's memory of the last
	// five batches would slide past it, and a retry of it could no longer be recognised
	// as a duplicate.
	limit := len(s.q)
	if i := s.firstInDoubt(); i >= 0 {
		limit = i + 1
	}
	most := s.maxInflight
	if s.idempotent && !s.confirmed {
		most = 1
	}
	unresolvedBefore := false
	for i := 0; i < limit && s.sent < most; i++ {
		b := s.q[i]
		switch b.state {
		case inflight, done:
			unresolvedBefore = unresolvedBefore || b.state == inflight
			continue
		}
		if s.idempotent && b.stamp.BaseSequence == 0 && unresolvedBefore {
			// Where the sequence wraps to 0, wait for the batches before it: a broker
			// that has lost this producer's state takes sequence 0 as a fresh start, and
			// would append this batch ahead of them.
			break
		}
		unresolvedBefore = true
		b.state = inflight
		b.attempts++
		s.sent++
		dst = append(dst, b)
	}
	return dst
}

// resolve records the outcome of b's attempt. b must be in flight.
func (s *sequencer) resolve(b *batch, o outcome) {
	if b.state != inflight {
		return
	}
	s.sent--
	switch o {
	case appended:
		b.state = done
		if b.stamp.ID == s.stamp.ID {
			s.confirmed = true
		}
		return
	case notAppended:
		// This attempt was not written; an earlier one may have been.
		b.state = queued
		if b.maybeWritten && s.idempotent {
			b.state = unknown
		}
	case maybeApplied:
		b.maybeWritten = true
		b.state = unknown
		if !s.idempotent {
			b.state = queued // a retry may duplicate it: allowed without idempotence
		}
	case outOfOrder, unknownPID:
		// The echo of an earlier failure: a batch before it is unresolved, or the chain is
		// already known to be broken (a batch was rejected or given up) and is about to be
		// restamped.
		// Either way the attempt was refused, and no earlier attempt of it was written:
		// that one would have been recognised as a duplicate (the broker remembers the
		// last five batches of a producer, and nothing is sent past a batch in doubt), and
		// UNKNOWN_PRODUCER_ID means the broker has no trace of this producer at all (its
		// state expires only after long inactivity, never with a write in doubt).
		b.maybeWritten = false
		if !s.idempotent || s.recover || !s.isFirstUnresolved(b) {
			b.state = queued
			break
		}
		s.recover = true
		b.state = done
		b.failure = failedOutOfOrder
		if o == unknownPID {
			b.failure = failedUnknownPID
		}
	case rejected:
		b.state = done
		b.failure = failedRejected
		if s.idempotent {
			s.recover = true
		}
	}
	s.hold = true
}

// split replaces b, which was rejected as too large and is not in flight, with parts, in
// its place; the parts need stamps, so the partition recovers.
func (s *sequencer) split(b *batch, parts []*batch) {
	for i, x := range s.q {
		if x != b {
			continue
		}
		for _, p := range parts {
			p.state = queued
		}
		s.q = append(s.q[:i], append(parts, s.q[i+1:]...)...)
		if s.idempotent {
			s.recover = true
		}
		s.hold = true
		return
	}
}

// expire fails, as given up, every batch not in flight whose delivery deadline is at or
// before now, and appends them to dst.
func (s *sequencer) expire(now int64, dst []*batch) []*batch {
	for _, b := range s.q {
		if b.state == inflight || b.state == done || b.deadline > now {
			continue
		}
		b.state = done
		b.failure = expired
		dst = append(dst, b)
		if s.idempotent {
			s.recover = true
		}
	}
	return dst
}

// giveUp fails, as rejected, every batch neither in flight nor done, for a partition that
// cannot write them for a cause waiting will not cure, and appends them to dst. Like an
// expiry, it breaks the sequence chain: later batches are restamped.
func (s *sequencer) giveUp(dst []*batch) []*batch {
	for _, b := range s.q {
		if b.state == inflight || b.state == done {
			continue
		}
		b.state = done
		b.failure = failedRejected
		dst = append(dst, b)
		if s.idempotent {
			s.recover = true
		}
	}
	return dst
}

// reset starts the partition's sequences afresh (its topic was recreated): the unresolved
// batches are restamped once nothing is in flight or unknown.
func (s *sequencer) reset() {
	if s.idempotent {
		s.recover = true
		s.confirmed = false // a new partition: its leader has no state for this producer
	}
}

// takeDone removes the resolved batches at the head of the queue, in order, and appends
// them to dst: the batches whose outcomes can be reported now.
func (s *sequencer) takeDone(dst []*batch) []*batch {
	n := 0
	for n < len(s.q) && s.q[n].state == done {
		dst = append(dst, s.q[n])
		n++
	}
	if n > 0 {
		clear(s.q[:n])
		s.q = s.q[n:]
	}
	return dst
}

// abandonAll removes every batch, in order, and appends it to dst, for a partition that
// gives up (Close past its deadline, a failed incarnation). Unresolved batches are marked
// abandoned; in-flight ones keep state inflight so the caller knows they may yet be
// written. The sequencer is empty afterwards.
func (s *sequencer) abandonAll(dst []*batch) []*batch {
	for _, b := range s.q {
		if b.state != done {
			b.failure = abandoned
		}
		if b.state != inflight {
			b.state = done
		}
		dst = append(dst, b)
	}
	clear(s.q)
	s.q = s.q[:0]
	s.sent = 0
	return dst
}

// unseal takes back the batch just sealed (it could not be encoded): it was the last in
// the queue and never sent, so its sequence numbers are given back.
func (s *sequencer) unseal(b *batch) {
	if n := len(s.q); n > 0 && s.q[n-1] == b {
		s.q = s.q[:n-1]
		if s.idempotent && b.stamp.ID == s.stamp.ID && b.stamp.Epoch == s.stamp.Epoch {
			s.stamp.BaseSequence = b.stamp.BaseSequence
		}
	}
}

// nextDeadline returns the earliest delivery deadline of a batch that can still expire
// (not in flight, not done), or 0.
func (s *sequencer) nextDeadline() int64 {
	var d int64
	for _, b := range s.q {
		if b.state != inflight && b.state != done && (d == 0 || b.deadline < d) {
			d = b.deadline
		}
	}
	return d
}

// wouldFail reports whether an OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID answer
// for b would fail it (rather than be an echo): b is the oldest unresolved batch and the
// sequence chain is not known to be broken already.
func (s *sequencer) wouldFail(b *batch) bool {
	return s.idempotent && !s.recover && s.isFirstUnresolved(b)
}

func (s *sequencer) isFirstUnresolved(b *batch) bool {
	for _, x := range s.q {
		if x == b {
			return true
		}
		if x.state != done {
			return false
		}
	}
	return false
}

func (s *sequencer) anyUnknown() bool { return s.firstUnknown() >= 0 }

// firstInDoubt is the index of the first unresolved batch that may have been appended
// (waiting to be sent again, or being sent again), or -1.
func (s *sequencer) firstInDoubt() int {
	if !s.idempotent {
		return -1
	}
	for i, b := range s.q {
		if b.maybeWritten && b.state != done {
			return i
		}
	}
	return -1
}

func (s *sequencer) firstUnknown() int {
	for i, b := range s.q {
		if b.state == unknown {
			return i
		}
	}
	return -1
}

// recoverNow restamps every unresolved batch under the next epoch, from sequence 0.
func (s *sequencer) recoverNow() {
	if !s.idempotent {
		s.recover = false
		return
	}
	if s.stamp.Epoch == math.MaxInt16 {
		s.needID = true
		return
	}
	s.restamp(s.stamp.Epoch + 1)
}

func (s *sequencer) restamp(epoch int16) {
	s.stamp.Epoch = epoch
	s.stamp.BaseSequence = 0
	for _, b := range s.q {
		if b.state != done {
			s.stampNext(b)
		}
	}
	s.recover = false
}

// pending reports whether any batch is unreported.
func (s *sequencer) pending() bool { return len(s.q) > 0 }
