package consumer

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
)

// PartitionConsumer delivers one partition's records, in offset order, each exactly
// once, in batches (Next) or one by one (Records). It survives leader changes, broker
// failures and restarts of its actors without losing, repeating or reordering a record;
// what cannot be survived — a reset or a truncation, both of which can mean loss — is
// reported. Its methods are safe for concurrent use.
//
// Close it when done. Errors on one partition never stop another.
type PartitionConsumer struct {
	p *part
}

// part is a partition's shared state: identity, the refs of its actors, the hand-off to
// its user, and figures published for HighWaterMark and Lag. Its fields are set before
// the partition's actors start and never change, except the atomics.
type part struct {
	c     *Consumer
	about About

	disp   *waker // the dispatcher: the partition's own, or its reader's
	feeder actor.Ref[feedMsg]
	stage  actor.Ref[*Batch] // zero without a stage

	// Exactly one of out and r is set: a PartitionConsumer's partition is delivered by
	// its feeder through out; a Reader's partition has no feeder, its results go to the
	// reader's buffer (see reader).
	out *handoff
	r   *Reader
	q   partQueue // in r's buffer, guarded by r.mu
	idx int32     // its index in r.parts, guarded by r.c.mu and r.mu

	held atomic.Int32 // fetch results handed on and not yet taken (<= prefetch)
	home atomic.Pointer[brokerEntry]

	hwm, lso, logStart, position atomic.Int64

	// Flags, packed together (at thousands of partitions, each padded word counts).
	stopped atomic.Bool // closed or failed: whoever owns the subscription releases it
	paused  atomic.Bool // mirrors out.paused (or the reader's), for the broker consumer and dispatcher
	slow    atomic.Bool // the feeder held a batch past MaxProcessingTime and still holds some
	ended   atomic.Bool // the subscription has ended (subEnded)

	seq int32 // a PartitionConsumer's number among the consumer's partitions, for name
}

// name is a PartitionConsumer's partition's name, "orders/3 #2": unique among the
// consumer's partitions, past and present, and its actors' names. A Reader's partitions
// have no actors, and no name.
func (p *part) name() string {
	return fmt.Sprintf("%s/%d #%d", p.about.Topic, p.about.Partition, p.seq)
}

func (p *part) wakeDispatcher() { p.disp.wake() }

// moved stores the partition's new position, set outside a delivery (a start resolved,
// transaction markers passed with nothing held), and tells a reader waiting to be caught
// up (UntilCaughtUp) to look again.
func (p *part) moved(position int64) {
	p.position.Store(position)
	if p.r != nil {
		signal(p.r.ready)
	}
}

// deliver hands m (given by its owner) to whoever delivers p's results to its user: its
// feeder, or its reader's buffer. It reports false, with m not taken, when the partition
// is stopping.
func (p *part) deliver(m feedMsg) bool {
	if p.r != nil {
		return p.r.push(p, m)
	}
	return p.feeder.TrySend(m) == nil
}

// failDirect ends delivery with err when err could not be queued after what was fetched.
func (p *part) failDirect(err error) {
	if p.out != nil {
		p.out.fail(err)
	}
}

// parked reports whether the partition's subscription is to stay with its dispatcher:
// paused, or its user is slow (a PartitionConsumer's; a slow Reader's partitions keep
// their places, see Reader.watch).
func (p *part) parked() bool {
	return p.paused.Load() || p.slow.Load()
}

// wantsFetch reports whether the partition may be in its broker consumer's next fetch:
// its user has room for another result (and its reader is within its byte budget and
// not slow).
func (p *part) wantsFetch() bool {
	if p.r != nil {
		return p.held.Load() < readerPrefetch && p.r.roomy() && !p.r.slow.Load()
	}
	return p.held.Load() < prefetch
}

// subEnded records that the partition's subscription has ended (been released): a
// Reader's Remove waits for it.
func (p *part) subEnded() {
	p.ended.Store(true)
	if p.r != nil {
		p.r.ended.broadcast()
	}
}

// wakeFeeder nudges a PartitionConsumer's feeder to look at the partition's flags again
// (a Reader's partition has none: the zero Ref refuses the nudge).
func (p *part) wakeFeeder() { _ = p.feeder.Nudge() }

// wakeHome nudges the broker consumer the partition was last subscribed to: to let go of
// a stopped, paused or slow partition at once, or to fetch for it again once its feeder
// has room.
func (p *part) wakeHome() {
	if e := p.home.Load(); e != nil {
		_ = e.Ref().Nudge()
	}
}

// stop makes every owner of the subscription release it, and wakes them.
func (p *part) stop() {
	p.stopped.Store(true)
	p.disp.stopped()
	p.wakeFeeder()
	p.wakeHome()
}

// failed stops the partition after a terminal error that has been queued for its user.
func (p *part) failed(err error) {
	p.c.ev.emit(PartitionFailed{About: p.about, Err: err})
	p.stop()
}

// Topic is the partition's topic.
func (pc *PartitionConsumer) Topic() string { return pc.p.about.Topic }

