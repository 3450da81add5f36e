package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/record"
)

// Reader reads any set of partitions — whole topics, several topics, single partitions —
// through one call: Poll returns the next ready batches across all of them, as franz-go's
// PollFetches does, and Batches and Records iterate over them. Per partition, records
// come in offset order, each exactly once, across leader moves, broker failures and
// restarts of the consumer's actors; partitions can be added, removed, paused and
// resumed while it runs, and each has its Position, HighWaterMark and Lag.
//
// A partition costs no goroutine of its own: its fetch position and subscription are
// state, moved by explicit hand-off between the reader's one dispatcher and the broker
// consumers of the partitions' leaders (one per broker, shared with every other reader
// and PartitionConsumer of the Consumer), which put what they fetch in the reader's
// buffer. The buffer holds at most Config.MaxBufferedBytes (and one fetch result per
// partition: the fetch that refills a partition overlaps the caller's processing of what
// Poll returned); Poll visits the partitions in rotation, at most one batch each per call,
// so a busy partition cannot starve the others. MaxProcessingTime applies to the reader
// as a whole: when ready batches wait longer than that for Poll, the reader is slow (a
// SlowReader event) and none of its partitions is fetched until the next Poll; nothing
// is lost, repeated or reordered.
//
// Poll is meant for one goroutine at a time; the other methods are safe for concurrent
// use. Close it (or its Consumer) when done. A Reader has no custom stages: a caller that
// wants per-partition actors hands them the batches Poll returns (or uses
// ConsumePartition with WithStage).
type Reader struct {
	c    *Consumer
	cfg  *Config
	name string // "reader #3"
	disp *waker // the reader's dispatcher

	owner *actor.Owner // owns the results queued in buf
	ended broadcast    // a partition's subscription ended (Remove waits for it)

	mu  sync.Mutex
	buf readerBuffer
	// parts are the partitions it reads, each at its index p.idx; the Consumer's active
	// map finds one by name (a second map here would cost more than the slice).
	parts  []*part
	ends   map[About]int64 // with UntilCaughtUp: where each partition counts as caught up
	until  bool
	closed bool
	since  time.Time    // since when ready results have waited for Poll; zero: none wait
	bytes  atomic.Int64 // the records bytes buf holds
	// reserved is what the broker consumers' fetches in flight for its partitions may
	// still add to buf (each fetch's MaxBytes): the budget counts them too.
	reserved atomic.Int64
	// homes is how many broker consumers its partitions are placed at, the divisor of
	// each fetch's share of the budget (share); moved marks it stale, when a partition
	// is placed at a broker consumer or forgotten, and share counts again.
	homes atomic.Int32
	moved atomic.Bool
	slow  atomic.Bool   // ready results waited past MaxProcessingTime: fetching stopped
	ready chan struct{} // capacity 1: something became ready, or the state changed
	// pollMu is held by a Poll from taking results to handing them over (never while it
	// waits): one Poll at a time owns dec and the slices below, and Remove waits on it for
	// a Poll that may hold results of the partitions it removes.
	pollMu     sync.Mutex
	dec        record.Decoder
	slices     recordSlices // record slices given back (Release), for decode
	takenBuf   []taken
	decodedBuf []decoded
}

// ErrCaughtUp is returned by Poll, after UntilCaughtUp, once every partition the
// reader reads has reached the end it had when asked. Batches and Records end then.
var ErrCaughtUp = errors.New("consumer: caught up")

// NewReader returns a Reader of no partitions yet; Add or AddTopics gives it some. It
// fails only with ErrClosed.
func (c *Consumer) NewReader() (*Reader, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.seq++
	r := &Reader{
		c: c, cfg: &c.cfg, name: fmt.Sprintf("reader #%d", c.seq), disp: &waker{},
		buf: newReaderBuffer(), ready: make(chan struct{}, 1),
	}
	c.readers[r] = struct{}{}
	c.mu.Unlock()
	r.owner = actor.NewOwner(r.name, nil)
	r.dec.MaxDecompressedSize = c.cfg.MaxDecompressedSize
	// Kept for Release: at most the capacity of MaxBufferedBytes/128 records (for the
	// default budget, 409600 records: 53 MiB of troupe.Records).
	r.slices.limit = max(c.cfg.MaxBufferedBytes/128, 4096)
	name := "dispatcher " + r.name
	ref, err := supervisor.Add(c.parts, supervisor.ChildSpec[*subscription]{
		Name:    name,
		Kind:    "dispatcher",
		Restart: supervisor.Transient,
		New:     func() actor.Actor[*subscription] { return &dispatcher{c: c, cfg: &c.cfg, w: r.disp, r: r} },
		// Unbounded, and bounded all the same: each of the reader's partitions has one
		// subscription, and wake-ups are nudges (actor.Ref.Nudge), which queue nothing.
		Mailbox: actor.MailboxConfig[*subscription]{Capacity: actor.Unbounded, OnDrop: dropSubscription},
		Release: releaseDispatcher,
	})
	if err != nil {
		c.mu.Lock()
		delete(c.readers, r)
		c.mu.Unlock()
		return nil, err
	}
	r.disp.ref = ref
	return r, nil
}

