package producer

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/cluster"
)

// The accumulator is where records join their partition's open batch: the caller of
// Produce appends its record there itself, under the partition's lock, and so do the
// topic producers for the records that took the actor path (custom stages, a topic not
// described yet). It is not an actor: a partition's open batch is state guarded by a
// mutex (the talk's "don't be afraid of locks"), because at thousands of partitions a
// record handed to an actor per partition costs a goroutine wake-up per record, six times
// kgo's CPU at 3000 partitions (docs/benchmarks.md). The partition producer owns a batch
// from the moment it is sealed.

// topicAcc is one topic's routing state, shared by the callers of Produce and the topic's
// producer actor: its partitioner, the snapshot generation the partitioner last learned
// availability from, and its partitions' accumulators. It outlives the topic producer's
// incarnations.
type topicAcc struct {
	p    *Producer
	name string

	// viaActor counts the records of this topic that took the actor path (the
	// dispatcher and the topic producer) and have not joined a partition's open batch or
	// failed yet. While it is above zero, Produce sends the topic's records the same way,
	// so that none overtakes an earlier one waiting there. Only kept without custom stages
	// (with stages every record takes the actor path).
	viaActor atomic.Int64
	// seen is the topic as the last metadata snapshot a Produce looked at describes it,
	// so that the next Produce against the same snapshot skips the snapshot's map of
	// topics (hashing the name was 5% of a 6-partition run's CPU). Replaced whole when
	// the snapshot changes.
	seen atomic.Pointer[seenTopic]

	mu        sync.Mutex // guards what follows: the partitioner is called under it
	part      TopicPartitioner
	validator Validator // part, if it is one (asserted once: per record it was 1.5% of a run)
	gen       uint64
	avail     []bool
	parts     []*partAcc // by partition; an entry is created with its partition producer
}

// seenTopic is a topic as the metadata snapshot of generation gen describes it (nil: not
// at all). It keeps the generation, not the snapshot: a topic no longer produced to pins
// only its own old description, not a whole cluster's.
type seenTopic struct {
	gen uint64
	t   *cluster.Topic
}

// describe returns the current metadata snapshot and the topic as it describes it.
func (ta *topicAcc) describe() (*cluster.Snapshot, *cluster.Topic) {
	snap := ta.p.client.Snapshot()
	if snap == nil {
		return nil, nil
	}
	if s := ta.seen.Load(); s != nil && s.gen == snap.Generation {
		return snap, s.t
	}
	t := snap.Topic(ta.name)
	ta.seen.Store(&seenTopic{gen: snap.Generation, t: t})
	return snap, t
}

// topicAccs is the producer's routing state by topic: an immutable map, replaced whole
// (under topicsMu) when a topic is added, so that every Produce reads it without a lock.
// (sync.Map took 5% of the CPU of a 6-partition run: it hashes through an interface.)
type topicAccs = map[string]*topicAcc

// topicAcc returns the routing state of topic, creating it on first use.
func (p *Producer) topicAcc(topic string) *topicAcc {
	if ta := (*p.accs.Load())[topic]; ta != nil {
		return ta
	}
	p.topicsMu.Lock()
	defer p.topicsMu.Unlock()
	old := *p.accs.Load()
	if ta := old[topic]; ta != nil {
		return ta
	}
	part := p.cfg.Partitioner.ForTopic(topic)
	validator, _ := part.(Validator)
	ta := &topicAcc{p: p, name: topic, part: part, validator: validator}
	m := make(topicAccs, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[topic] = ta
	p.accs.Store(&m)
	return ta
}

// leftActorPath counts n records of topic as gone from the actor path (appended to their
// partition's open batch, or failed).
func (p *Producer) leftActorPath(topic string, n int) {
	if !p.direct || n == 0 {
		return
	}
	if ta := (*p.accs.Load())[topic]; ta != nil {
		ta.viaActor.Add(-int64(n))
	}
}

// learn tells an AvailabilityAware partitioner which partitions of t have a leader, once
// per snapshot generation; ta.mu is held.
func (ta *topicAcc) learn(t *cluster.Topic, gen uint64) {
	if gen == ta.gen {
		return
	}
	ta.gen = gen
	aw, ok := ta.part.(AvailabilityAware)
	if !ok {
		return
	}
	ta.avail = ta.avail[:0]
	for i := range t.Partitions {
		ta.avail = append(ta.avail, t.Partitions[i].Leader >= 0)
	}
	aw.SetAvailable(ta.avail)
}

// choose runs the partitioner (user code) for r among n partitions; ta.mu is held. A
// panic in it is returned as an *actor.PanicError, with the lock still held.
func (ta *topicAcc) choose(r Pending, n int) (part int, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &actor.PanicError{Actor: "partitioner of " + ta.name, Value: v, Stack: debug.Stack()}
		}
	}()
	if ta.validator != nil {
		if err := ta.validator.Validate(r.rec, n); err != nil {
			return -1, err
		}
	}
	part = ta.part.Partition(r.rec, n, int(r.size))
	if part < 0 || part >= n {
		return -1, errInvalidPartition(ta.name, int64(part), n)
	}
	return part, nil
}

