package producer

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/troupe-go/troupe/wire/record"
	"pgregory.net/rapid"
)

// brokerModel is a partition leader's idempotence logic, as Kafka documents it: per
// producer ID an epoch, the last appended sequence, and the last five batches for
// duplicate detection. It accepts a higher epoch only at sequence 0 (KIP-360). A producer
// it has never seen may start at any sequence number if the partition holds records
// (Kafka 2.5+, KIP-360), at 0 only if it holds none (KAFKA-15591).
type brokerModel struct {
	log      []int          // batch IDs, one per appended batch (-1: another producer's)
	known    map[int64]bool // producer IDs it has had state for
	hasState bool
	pid      int64
	epoch    int16
	last     int32 // last appended sequence
	recent   []modelBatch
	fenced   bool // a request with an older epoch arrived: must never happen
}

type modelBatch struct {
	base, count int32
	id          int
}

type produceResult uint8

const (
	resAppended produceResult = iota
	resDuplicate
	resOutOfOrder
	resUnknownPID
)

func (m *brokerModel) produce(st record.Producer, count int32, id int) produceResult {
	if st.ID < 0 { // not idempotent
		m.log = append(m.log, id)
		return resAppended
	}
	if !m.hasState || st.ID != m.pid {
		if st.BaseSequence != 0 {
			switch {
			case len(m.log) == 0:
				return resOutOfOrder // KAFKA-15591
			case m.known[st.ID]:
				// Its state expired. (Kafka 2.5+ takes any sequence here too; the model keeps
				// the older answer, which the sequencer can act on.)
				return resUnknownPID
			}
			// Never seen, and the partition holds records: taken as the start.
		}
		m.known[st.ID] = true
		m.hasState, m.pid, m.epoch = true, st.ID, st.Epoch
		m.recent = nil
		return m.append(st, count, id)
	}
	switch {
	case st.Epoch < m.epoch:
		m.fenced = true
		return resOutOfOrder
	case st.Epoch > m.epoch:
		if st.BaseSequence != 0 {
			return resOutOfOrder
		}
		m.epoch, m.recent = st.Epoch, nil
		return m.append(st, count, id)
	}
	for _, r := range m.recent {
		if r.base == st.BaseSequence && r.count == count {
			if r.id != id {
				panic(fmt.Sprintf("duplicate of batch %d matched batch %d", id, r.id))
			}
			return resDuplicate
		}
	}
	if st.BaseSequence != addSeq(m.last, 1) {
		return resOutOfOrder
	}
	return m.append(st, count, id)
}

func (m *brokerModel) append(st record.Producer, count int32, id int) produceResult {
	m.log = append(m.log, id)
	m.last = addSeq(st.BaseSequence, count-1)
	m.recent = append(m.recent, modelBatch{st.BaseSequence, count, id})
	if len(m.recent) > 5 {
		m.recent = m.recent[1:]
	}
	return resAppended
}

// attempt is one request on the wire.
type attempt struct {
	b     *batch
	stamp record.Producer
	id    int
}

func TestPropertySequencerAgainstBrokerModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		idempotent := rapid.Bool().Draw(rt, "idempotent")
		s := newSequencer(idempotent, 5)
		m := &brokerModel{known: map[int64]bool{}}
		if rapid.Bool().Draw(rt, "partitionHoldsRecords") {
			m.log = []int{-1} // written by another producer before
		}
		pid := int64(1000)
		if idempotent {
			start := rapid.SampledFrom([]int32{0, math.MaxInt32 - 3}).Draw(rt, "startSeq")
			epoch := rapid.SampledFrom([]int16{0, math.MaxInt16 - 1}).Draw(rt, "startEpoch")
			s.setProducer(pid, epoch)
			s.stamp.BaseSequence = start
			m.hasState, m.pid, m.epoch, m.last = true, pid, epoch, addSeq(start, -1+0)
			m.known[pid] = true
			if start == 0 {
				m.hasState = false
			} else {
				m.last = start - 1
			}
		}
		ids := map[*batch]int{}
		var sealed []*batch
		var wire []attempt
		var reported []*batch
		now := int64(0)
		var buf []*batch

		deliver := func(fault int) {
			a := wire[0]
			wire = wire[1:]
			b := a.b
			switch fault {
			case 0, 1, 2: // delivered, answered
				switch m.produce(a.stamp, b.count, a.id) {
				case resAppended, resDuplicate:
					s.resolve(b, appended)
				case resOutOfOrder:
					s.resolve(b, outOfOrder)
				case resUnknownPID:
					s.resolve(b, unknownPID)
				}
			case 3: // lost before reaching the broker, and the client knows it
				s.resolve(b, notAppended)
			case 4: // appended, answer lost
				m.produce(a.stamp, b.count, a.id)
				s.resolve(b, maybeApplied)
			case 5: // lost on the way, client times out
				s.resolve(b, maybeApplied)
			case 6: // NOT_LEADER_OR_FOLLOWER
				s.resolve(b, notAppended)
			case 7: // rejected (MESSAGE_TOO_LARGE, INVALID_RECORD)
				s.resolve(b, rejected)
			case 8: // NOT_ENOUGH_REPLICAS_AFTER_APPEND: written, reported as an error
				if r := m.produce(a.stamp, b.count, a.id); r == resAppended || r == resDuplicate {
					s.resolve(b, maybeApplied)
				} else if r == resOutOfOrder {
					s.resolve(b, outOfOrder)
				} else {
					s.resolve(b, unknownPID)
				}
			}
		}
		send := func() {
			buf = s.ready(buf[:0])
			if s.needID { // the partition producer would get a new ID from InitProducerID
				pid++
				s.setProducer(pid, 0)
				buf = s.ready(buf[:0])
			}
			for _, b := range buf {
				b.restamped = false
				wire = append(wire, attempt{b: b, stamp: b.stamp, id: ids[b]})
			}
		}

		steps := rapid.IntRange(0, 200).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0, 1, 2:
				b := &batch{count: int32(rapid.IntRange(1, 4).Draw(rt, "count")), deadline: now + int64(rapid.IntRange(1, 50).Draw(rt, "ttl"))}
				ids[b] = len(sealed)
				sealed = append(sealed, b)
				s.seal(b)
			case 3, 4:
				send()
			case 5, 6, 7:
				if len(wire) > 0 {
					deliver(rapid.IntRange(0, 8).Draw(rt, "fault"))
				}
			case 8:
				now += int64(rapid.IntRange(1, 10).Draw(rt, "tick"))
				s.expire(now, nil)
			case 9:
				// The broker forgets this producer (its state expired while the producer was
				// idle): realistic only when no write of ours is in doubt, since no client can
				// deduplicate against state the broker no longer has.
				if len(wire) == 0 && !s.anyUnknown() && rapid.IntRange(0, 9).Draw(rt, "stateLoss") == 0 {
					m.hasState = false
				}
			}
			reported = s.takeDone(reported)
		}
		// Heal: no more faults; everything resolves.
		for i := 0; s.pending(); i++ {
			if i > 10000 {
				rt.Fatalf("sequencer did not settle: %d batches unreported", len(s.q))
			}
			send()
			for len(wire) > 0 {
				deliver(0)
			}
			reported = s.takeDone(reported)
			now++
		}

		if m.fenced {
			rt.Fatalf("a request went out with an epoch older than one the broker had seen")
		}
		// Every sealed batch reported exactly once, in sealing order.
		if len(reported) != len(sealed) {
			rt.Fatalf("%d sealed, %d reported", len(sealed), len(reported))
		}
		for i, b := range reported {
			if ids[b] != i {
				rt.Fatalf("report %d is batch %d: out of order", i, ids[b])
			}
		}
		// What the log holds agrees with what was reported.
		inLog := map[int]int{}
		for _, id := range m.log {
			inLog[id]++
		}
		for _, b := range reported {
			id, n := ids[b], inLog[ids[b]]
			if idempotent && n > 1 {
				rt.Fatalf("batch %d appended %d times with idempotence", id, n)
			}
			switch b.failure {
			case noFailure:
				if n == 0 {
					rt.Fatalf("batch %d reported written but not in the log", id)
				}
			case failedRejected, failedOutOfOrder, failedUnknownPID:
				// Reported as not written unless an earlier attempt may have been.
				if n != 0 && idempotent && !b.maybeWritten {
					rt.Fatalf("batch %d reported not written (%v) but is in the log", id, b.failure)
				}
			case expired:
				if b.attempts == 0 && n != 0 {
					rt.Fatalf("batch %d never sent but in the log", id)
				}
			}
		}
		// The log is in sealing order: a retry never overtakes a later batch.
		if idempotent {
			if !slices.IsSorted(m.log) {
				rt.Fatalf("log out of order: %v", m.log)
			}
		} else {
			// Without idempotence, duplicates are allowed but first occurrences are ordered.
			var firsts []int
			seen := map[int]bool{}
			for _, id := range m.log {
				if !seen[id] {
					seen[id] = true
					firsts = append(firsts, id)
				}
			}
			if !slices.IsSorted(firsts) {
				rt.Fatalf("first occurrences out of order: %v", m.log)
			}
		}
	})
}