// ReadTopics returns a Reader of every partition of topics, each starting at from: the
// usual way to read whole topics (AddTopics on a NewReader).
func (c *Consumer) ReadTopics(ctx context.Context, from Offset, topics ...string) (*Reader, error) {
	r, err := c.NewReader()
	if err != nil {
		return nil, err
	}
	if err := r.AddTopics(ctx, from, topics...); err != nil {
		_ = r.Close(context.Background())
		return nil, err
	}
	return r, nil
}

// AddTopics adds every partition the topics have now, each starting at from. Errors are
// those of Add.
func (r *Reader) AddTopics(ctx context.Context, from Offset, topics ...string) error {
	var parts []About
	for _, topic := range topics {
		t, err := r.c.topic(ctx, topic, 0)
		if err != nil {
			return err
		}
		for p := range t.Partitions {
			parts = append(parts, About{Topic: topic, Partition: int32(p)})
		}
	}
	return r.Add(ctx, from, parts...)
}

// Add starts reading parts, each from from; the reader looks up the starting offsets in
// one ListOffsets request per broker (a lookup that fails is retried by the reader's
// dispatcher). It checks its input first and adds nothing if any of it is wrong: an
// unknown topic fails with an *UnknownTopicError, a partition the topic does not have
// with ErrUnknownPartition, a negative offset (At(n), n < 0)
// with ErrInvalidOffset, a partition this Consumer already reads (in any Reader or
// PartitionConsumer) with ErrAlreadyConsuming, a closed reader with ErrClosed.
//
// Add is how a partition is handed to the reader; Remove hands it back. Partitions added
// together are started together: their subscriptions reach the reader's dispatcher in one
// batch, which asks each leader once for what they need before the first fetch.
func (r *Reader) Add(ctx context.Context, from Offset, parts ...About) error {
	if from.kind == kindExact && from.at < 0 {
		return fmt.Errorf("%w: %d is negative (the ends of the log are Oldest() and Newest())", ErrInvalidOffset, from.at)
	}
	return r.add(ctx, parts, func(About) Offset { return from })
}