// partition returns the accumulator of partition id, creating it and its partition
// producer (given to one of the drivers) on first use; ta.mu is held. It returns nil if
// the producer is closing.
func (ta *topicAcc) partition(id int) *partAcc {
	for id >= len(ta.parts) {
		ta.parts = append(ta.parts, nil)
	}
	if pa := ta.parts[id]; pa != nil {
		return pa
	}
	p, topic := ta.p, ta.name
	pa := &partAcc{p: p, topic: topic, id: int32(id), bt: batcher{batchLimits: p.limits}}
	pp := newPartition(p, pa)
	pp.ref = p.drivers[p.nextDriver.Add(1)%uint32(len(p.drivers))]
	pa.pp = pp
	// The first message puts the partition in its driver's set. If the driver's mailbox
	// took it, the driver will report whatever the partition holds when it stops for
	// good; if not, the producer is closing and the partition is not created.
	if pp.tell(partMsg{poke: true}) != nil {
		return nil
	}
	ta.parts[id] = pa
	p.registerPartition(pa)
	return pa
}

// partAcc is one partition's accumulator: its open batch (batcher) and the batches sealed
// and not yet taken by the partition producer, under one mutex. Records join it from the
// callers of Produce and from the topic producer; batches are sealed there (full, at a
// Flush or when the budget runs out), or by the lingerer once their linger has passed,
// and from sealing on they belong to the partition producer.
//
// Whoever seals a batch pokes the partition producer, with at most one poke outstanding:
// it takes every sealed batch on the poke. Opening a batch pushes its linger deadline
// onto the producer's linger queue; the partition producer is not woken for it. No
// bounded send happens under the lock (a poke is a try-send to an unbounded mailbox, after
// the lock is released).
type partAcc struct {
	p     *Producer
	topic string
	id    int32
	pp    *partition // the partition producer

	mu     sync.Mutex
	bt     batcher
	opens  uint64   // batches opened so far: the number of the open batch, for the lingerer
	sealed []*batch // sealed, in order, not yet taken by the partition producer
	poked  bool     // a poke is on its way and not yet handled
	closed bool     // the partition producer stopped for good: appends fail
	// held: the partition producer holds batches not yet resolved (in flight, or waiting
	// for a retry, a route or an ID), so one of its steps is sure to come (an outcome,
	// an answer, or its timer). While it does, linger does not seal the open batch: a
	// batch sealed now would only wait behind those, so the open one keeps growing (as
	// kgo's do while a request is in flight), and the partition producer seals it at its
	// next step once its linger has passed (take). At 3000 partitions this is what makes
	// batches hold more than the two or three records a linger period brings each
	// partition (docs/benchmarks.md). Full batches, a Flush and a spent budget seal as
	// before.
	held bool
}