func TestSequenceWrapsAfterMaxInt32(t *testing.T) {
	if got := addSeq(math.MaxInt32-2, 3); got != 0 {
		t.Fatalf("MaxInt32-2 + 3 = %d, want 0", got)
	}
	if got := addSeq(math.MaxInt32, 1); got != 0 {
		t.Fatalf("MaxInt32 + 1 = %d, want 0", got)
	}
	if got := addSeq(math.MaxInt32-1, 5); got != 3 {
		t.Fatalf("MaxInt32-1 + 5 = %d, want 3", got)
	}
	s := newSequencer(true, 5)
	s.setProducer(1, 0)
	s.stamp.BaseSequence = math.MaxInt32 - 1
	a, b := &batch{count: 2}, &batch{count: 2}
	s.seal(a)
	s.seal(b)
	if a.stamp.BaseSequence != math.MaxInt32-1 || b.stamp.BaseSequence != 0 {
		t.Fatalf("stamps across the wrap: %d, %d", a.stamp.BaseSequence, b.stamp.BaseSequence)
	}
}

func TestEpochExhaustionNeedsNewProducerID(t *testing.T) {
	s := newSequencer(true, 5)
	s.setProducer(7, math.MaxInt16)
	b := &batch{count: 1}
	s.seal(b)
	sent := s.ready(nil)
	s.resolve(sent[0], rejected) // a gap: the partition must restamp under a new epoch
	c := &batch{count: 1}
	s.seal(c)
	if got := s.ready(nil); len(got) != 0 || !s.needID {
		t.Fatalf("sent %d batches at epoch MaxInt16 without a new ID (needID %v)", len(got), s.needID)
	}
	s.setProducer(8, 0)
	got := s.ready(nil)
	if len(got) != 1 || got[0] != c || c.stamp != (record.Producer{ID: 8, Epoch: 0, BaseSequence: 0}) {
		t.Fatalf("after a new ID: %v, stamp %+v", got, c.stamp)
	}
}

func TestOutOfOrderEchoIsSilentButAtHeadIsReported(t *testing.T) {
	s := newSequencer(true, 5)
	s.setProducer(1, 0)
	s.confirmed = true // the leader has state for the producer: batches go out five at a time
	var bs []*batch
	for range 3 {
		b := &batch{count: 1}
		bs = append(bs, b)
		s.seal(b)
	}
	sent := s.ready(nil)
	if len(sent) != 3 {
		t.Fatalf("sent %d", len(sent))
	}
	s.resolve(bs[0], notAppended) // NOT_LEADER
	s.resolve(bs[1], outOfOrder)  // echo of batch 0's failure
	s.resolve(bs[2], outOfOrder)
	if bs[1].failure != noFailure || bs[2].failure != noFailure {
		t.Fatal("an echo failed a batch")
	}
	resent := s.ready(nil)
	if len(resent) != 3 || resent[0].stamp.Epoch != 0 || resent[0].stamp.BaseSequence != 0 {
		t.Fatalf("resend: %d batches, stamp %+v", len(resent), resent[0].stamp)
	}
	s.resolve(bs[0], outOfOrder) // at the head: the broker lost state
	if bs[0].failure != failedOutOfOrder {
		t.Fatal("OUT_OF_ORDER_SEQUENCE_NUMBER at the head did not fail the batch")
	}
	s.resolve(bs[1], outOfOrder)
	s.resolve(bs[2], outOfOrder)
	if done := s.takeDone(nil); len(done) != 1 || done[0] != bs[0] {
		t.Fatalf("reported %v", done)
	}
	again := s.ready(nil)
	if len(again) != 2 || again[0].stamp != (record.Producer{ID: 1, Epoch: 1, BaseSequence: 0}) || again[1].stamp.BaseSequence != 1 {
		t.Fatalf("recovery: %d batches, first stamp %+v", len(again), again[0].stamp)
	}
}