// AddOffsets is Add with a start of its own for each partition, as a group member
// resumes each partition it is given at its committed offset (AtEpoch). The starts that
// need a lookup are looked up together, one ListOffsets request per broker and kind of
// start; errors are those of Add, and nothing is added if any of the input is wrong.
func (r *Reader) AddOffsets(ctx context.Context, starts map[About]Offset) error {
	parts := make([]About, 0, len(starts))
	for a := range starts {
		parts = append(parts, a)
	}
	slices.SortFunc(parts, func(a, b About) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	return r.add(ctx, parts, func(a About) Offset { return starts[a] })
}

func (r *Reader) add(ctx context.Context, parts []About, from func(About) Offset) error {
	c := r.c
	ids := make(map[string][16]byte)
	counts := make(map[string]int)
	named := make(map[About]bool, len(parts))
	for _, a := range parts {
		if f := from(a); f.kind == kindExact && f.at < 0 {
			return fmt.Errorf("%w: %s: %d is negative (the ends of the log are Oldest() and Newest())", ErrInvalidOffset, a, f.at)
		}
		if a.Partition < 0 {
			return fmt.Errorf("%w: %s", ErrUnknownPartition, a)
		}
		if named[a] {
			return fmt.Errorf("%w: %s named twice", ErrAlreadyConsuming, a)
		}
		named[a] = true
		n, ok := counts[a.Topic]
		if !ok || int(a.Partition) >= n {
			t, err := c.topic(ctx, a.Topic, a.Partition)
			if err != nil {
				return err
			}
			ids[a.Topic], counts[a.Topic] = t.ID, len(t.Partitions)
		}
	}

	// Register them all, or none.
	c.mu.Lock()
	r.mu.Lock()
	var err error
	switch {
	case c.closed || r.closed:
		err = ErrClosed
	default:
		for _, a := range parts {
			if c.active[a] != nil {
				err = fmt.Errorf("%w: %s", ErrAlreadyConsuming, a)
				break
			}
		}
	}
	if err != nil {
		r.mu.Unlock()
		c.mu.Unlock()
		return err
	}
	added := make([]*part, len(parts))
	for i, a := range parts {
		p := &part{c: c, about: a, r: r, disp: r.disp} // no actors of its own, so no name for them
		for _, v := range []*atomic.Int64{&p.hwm, &p.lso, &p.logStart, &p.position} {
			v.Store(-1)
		}
		c.active[a] = p
		p.idx = int32(len(r.parts))
		r.parts = append(r.parts, p)
		r.buf.add(p)
		added[i] = p
	}
	until := r.until
	r.mu.Unlock()
	c.mu.Unlock()

	// Where each starts, and (after UntilCaughtUp) where each ends: looked up together,
	// so that thousands of partitions cost a few requests, not thousands.
	starts := r.lookup(ctx, parts, from)
	if until {
		if err := r.lookupEnds(ctx, added); err != nil {
			_ = r.Remove(context.Background(), parts...)
			return err
		}
	}
	// Handed over in one batch: the dispatcher takes them all in one step.
	setup := actor.NewOwner("add "+r.name, nil)
	subs := make([]*subscription, len(added))
	for i, p := range added {
		f := from(p.about)
		s := newSubscription(p, f, ids[p.about.Topic], r.cfg)
		if st, ok := starts[p.about]; ok {
			s.start = nil
			s.cur.seek(st.off, st.epoch)
			p.position.Store(st.off)
		} else if f.kind == kindExact {
			p.position.Store(f.at)
		}
		s.Acquire(setup)
		s.Give(setup)
		subs[i] = s
	}
	n, err := r.disp.ref.SendBatch(ctx, subs)
	if err != nil {
		for _, s := range subs[n:] {
			s.Take(setup)
			s.end(setup)
		}
		_ = r.Remove(context.Background(), parts[n:]...)
		return err
	}
	return nil
}

type start struct {
	off   int64
	epoch int32
}

// lookup resolves the starts of parts that need ListOffsets (Oldest, Newest, AtTime),
// one call per kind of start; partitions it could not resolve are left out (their
// dispatcher resolves them, with retries).
func (r *Reader) lookup(ctx context.Context, parts []About, from func(About) Offset) map[About]start {
	byTS := make(map[int64][]About)
	for _, a := range parts {
		if ts, ok := from(a).listTimestamp(); ok {
			byTS[ts] = append(byTS[ts], a)
		}
	}
	if len(byTS) == 0 {
		return nil
	}
	out := make(map[About]start, len(parts))
	for ts, as := range byTS {
		got, err := r.c.listOffsets(ctx, ts, as)
		if err != nil {
			continue
		}
		for a, l := range got {
			if l.off >= 0 {
				out[a] = l
			}
		}
	}
	return out
}

// UntilCaughtUp makes the reader stop at the end of what its partitions hold now: it
// looks up each partition's end (its high-water mark, or last stable offset under
// ReadCommitted) with ListOffsets, and from then on Poll returns ErrCaughtUp once every
// partition's Position has reached its end — at once for empty partitions, which never
// block it. Partitions added later get their end when added; a partition that fails
// (or is removed) no longer counts.
func (r *Reader) UntilCaughtUp(ctx context.Context) error {
	r.mu.Lock()
	parts := slices.Clone(r.parts)
	r.until = true
	r.mu.Unlock()
	return r.lookupEnds(ctx, parts)
}

func (r *Reader) lookupEnds(ctx context.Context, parts []*part) error {
	abouts := make([]About, len(parts))
	for i, p := range parts {
		abouts[i] = p.about
	}
	got, err := r.c.listOffsets(ctx, listNewest, abouts)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.ends == nil {
		r.ends = make(map[About]int64, len(got))
	}
	for a, l := range got {
		r.ends[a] = l.off
	}
	r.mu.Unlock()
	signal(r.ready)
	return nil
}

// caughtUp reports whether UntilCaughtUp's ends are all reached. r.mu is held.
func (r *Reader) caughtUp() bool {
	if !r.until {
		return false
	}
	for _, p := range r.parts {
		end, ok := r.ends[p.about]
		if !ok || p.position.Load() < end {
			return false
		}
	}
	return true
}

// Remove stops reading parts and hands them back. Partitions the reader does not read
// are ignored; afterwards the others may be added again, here or elsewhere.
//
// What Remove guarantees, also while Poll runs on another goroutine:
//   - Once Remove returns, no Poll, Batches or Records returns a batch (or an error) of
//     the removed partitions, until they are added again: what was fetched for them and
//     not yet returned is dropped, including results a concurrent Poll had taken and not
//     yet handed over (Remove waits for that Poll to hand over the rest).
//   - A batch Poll returned before stays the caller's, whole and valid: Remove does not
//     touch it. Its records count as returned.
//   - Remove returns once the partitions' subscriptions have ended (no broker consumer
//     fetches them any more), or with the context's cause; the partitions are out of the
//     reader either way.
//
// The position to commit for a removed partition is the offset after the last record
// Poll returned of it (the NextOffset of its last batch, or where reading started if
// none was): Revoke returns it. Position, read before Remove, is that offset only if no
// Poll runs meanwhile.
func (r *Reader) Remove(ctx context.Context, parts ...About) error {
	_, err := r.remove(ctx, parts)
	return err
}

// Revoke is Remove that also returns, for each partition it removed, the position to
// commit: the offset after the last record Poll returned of it, the NextOffset of its
// last batch (-1 if the partition's starting offset was never known: nothing was
// returned). With a concurrent Poll, this is exact: every batch of the partition that
// Poll returns, before or during Revoke, ends at or below it, and none is returned after.
// It is what a group member commits before giving a partition up, once the batches in
// hand are processed. Partitions the reader does not read have no entry.
func (r *Reader) Revoke(ctx context.Context, parts ...About) (map[About]int64, error) {
	stopped, err := r.remove(ctx, parts)
	out := make(map[About]int64, len(stopped))
	for _, p := range stopped {
		out[p.about] = p.position.Load()
	}
	return out, err
}

// remove takes parts out of the reader and stops them, and waits for a Poll handing
// over results of theirs and for their subscriptions to end.
func (r *Reader) remove(ctx context.Context, parts []About) ([]*part, error) {
	var stopped []*part
	r.c.mu.Lock()
	r.mu.Lock()
	for _, a := range parts {
		p := r.lookupLocked(a)
		if p == nil {
			continue
		}
		stopped = append(stopped, p)
		r.forgetLocked(p)
	}
	r.mu.Unlock()
	r.c.mu.Unlock()
	if len(stopped) == 0 {
		return nil, nil
	}
	for _, p := range stopped {
		p.stop()
	}
	// A Poll that took results of theirs before they were forgotten drops them when it
	// hands its results over: once it has, their positions are final but for moves past
	// transaction markers with nothing held, which need no records returned.
	r.pollMu.Lock()
	//lint:ignore SA2001 an empty critical section: it waits for that Poll
	r.pollMu.Unlock()
	for _, p := range stopped {
		for !p.ended.Load() {
			ch := r.ended.wait()
			if p.ended.Load() {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return stopped, fmt.Errorf("consumer: removing %s: %w", p.about, context.Cause(ctx))
			}
		}
	}
	return stopped, nil
}

// broadcast is a condition to wait on with a context: wait returns a channel that the
// next broadcast closes. (A partition has no channel of its own to say its subscription
// ended: at thousands of partitions, one each costs more than the partition's state.)
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) broadcast() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// forgetLocked takes p out of the reader and its consumer and releases what the buffer
// held for it. r.c.mu and r.mu are held.
func (r *Reader) forgetLocked(p *part) {
	if i := int(p.idx); i < len(r.parts) && r.parts[i] == p {
		last := len(r.parts) - 1
		r.parts[i] = r.parts[last]
		r.parts[i].idx = int32(i)
		r.parts[last] = nil
		r.parts = r.parts[:last]
		if len(r.parts) == 0 {
			r.parts = nil // thousands removed: do not keep their room
		}
		r.moved.Store(true)
	}
	if r.c.active[p.about] == p {
		delete(r.c.active, p.about)
	}
	delete(r.ends, p.about)
	for _, m := range r.buf.remove(p) {
		r.releaseMsg(m)
	}
	r.bytes.Store(r.buf.bytes)
}