// Partition is the partition's number.
func (pc *PartitionConsumer) Partition() int32 { return pc.p.about.Partition }

// Next waits for the partition's next batch, bounded by ctx, and returns it; the caller
// owns it. It never returns an empty batch.
//
// Errors: the context's cause; ErrClosed after Close; a *TruncationError (matching
// ErrLogTruncated), after which Next delivers more; and terminal errors, which Next then
// keeps returning: *OutOfRangeError under ResetNone, *UnknownTopicError when the topic
// was deleted, *CorruptError for unreadable data, and errors Kafka does not let a
// consumer retry (authorization, say). Next returns ErrStageAttached on a partition
// whose batches go to a custom stage.
//
// The partition is fetched up to two batches ahead of its user: the fetch of the next
// batch overlaps the caller's processing of this one, and taking a batch makes room for
// another.
func (pc *PartitionConsumer) Next(ctx context.Context) (*Batch, error) {
	if !pc.p.stage.IsZero() {
		return nil, ErrStageAttached
	}
	return pc.p.out.next(ctx)
}

// Records iterates over the partition's records one by one, on top of Next; the
// records belong to the caller. Errors are yielded with a nil record: after a
// *TruncationError the iteration goes on; after any other error (including the
// context's) it ends. Breaking out of the loop leaves the rest of the current batch
// undelivered: it is not offered again.
func (pc *PartitionConsumer) Records(ctx context.Context) iter.Seq2[*troupe.Record, error] {
	return func(yield func(*troupe.Record, error) bool) {
		for {
			b, err := pc.Next(ctx)
			if err != nil {
				if !yield(nil, err) || !errors.Is(err, ErrLogTruncated) {
					return
				}
				continue
			}
			for i := range b.Records {
				if !yield(&b.Records[i], nil) {
					return
				}
			}
		}
	}
}

// HighWaterMark is the partition's high-water mark (the offset after the last record
// committed to all in-sync replicas) as the last fetch response reported it, or -1
// before the first.
func (pc *PartitionConsumer) HighWaterMark() int64 { return pc.p.hwm.Load() }

// Position is the offset the next delivered record will have at least: the NextOffset of
// the last batch taken, or where consumption starts; -1 while the starting offset is
// still being looked up.
func (pc *PartitionConsumer) Position() int64 { return pc.p.position.Load() }

// LastStableOffset is the partition's last stable offset (the first offset of its oldest
// open transaction, or the high-water mark when none is open) as the last fetch response
// reported it, or -1 before the first (or from a broker too old to report it). Under
// ReadCommitted, consumption stops there until the transaction ends.
func (pc *PartitionConsumer) LastStableOffset() int64 { return pc.p.lso.Load() }

// Lag is how many offsets the partition's user is behind the end of what it may read:
// HighWaterMark - Position (LastStableOffset - Position under ReadCommitted), never
// negative, or -1 while either is unknown. Offsets of control records count, as in
// Kafka's own lag figures.
func (pc *PartitionConsumer) Lag() int64 {
	end := pc.p.hwm.Load()
	if pc.p.c.cfg.IsolationLevel == ReadCommitted {
		end = pc.p.lso.Load()
	}
	return lag(end, pc.p.position.Load())
}

// Pause stops the partition: once Pause returns, no batch is handed to Next or the
// stage, and no more is fetched (a fetch already in flight may still bring one more
// result), until Resume. Data already fetched is kept, not dropped: the at most two
// results the feeder holds are delivered first after Resume, and fetching resumes after
// them, so nothing is skipped, fetched twice, or reordered. While paused, the partition
// gives up its place at its broker consumer. Other partitions are not affected.
func (pc *PartitionConsumer) Pause() {
	p := pc.p
	p.out.setPaused(true)
	p.paused.Store(true)
	p.wakeFeeder()
	p.wakeHome()
}

// Resume undoes Pause.
func (pc *PartitionConsumer) Resume() {
	p := pc.p
	p.out.setPaused(false)
	p.paused.Store(false)
	p.wakeFeeder()
	p.wakeDispatcher()
}

// Paused reports whether the partition is paused.
func (pc *PartitionConsumer) Paused() bool { return pc.p.out.isPaused() }

// Done is closed once the partition has stopped for good: Close was called, or a
// terminal error was handed over (Err says which).
func (pc *PartitionConsumer) Done() <-chan struct{} { return pc.p.out.done }

// Err returns the terminal error, ErrClosed after Close, or nil while the partition runs.
func (pc *PartitionConsumer) Err() error { return pc.p.out.err() }

// Close stops the partition: Next returns ErrClosed at once, its actors are stopped and
// its subscription is released. It returns once they have stopped, or with an error
// when ctx ends first (the actors are then stopping; a Consumer.Close waits for them).
// After Close the partition may be consumed again. Close is idempotent.
func (pc *PartitionConsumer) Close(ctx context.Context) error {
	return pc.p.c.closePartition(ctx, pc.p)
}