func TestNothingIsRestampedWhileAnOutcomeIsUnknown(t *testing.T) {
	s := newSequencer(true, 5)
	s.setProducer(1, 0)
	s.confirmed = true // the leader has state for the producer: batches go out five at a time
	a, b, c := &batch{count: 1}, &batch{count: 1}, &batch{count: 1}
	s.seal(a)
	s.seal(b)
	s.seal(c)
	s.ready(nil)
	s.resolve(a, maybeApplied) // timed out: may be in the log
	s.resolve(b, rejected)     // a gap: recovery needed
	s.resolve(c, outOfOrder)
	got := s.ready(nil)
	if len(got) != 1 || got[0] != a || a.stamp.Epoch != 0 {
		t.Fatalf("with an unknown outcome pending, sent %d batches (a's epoch %d)", len(got), a.stamp.Epoch)
	}
	s.resolve(a, appended) // DUPLICATE: it was written
	got = s.ready(nil)
	if len(got) != 1 || got[0] != c || c.stamp.Epoch != 1 || c.stamp.BaseSequence != 0 {
		t.Fatalf("after the unknown resolved: %v stamp %+v", len(got), c.stamp)
	}
}

// Until a batch of the producer ID is appended, one batch at a time: the leader has no
// state for the producer and would take a later batch as the start of its sequence.
func TestOneBatchInFlightUntilTheLeaderKnowsTheProducer(t *testing.T) {
	s := newSequencer(true, 5)
	s.setProducer(1, 0)
	a, b, c := &batch{count: 1}, &batch{count: 1}, &batch{count: 1}
	s.seal(a)
	s.seal(b)
	s.seal(c)
	if got := s.ready(nil); len(got) != 1 || got[0] != a {
		t.Fatalf("a new producer ID sent %d batches at once", len(got))
	}
	s.resolve(a, notAppended) // failed without being sent: it goes again, first
	if got := s.ready(nil); len(got) != 1 || got[0] != a {
		t.Fatalf("after a failure, sent %d batches, the first %v", len(got), got[0] == a)
	}
	s.resolve(a, appended)
	if got := s.ready(nil); len(got) != 2 {
		t.Fatalf("once a batch was appended, sent %d of the 2 left", len(got))
	}

	// A new producer ID (the epochs ran out) starts again at one at a time.
	s = newSequencer(true, 5)
	s.setProducer(1, math.MaxInt16)
	s.confirmed = true
	d, e := &batch{count: 1}, &batch{count: 1}
	s.seal(d)
	s.seal(e)
	s.resolve(s.ready(nil)[0], rejected) // a gap at epoch MaxInt16: a new ID is needed
	s.resolve(e, notAppended)
	s.ready(nil)
	s.seal(&batch{count: 1})
	s.setProducer(2, 0)
	if got := s.ready(nil); len(got) != 1 {
		t.Fatalf("a new producer ID after epoch exhaustion sent %d batches at once", len(got))
	}
}

// giveUp (a cause waiting will not cure) fails every batch not in flight, keeps the one in
// flight for its outcome, reports them in order, and, like an expiry, breaks the sequence
// chain: the next batch goes out under a bumped epoch from sequence 0.
func TestGiveUpFailsWhatIsNotInFlight(t *testing.T) {
	s := newSequencer(true, 5)
	s.setProducer(1, 0)
	s.confirmed = true
	a, b, c := &batch{count: 1}, &batch{count: 1}, &batch{count: 1}
	s.seal(a)
	if got := s.ready(nil); len(got) != 1 || got[0] != a {
		t.Fatalf("sent %d batches", len(got))
	}
	s.seal(b)
	s.seal(c)
	got := s.giveUp(nil)
	if len(got) != 2 || got[0] != b || got[1] != c || b.failure != failedRejected || c.failure != failedRejected {
		t.Fatalf("gave up %d batches (want b and c, rejected)", len(got))
	}
	if a.state != inflight || a.failure != noFailure {
		t.Fatalf("the batch in flight was given up too")
	}
	if done := s.takeDone(nil); len(done) != 0 {
		t.Fatalf("reported %d batches behind one in flight", len(done))
	}
	s.resolve(a, appended)
	if done := s.takeDone(nil); len(done) != 3 || done[0] != a || done[1] != b || done[2] != c {
		t.Fatalf("reported %d batches, out of order or incomplete", len(done))
	}
	d := &batch{count: 1}
	s.seal(d)
	if got := s.ready(nil); len(got) != 1 || got[0] != d || d.stamp.Epoch != 1 || d.stamp.BaseSequence != 0 {
		t.Fatalf("after giving up, the next batch's stamp %+v", d.stamp)
	}
}