// lookupLocked is the reader's partition a, or nil. r.c.mu is held.
func (r *Reader) lookupLocked(a About) *part {
	if p := r.c.active[a]; p != nil && p.r == r {
		return p
	}
	return nil
}

// releaseMsg ends the life of a queued result the user will not get.
func (r *Reader) releaseMsg(m feedMsg) {
	if f := m.fetched; f != nil {
		f.Release(r.owner)
	}
	if n := m.notice; n != nil {
		n.own.Release(r.owner)
	}
}

// push queues m, given by its owner, for p's user; false if p is no longer read.
func (r *Reader) push(p *part, m feedMsg) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	wasReady := r.buf.ready()
	switch r.buf.push(p, m) {
	case pushRefused:
		return false
	case pushMark:
		// Nothing queued before it: the position moves now.
		m.fetched.Take(r.owner)
		p.position.Store(m.fetched.next)
		r.done(p, m.fetched)
		signal(r.ready) // UntilCaughtUp may be reached
		return true
	}
	if m.fetched != nil {
		m.fetched.Take(r.owner)
	} else if m.notice != nil {
		m.notice.own.Take(r.owner)
	}
	r.bytes.Store(r.buf.bytes)
	if !wasReady && r.buf.ready() {
		if r.since.IsZero() {
			r.since = time.Now()
			r.disp.wake() // it keeps MaxProcessingTime (watch)
		}
		signal(r.ready)
	}
	return true
}

