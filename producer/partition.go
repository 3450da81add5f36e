package producer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/record"
)

// partMsg is a message to a partition producer (through its driver); one of its fields is
// set.
type partMsg struct {
	poke      bool       // its accumulator holds sealed batches
	result    *result    // the outcome of one attempt of one of its batches
	refreshed *refreshed // the answer to its metadata refresh
	id        *idAnswer  // the answer to its producer ID request
	reset     bool       // the topic was recreated: start sequences afresh
}

type refreshed struct{ err error }

// share is a part of the producer's budget: records and their bytes.
type share struct {
	records int
	bytes   int64
}

type idAnswer struct {
	id  producerID
	err error
}

// result is what happened to one attempt of a batch, as its request's response (or
// failure) said.
type result struct {
	b          *batch
	err        error // the request failed (a *broker.Error), or nil
	code       int16 // the partition's error code in the response
	baseOffset int64
	appendTime int64 // log-append time, or -1
	message    string
}

// partition is the partition producer: the state that owns one partition's batches from
// the moment they are sealed in its accumulator (partAcc) until their records' callbacks
// run. It stamps and orders the sealed batches (sequencer), hands them to the broker
// producer of the partition's leader, and turns each outcome into retries, a re-route to
// a new leader, or the records' callbacks, in offset order. It is not an actor of its own:
// a partition needs state, not a goroutine, and one of the producer's drivers
// (partDriver) runs it, on the driver's goroutine, with the driver's ownership account.
// Records never reach it one by one: the callers of Produce and the topic producer append
// them to the accumulator, and it is stepped per poke (batches sealed), never per record.
//
// Owner: the driver it was given when it was created, for the producer's life. It holds a
// reference on the broker producer it routes to (the broker registry) and releases it when
// the leader moves. Its batches are owned by its driver except while a broker producer or
// connection has them in flight.
type partition struct {
	p     *Producer
	topic string
	id    int32

	ref   actor.Ref[driveMsg] // the mailbox of the driver that drives it, for messages to it
	owner *actor.Owner        // the ownership account of the driver's current incarnation
	acc   *partAcc            // its accumulator
	// Scheduling, kept by its driver.
	driven  bool      // in its driver's set
	dirty   bool      // in its driver's list of partitions to step
	busy    bool      // counted in its driver's busy partitions (the sequencer had batches when last stepped)
	wakeAt  time.Time // when its driver's timer must step it next (zero: never)
	wakeIdx int       // its place in its driver's wakeHeap, -1 if not there
	seq     sequencer
	held    bool // what its accumulator was last told by hold

	route       *brokerEntry // the broker producer of the leader, while known
	leaderEpoch int32
	topicID     codec.UUID // the topic's ID when the route was found
	refreshing  bool       // a metadata refresh is under way
	askingID    bool       // a producer ID request is under way
	needRoute   bool       // the leader must be looked up again before sending

	failures int       // consecutive failed attempts, for the retry backoff
	lastErr  error     // the last failure of an attempt, a route or an ID; nil after a success
	lasting  error     // a failure that waiting will not cure (broker.ErrPermanent), until step fails the batches
	retryAt  time.Time // no sending before this

	// scratch for the sequencer's answers: its driver's, shared by the partitions it
	// drives (it steps one at a time), so that 3000 partitions do not keep 3000 of them.
	scratch *[]*batch
}

// buf returns the scratch slice, empty; done hands it back, cleared, for the next use.
func (pp *partition) buf() []*batch {
	if pp.scratch == nil { // not driven yet (tests): one of its own
		pp.scratch = new([]*batch)
	}
	return (*pp.scratch)[:0]
}

func (pp *partition) done(bs []*batch) {
	clear(bs)
	*pp.scratch = bs[:0]
}

func newPartition(p *Producer, acc *partAcc) *partition {
	return &partition{
		p:     p,
		topic: acc.topic,
		id:    acc.id,
		acc:   acc,
		seq:   newSequencer(p.cfg.idempotent(), 5),
		// The leader is looked up before the first send.
		needRoute: true,
		wakeIdx:   -1,
	}
}