// add appends recs, in order, to the open batch, sealing it whenever the next record
// would not fit, it is full, or it lingered past its time; while a flush is under way
// whatever it holds is sealed at once. It reports false, having added none of them, if the
// partition producer is gone for good. now is when recs were taken in; unless exact is
// set it may be up to a tick old (the clock's reading of a tick), and a batch opened here
// then lingers from a reading of its own, so that linger is never cut short.
func (pa *partAcc) add(recs []Pending, now time.Time, exact bool) bool {
	pa.mu.Lock()
	// Read under the lock: a Flush raises the count before it seals each open batch under
	// this lock, so either it seals what this call leaves open, or this call sees it.
	flushing := pa.p.flushing.Load() > 0
	if pa.closed {
		pa.mu.Unlock()
		return false
	}
	bt := &pa.bt
	if !pa.held && bt.ready(now, false) { // lingered long enough, and the lingerer has not come yet
		pa.sealLocked()
	}
	opened := false
	for i := range recs {
		if bt.empty() {
			pa.opens++
			opened = true
			if !exact {
				now, exact = time.Now(), true
			}
		}
		if !bt.offer(recs[i], now) { // it would not fit: it opens the next batch
			pa.sealLocked()
			pa.opens++
			opened = true
			if !exact {
				now, exact = time.Now(), true
			}
			bt.offer(recs[i], now)
		}
		if bt.full() {
			pa.sealLocked()
		}
	}
	if flushing {
		pa.sealLocked()
	}
	var linger lingerEntry
	if opened && !bt.empty() {
		due, _ := bt.due()
		linger = lingerEntry{due: due, pa: pa, open: pa.opens}
	}
	poke := pa.pokeLocked()
	pa.mu.Unlock()
	if linger.pa != nil {
		pa.p.linger.push(linger)
	}
	if poke {
		pa.poke()
	}
	return true
}

// sealLocked ends the open batch: it joins the sealed ones, its records encoded and its
// header not yet written (the partition producer writes it once its sequencer has
// stamped the batch, so the stamp and the CRC are written once). pa.mu is held.
func (pa *partAcc) sealLocked() {
	if pa.bt.empty() {
		return
	}
	pa.sealed = append(pa.sealed, pa.bt.cut())
}

// pokeLocked reports whether the partition producer must be poked (sealed batches wait
// for it and no poke is outstanding), and notes the poke; pa.mu is held.
func (pa *partAcc) pokeLocked() bool {
	if pa.poked || len(pa.sealed) == 0 {
		return false
	}
	pa.poked = true
	return true
}

// poke wakes the partition producer. It never blocks.
func (pa *partAcc) poke() { _ = pa.pp.tell(partMsg{poke: true}) }

// sealNow seals the open batch if it holds at least the given share of the budget (all of
// it for a nil share), and pokes the partition producer.
func (pa *partAcc) sealNow(s *share) {
	pa.mu.Lock()
	if s == nil || len(pa.bt.recs) >= s.records || int64(pa.bt.bound()) >= s.bytes {
		pa.sealLocked()
	}
	poke := pa.pokeLocked()
	pa.mu.Unlock()
	if poke {
		pa.poke()
	}
}

// sealLingered seals batch number open if it is still the open batch and its linger has
// passed at now (the lingerer's call), and pokes the partition producer.
func (pa *partAcc) sealLingered(open uint64, now time.Time) {
	pa.mu.Lock()
	if pa.opens == open && !pa.held && pa.bt.ready(now, false) {
		pa.sealLocked()
	}
	poke := pa.pokeLocked()
	pa.mu.Unlock()
	if poke {
		pa.poke()
	}
}

// take hands the partition producer the sealed batches (appended to dst), and the open
// batch too if it is due at now (or a flush is under way). When final is set the
// partition producer is stopping for good: the open batch is sealed whatever its age, and
// later appends fail.
func (pa *partAcc) take(dst []*batch, now time.Time, flushing, final bool) []*batch {
	pa.mu.Lock()
	defer pa.mu.Unlock()
	if final {
		pa.closed = true
	}
	if final || pa.bt.ready(now, flushing) {
		pa.sealLocked()
	}
	dst = append(dst, pa.sealed...)
	clear(pa.sealed)
	pa.sealed = pa.sealed[:0]
	pa.poked = false
	return dst
}

// hold records whether the partition producer holds unresolved batches (see held) and
// reports whether it must collect again at once: nothing is held any more and the open
// batch's linger has passed (the lingerer, or an append, skipped it while it was held).
// The partition producer calls it at the end of a step whenever the answer changes.
//
// The time is read (clock) under the lock: the lingerer reads its time before it takes
// the lock, so a lingerer that skipped the batch as held read a time no later than this
// one, and the batch it found due is due here too. (A time read before the lock, as the
// driver's step has, can be earlier than the lingerer's: the batch would then be skipped
// by both and stay open with nobody to seal it.)
func (pa *partAcc) hold(held bool, clock func() time.Time) (due bool) {
	pa.mu.Lock()
	defer pa.mu.Unlock()
	pa.held = held
	return !held && pa.bt.ready(clock(), false)
}