// done ends a taken result's count against p's prefetch, waking p's broker consumer if
// that makes room, and releases it. r.mu is held.
func (r *Reader) done(p *part, f *fetched) {
	if f.counted && p.held.Add(-1) == readerPrefetch-1 {
		p.wakeHome()
	}
	f.Release(r.owner)
}

// roomy reports whether the reader is within its byte budget, counting what its fetches
// in flight may bring.
func (r *Reader) roomy() bool {
	return r.bytes.Load()+r.reserved.Load() < int64(r.cfg.MaxBufferedBytes)
}

// share is how many bytes a fetch for the reader's partitions may ask for: a broker's
// share of the budget (so that a reader whose partitions are spread over brokers fetches
// from all of them at once), at most what is left of it. The brokers counted are those
// its partitions are placed at, not the cluster's: a reader of a topic led by 3 of 30
// brokers fetches a third of its budget from each, not a thirtieth.
func (r *Reader) share() int64 {
	budget := int64(r.cfg.MaxBufferedBytes)
	room := budget - r.bytes.Load() - r.reserved.Load()
	return max(min(budget/int64(max(r.brokers(), 1)), room), 1)
}

// brokers is how many broker consumers the reader's partitions are placed at, counted
// again (under r.mu, a pass over its partitions) only after a partition moved: placing
// thousands of partitions costs a count per fetch sent meanwhile, a steady reader none.
func (r *Reader) brokers() int {
	if r.moved.Load() {
		r.mu.Lock()
		if r.moved.Swap(false) {
			seen := make(map[*brokerEntry]struct{}, 8)
			for _, p := range r.parts {
				if e := p.home.Load(); e != nil {
					seen[e] = struct{}{}
				}
			}
			r.homes.Store(int32(len(seen)))
		}
		r.mu.Unlock()
	}
	return int(r.homes.Load())
}

// reserve counts n bytes a fetch for the reader's partitions may bring against its
// budget; unreserve gives them back when the fetch has ended (its results, if any, are
// in the buffer by then), and wakes the broker consumers of its partitions if that
// brings the reader back within its budget.
func (r *Reader) reserve(n int64) { r.reserved.Add(n) }

func (r *Reader) unreserve(n int64) {
	budget := int64(r.cfg.MaxBufferedBytes)
	after := r.reserved.Add(-n)
	held := r.bytes.Load()
	if held+after+n >= budget && held+after < budget {
		r.mu.Lock()
		r.wakeHomesLocked()
		r.mu.Unlock()
	}
}

// watch keeps MaxProcessingTime for the reader; its dispatcher calls it on each wake-up.
// It returns when to call it again (zero: when woken).
//
// A slow reader's partitions keep their subscriptions and places at their broker
// consumers, and are only left out of fetches until the next Poll. Handing them back, as
// a slow PartitionConsumer's partition is, would cost a reader whose caller takes longer
// than MaxProcessingTime per poll a round of hand-backs, broker consumer stops, fetch
// sessions closed and opened again, on every poll, for nothing: the partitions sharing
// their broker consumers are not held back by them either way (a partition left out of
// fetches shortens the long poll for the others, see brokerConsumer.fetch).
func (r *Reader) watch(now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.since.IsZero() || r.slow.Load() || !r.buf.ready() {
		return time.Time{}
	}
	waited := now.Sub(r.since)
	if waited < r.cfg.MaxProcessingTime {
		return r.since.Add(r.cfg.MaxProcessingTime)
	}
	r.slow.Store(true) // its partitions are left out of fetches from now on
	r.c.ev.emit(SlowReader{Reader: r.name, Waited: waited})
	return time.Time{}
}

func (r *Reader) wakeHomesLocked() {
	seen := make(map[*brokerEntry]bool)
	for _, p := range r.parts {
		if e := p.home.Load(); e != nil && !seen[e] {
			seen[e] = true
			_ = e.Ref().Nudge()
		}
	}
}