// tell hands m to the partition from any goroutine: to the driver that drives it. It
// never blocks.
func (pp *partition) tell(m partMsg) error { return pp.ref.TrySend(driveMsg{pp: pp, m: m}) }

func (pp *partition) handle(m *partMsg, now time.Time) {
	switch {
	case m.poke: // step takes what the accumulator holds
	case m.result != nil:
		pp.outcome(m.result, now)
	case m.refreshed != nil:
		pp.refreshing = false
		if m.refreshed.err != nil {
			pp.noteErr(m.refreshed.err)
			pp.backoff(now)
		}
	case m.id != nil:
		pp.askingID = false
		if m.id.err != nil {
			pp.noteErr(m.id.err)
			pp.backoff(now)
			break
		}
		pp.seq.setProducer(m.id.id.id, m.id.id.epoch)
	case m.reset:
		pp.seq.reset()
		pp.needRoute = true
	}
}

// collect takes the batches sealed in the accumulator (and the open batch, if it is due
// at now or the partition producer stops for good), queues them in the sequencer, which
// stamps them, and writes their headers (finish: their records were encoded as they joined
// the batch).
func (pp *partition) collect(now time.Time, final bool) {
	bs := pp.acc.take(pp.buf(), now, pp.p.flushing.Load() > 0, final)
	for _, b := range bs {
		b.part = pp
		b.Acquire(pp.owner)
		pp.seq.seal(b)
		if err := finish(pp.p.compressor, b); err != nil {
			// Only a batch past 2 GiB fails here, which MaxBatchBytes rules out. It
			// was last in the sequence and never sent: its sequence numbers go back.
			pp.seq.unseal(b)
			b.err = err
			pp.report(b, notWritten(pp.topic, pp.id, err))
		}
	}
	pp.done(bs)
}

// step does what the time and state call for: seal a lingering batch, give up expired
// batches, ask for a producer ID or a route, send what the sequencer allows, and report
// what is resolved. Then it tells the accumulator whether it still holds unresolved
// batches (partAcc.held), and steps again if the open batch became due meanwhile.
func (pp *partition) step(now time.Time) {
	for {
		pp.stepOnce(now)
		held := pp.seq.pending()
		if held == pp.held {
			return
		}
		pp.held = held
		if !pp.acc.hold(held, time.Now) {
			return
		}
		now = time.Now()
	}
}

func (pp *partition) stepOnce(now time.Time) {
	pp.collect(now, false)
	bs := pp.seq.expire(now.UnixNano(), pp.buf())
	for _, b := range bs {
		b.err = pp.expiredErr(b)
	}
	pp.done(bs)
	if pp.lasting != nil {
		// Waiting until DeliveryTimeout would not help: every batch not in flight fails
		// now. Records that come later try again, and fail the same way if it persists.
		bs := pp.seq.giveUp(pp.buf())
		for _, b := range bs {
			b.err = pp.lasting
		}
		pp.done(bs)
		pp.lasting = nil
	}
	pp.reportDone()
	if !pp.seq.pending() {
		return
	}
	// The backoff after a failure applies to asking for a producer ID too: that request
	// can fail at once (the connection's breaker open), and asking again at once would spin.
	if now.Before(pp.retryAt) {
		return
	}
	if !pp.seq.hasProducer() || pp.seq.needID {
		pp.askForID()
		return
	}
	if pp.needRoute || pp.route == nil {
		if !pp.findRoute() {
			return
		}
	}
	pp.send()
}

// send hands the batches the sequencer allows to the broker producer.
func (pp *partition) send() {
	bs := pp.seq.ready(pp.buf())
	for i, b := range bs {
		if b.restamped {
			if err := record.Restamp(b.raw, b.stamp); err != nil {
				// The batch's bytes are damaged in memory: a bug; fail it rather than send it.
				pp.seq.resolve(b, rejected)
				b.err = err
				continue
			}
			b.restamped = false
		}
		b.leaderEpoch, b.topicID = pp.leaderEpoch, pp.topicID
		b.Give(pp.owner)
		if err := pp.route.Ref().TrySend(bpMsg{b: b}); err != nil {
			// The broker producer is gone (its leader left) or unavailable: nothing of
			// this or the following batches was sent.
			pp.noteErr(fmt.Errorf("broker producer of %s: %w", pp.route.Key(), err))
			b.Take(pp.owner)
			for _, rest := range bs[i:] {
				pp.seq.resolve(rest, notAppended)
			}
			pp.needRoute = true
			pp.backoff(time.Now())
			break
		}
	}
	pp.done(bs)
}

// findRoute looks the leader up in the current snapshot and takes a reference on its
// broker producer; it asks for a refresh if the snapshot has no leader. Routes change
// only while nothing is in flight, so a partition's batches never travel to two brokers
// at once.
func (pp *partition) findRoute() bool {
	if pp.seq.sent > 0 {
		return false
	}
	snap := pp.p.client.Snapshot()
	leader, epoch, err := snap.Leader(pp.topic, pp.id)
	if err != nil {
		pp.refresh()
		return false
	}
	if t := snap.Topic(pp.topic); t.ID != pp.topicID {
		if pp.topicID != (codec.UUID{}) && t.ID != (codec.UUID{}) {
			pp.seq.reset() // recreated under a new ID: sequences start afresh
		}
		pp.topicID = t.ID
	}
	node := leader.Node()
	if pp.route == nil || pp.route.Key() != node {
		next, err := pp.p.brokers.Acquire(node)
		if err != nil {
			// The supervisor is stopping (Close): nothing can be sent; try again after
			// a backoff, until this partition producer too is stopped.
			pp.noteErr(fmt.Errorf("broker producer of %s: %w", node, err))
			pp.needRoute = true
			pp.backoff(time.Now())
			return false
		}
		if pp.route != nil {
			pp.p.brokers.Release(pp.route)
		}
		pp.route = next
	}
	pp.leaderEpoch = epoch
	pp.needRoute = false
	return true
}

func (pp *partition) refresh() {
	if pp.refreshing {
		return
	}
	pp.refreshing = true
	pp.p.client.RefreshAsync(func(_ *cluster.Snapshot, err error) {
		_ = pp.tell(partMsg{refreshed: &refreshed{err: err}})
	}, pp.topic)
}

func (pp *partition) askForID() {
	if pp.askingID {
		return
	}
	pp.askingID = true
	done := func(id producerID, err error) {
		_ = pp.tell(partMsg{id: &idAnswer{id: id, err: err}})
	}
	if pp.seq.needID {
		pp.p.ids.fresh(done)
		return
	}
	pp.p.ids.get(done)
}

// backoff delays the next attempt by Config.Backoff after the partition's consecutive
// failures: Min doubled per failure, capped at Max, with equal jitter.
func (pp *partition) backoff(now time.Time) {
	pp.failures++
	pp.retryAt = now.Add(pp.p.cfg.Backoff.Delay(pp.failures, rand.Float64()))
}

// next returns when the partition must be stepped next, if no message comes first: the
// retry backoff, or the earliest delivery deadline; zero if nothing is due. (The open
// batch's linger is the lingerer's: a partition is not stepped for a batch until it is
// sealed.)
func (pp *partition) next(now time.Time) time.Time {
	var next time.Time
	consider := func(at time.Time) {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if pp.seq.pending() {
		// A retry time that has passed wakes nothing: step has acted on it already, and
		// what it waits for now (outcomes, a route, an ID) comes as a message.
		if pp.retryAt.After(now) {
			consider(pp.retryAt)
		}
		if d := pp.seq.nextDeadline(); d > 0 {
			consider(time.Unix(0, d))
		}
	}
	return next
}

// outcome turns one attempt's result into the sequencer's terms, and into retries, a
// re-route, a split, or failures.
func (pp *partition) outcome(r *result, now time.Time) {
	b := r.b
	b.Take(pp.owner)
	if b.orphan {
		// Abandoned while in flight (Close past its deadline) and already reported.
		b.Release(pp.owner)
		return
	}
	o, err, reroute := classify(r, pp.p.cfg.Acks)
	if (o == outOfOrder || o == unknownPID) && pp.seq.wouldFail(b) {
		o = pp.sequenceLost(b, o)
	}
	switch {
	case o == appended:
		b.baseOffset = r.baseOffset
		b.appendTime = r.appendTime
		pp.failures = 0
		pp.lastErr = nil
	case errors.Is(err, errcode.MessageTooLarge) && b.count > 1:
		pp.seq.resolve(b, notAppended)
		pp.split(b)
		return
	}
	if o != appended {
		b.err = err
		pp.noteErr(err)
		if o != rejected {
			pp.backoff(now)
		}
	}
	if reroute {
		pp.needRoute = true
		pp.refresh()
	}
	pp.seq.resolve(b, o)
}

// sequenceLost decides what an OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID for the
// partition's oldest unresolved batch means. If the topic was recreated under a new ID
// (the broker rightly has no state for this producer on the new partition), sequences
// start afresh and the batch is retried. Otherwise the partition looks at fresh metadata
// once (the recreation may not have been seen yet) before the batch fails with
// ErrSequenceLost.
func (pp *partition) sequenceLost(b *batch, o outcome) outcome {
	if t := pp.p.client.Snapshot().Topic(pp.topic); t != nil && t.ID != pp.topicID && t.ID != (codec.UUID{}) {
		pp.topicID = t.ID
		pp.seq.reset() // the sequencer now treats the answer as the echo it is
		return o
	}
	if !b.suspect {
		b.suspect = true
		pp.needRoute = true
		pp.refresh()
		return notAppended
	}
	return o
}

// split replaces a batch the broker refused as too large with one batch per record; a
// record that is too large on its own then fails alone.
func (pp *partition) split(b *batch) {
	parts := make([]*batch, 0, len(b.recs))
	for _, p := range b.recs {
		part, err := pp.acc.bt.alone(p) // alone reads only what never changes
		part.part = pp
		part.Acquire(pp.owner)
		if err != nil {
			part.err = err
		}
		parts = append(parts, part)
	}
	b.Release(pp.owner)
	pp.seq.split(b, parts)
}

// classify maps a result to the sequencer's outcome, the error to report if the batch
// fails, and whether the partition should look for its leader again.
func classify(r *result, acks Acks) (outcome, error, bool) {
	if r.err != nil {
		if errors.Is(r.err, broker.ErrMaybeSent) {
			return maybeApplied, r.err, true
		}
		return notAppended, r.err, true
	}
	code := errcode.ForCode(r.code)
	switch {
	case code == nil, errors.Is(code, errcode.DuplicateSequenceNumber):
		return appended, nil, false
	case errors.Is(code, errcode.OutOfOrderSequenceNumber):
		return outOfOrder, fmt.Errorf("%w: %w", ErrSequenceLost, code), false
	case errors.Is(code, errcode.UnknownProducerID):
		return unknownPID, fmt.Errorf("%w: %w", ErrSequenceLost, code), false
	case errors.Is(code, errcode.RequestTimedOut), errors.Is(code, errcode.NotEnoughReplicasAfterAppend):
		return maybeApplied, code, false
	case errors.Is(code, errcode.NotLeaderOrFollower), errors.Is(code, errcode.FencedLeaderEpoch),
		errors.Is(code, errcode.UnknownLeaderEpoch), errors.Is(code, errcode.LeaderNotAvailable),
		errors.Is(code, errcode.UnknownTopicOrPartition), errors.Is(code, errcode.UnknownTopicID),
		errors.Is(code, errcode.KafkaStorageError):
		return notAppended, code, true
	case errors.Is(code, errcode.MessageTooLarge), errors.Is(code, errcode.RecordListTooLarge):
		return rejected, fmt.Errorf("%w: %w", ErrRecordTooLarge, code), false
	case errcode.Retriable(code):
		return notAppended, code, false
	}
	if r.message != "" {
		return rejected, fmt.Errorf("%w: %w: %s", ErrRejected, code, r.message), false
	}
	return rejected, fmt.Errorf("%w: %w", ErrRejected, code), false
}

// reportDone runs the callbacks of the batches resolved at the head of the queue, in
// order, and returns their budget.
func (pp *partition) reportDone() {
	bs := pp.seq.takeDone(pp.buf())
	for _, b := range bs {
		pp.report(b, pp.outcomeErr(b, errProducerClosed))
	}
	pp.done(bs)
}

// noteErr keeps err as the partition's last failure, and as a lasting one if waiting
// will not cure it (broker.ErrPermanent: credentials or TLS refused).
func (pp *partition) noteErr(err error) {
	pp.lastErr = err
	if errors.Is(err, broker.ErrPermanent) {
		pp.lasting = err
	}
}

// expiredErr is the error of a batch whose delivery deadline passed: ErrDeliveryTimeout,
// wrapping the last thing that kept the partition from writing it (its own last failure,
// or the partition's: a broker unreachable, no leader, no producer ID), if any.
func (pp *partition) expiredErr(b *batch) error {
	cause := b.err
	if cause == nil {
		cause = pp.lastErr
	}
	if cause == nil {
		return ErrDeliveryTimeout
	}
	return fmt.Errorf("%w: %w", ErrDeliveryTimeout, cause)
}

// outcomeErr is the error a resolved batch reports: nil when it was appended, else a
// RecordError with its own cause (cause if it was abandoned).
func (pp *partition) outcomeErr(b *batch, cause error) error {
	if b.failure == noFailure {
		return nil
	}
	err := b.err
	if err == nil {
		err = ErrRejected
	}
	switch b.failure {
	case expired:
		if !errors.Is(err, ErrDeliveryTimeout) {
			err = ErrDeliveryTimeout
		}
	case abandoned:
		err = cause
	}
	return &RecordError{Topic: pp.topic, Partition: pp.id, MaybeWritten: b.maybeWritten || b.state == inflight, Err: err}
}

// report runs b's callbacks with err (nil: success), returns its budget, and recycles its
// storage.
func (pp *partition) report(b *batch, err error) {
	for i := range b.recs {
		r := b.recs[i].rec
		r.Partition = pp.id
		if err == nil {
			r.Offset = -1
			if b.baseOffset >= 0 && pp.p.cfg.Acks != AcksNone {
				r.Offset = b.baseOffset + int64(i)
			}
			r.LeaderEpoch = b.leaderEpoch
			if b.appendTime >= 0 {
				r.Timestamp = time.UnixMilli(b.appendTime)
			}
		}
		if cb := b.recs[i].cb; cb != nil {
			cb(r, err)
		}
	}
	pp.p.budget.release(b.recs)
	putPendings(b.recs)
	b.recs = nil
	if b.state == inflight {
		// Reported while a connection still has it: its late outcome comes back to
		// Take and Release it.
		b.orphan = true
		return
	}
	if err == nil {
		putBatchBuffer(b.raw)
	}
	b.raw = nil
	b.Release(pp.owner)
}

// abandon fails everything the partition holds (Close past its deadline, or a failed
// incarnation): the open batch and every batch not yet reported, in order. In-flight
// batches may have been written; a late outcome for them is ignored.
func (pp *partition) abandon(cause error) {
	pp.collect(time.Now(), pp.p.closed.Load())
	bs := pp.seq.abandonAll(pp.buf())
	for _, b := range bs {
		// A batch resolved before (appended, or failed for its own reason) and only
		// waiting to be reported behind an earlier one keeps its own outcome.
		pp.report(b, pp.outcomeErr(b, cause))
	}
	pp.done(bs)
	if pp.route != nil {
		pp.p.brokers.Release(pp.route)
		pp.route = nil
	}
}
