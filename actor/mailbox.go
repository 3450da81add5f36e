package actor

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// Overflow says what a send does when the mailbox holds its capacity.
type Overflow uint8

const (
	// Block makes Send wait, honouring its context, until there is room: backpressure.
	// It is the default.
	Block Overflow = iota
	// Fail makes every send return ErrFull at once.
	Fail
	// DropOldest makes room by discarding the oldest queued message, which is handed to
	// the mailbox's OnDrop callback so that whoever owns it can release what it holds.
	DropOldest
)

func (o Overflow) String() string {
	switch o {
	case Block:
		return "block"
	case Fail:
		return "fail"
	case DropOldest:
		return "drop-oldest"
	}
	return "invalid"
}

// DefaultCapacity is the capacity of a mailbox whose MailboxConfig.Capacity is zero.
const DefaultCapacity = 1024

// Unbounded, as MailboxConfig.Capacity, makes a mailbox without a capacity limit. Use it
// only where something else bounds what can be queued, and write that argument down next
// to the choice: infinite buffers smell.
const Unbounded = -1

// MailboxConfig configures an actor's mailbox (Options.Mailbox for Start, ChildSpec.Mailbox
// for a supervised child). The zero value is a blocking mailbox of DefaultCapacity
// messages.
type MailboxConfig[M any] struct {
	// Capacity is the most messages the mailbox holds. Zero means DefaultCapacity;
	// Unbounded means no limit.
	Capacity int
	// Overflow is the policy when the mailbox is full. Zero means Block.
	Overflow Overflow
	// OnDrop, if set, receives every accepted message that will not be handled, once:
	// the oldest one under DropOldest; every message still queued when the mailbox is
	// discarded (its actor exited for good, or its supervisor dropped it), and any put back
	// (Inbox.Unread) after that; and a
	// message that a Receive handler panicked on, or every message of a batch that a
	// ReceiveBatch handler panicked on. It is where whoever owns what a message carries
	// releases or fails it. It runs on the goroutine that caused the drop, never under
	// the mailbox's lock, and must not block.
	OnDrop func(M)
}

// mailbox is an actor's bounded, owned message queue: many goroutines send, exactly one
// goroutine (the owner) receives. Users never hold one: Start makes it and returns its
// Ref, a supervisor makes its children's (through internal/actorhook), and the owner sees
// it as the Inbox its Run receives.
//
// It is a mutex-guarded ring with a wake-up channel rather than a Go channel. Senders pay
// a lock and a copy; the owner wakes on Ready and takes everything queued in one Drain,
// so a burst of n messages costs the owner one wake-up and one lock instead of n channel
// receives. The ring grows by doubling up to the capacity, so an idle mailbox with a
// large capacity costs little memory.
//
// Closing, suspending and discarding the mailbox belong to whoever runs the actor on it:
// its Process (Stop, Cancel, and its end), or its supervisor's slot, which keeps the same
// mailbox across restarts.
type mailbox[M any] struct {
	mu       sync.Mutex
	ring     []M // queued messages: ring[(head+i)%len(ring)] for i < n
	head     int
	n        int
	limit    int // capacity; < 0 when unbounded
	overflow Overflow
	onDrop   func(M)

	closed      bool
	discarded   bool
	unavailable error         // non-nil while suspended; returned by sends
	spaceWait   chan struct{} // closed to wake blocked senders; nil when none wait

	ready    chan struct{} // capacity 1: a pending wake-up for the owner
	closedCh chan struct{} // closed by Close
	gone     chan struct{} // closed by Discard: nothing queued will ever be processed

	replies   atomic.Pointer[any] // *replyPool[T] for the first answer type T asked of it
	name      atomic.Pointer[string]
	received  atomic.Uint64 // messages taken by the owner
	dropped   atomic.Uint64 // messages handed to OnDrop
	highWater atomic.Int64  // deepest the queue has been
}

// newMailbox returns an open, empty mailbox.
func newMailbox[M any](cfg MailboxConfig[M]) *mailbox[M] {
	limit := cfg.Capacity
	switch {
	case limit == 0:
		limit = DefaultCapacity
	case limit < 0:
		limit = Unbounded
	}
	return &mailbox[M]{
		limit:    limit,
		overflow: cfg.Overflow,
		onDrop:   cfg.OnDrop,
		ready:    make(chan struct{}, 1),
		closedCh: make(chan struct{}),
		gone:     make(chan struct{}),
	}
}

// Ref returns a handle through which any goroutine may send to this mailbox.
func (mb *mailbox[M]) Ref() Ref[M] { return Ref[M]{mb: mb} }

// ownerName is the name of the actor that owns the mailbox, once one has been spawned on
// it.
func (mb *mailbox[M]) ownerName() string {
	if p := mb.name.Load(); p != nil {
		return *p
	}
	return ""
}

func (mb *mailbox[M]) setName(name string) { mb.name.Store(&name) }

// queued is the number of messages queued now.
func (mb *mailbox[M]) queued() int {
	mb.mu.Lock()
	n := mb.n
	mb.mu.Unlock()
	return n
}

// Stats returns the mailbox's counters now, for observability (Process.Info carries
// them).
func (mb *mailbox[M]) Stats() MailboxStats {
	return MailboxStats{
		Len:       mb.queued(),
		Cap:       mb.limit,
		Received:  mb.received.Load(),
		Dropped:   mb.dropped.Load(),
		HighWater: int(mb.highWater.Load()),
	}
}

// MailboxStats is a snapshot of a mailbox's counters.
type MailboxStats struct {
	Len       int    // messages queued now
	Cap       int    // capacity, or Unbounded
	Received  uint64 // messages taken by the owner since the mailbox was made
	Dropped   uint64 // messages handed to OnDrop
	HighWater int    // the most messages ever queued at once
}

// send implements Ref.Send and Ref.TrySend.
func (mb *mailbox[M]) send(ctx context.Context, m M, wait bool) error {
	mb.mu.Lock()
	for {
		if err := mb.refuseLocked(); err != nil {
			mb.mu.Unlock()
			return err
		}
		if mb.limit < 0 || mb.n < mb.limit {
			mb.pushLocked(m)
			mb.mu.Unlock()
			return nil
		}
		switch {
		case mb.overflow == DropOldest:
			old := mb.popLocked()
			mb.pushLocked(m)
			mb.mu.Unlock()
			mb.drop(old)
			return nil
		case mb.overflow == Fail || !wait:
			mb.mu.Unlock()
			return ErrFull
		}
		if err := mb.waitForSpaceLocked(ctx); err != nil {
			return err
		}
	}
}

// nudge implements Ref.Nudge. The wake-up is left under the lock, so that the owner's
// Drain after it (which takes the lock) sees what the caller wrote before.
func (mb *mailbox[M]) nudge() error {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if err := mb.refuseLocked(); err != nil {
		return err
	}
	mb.signal()
	return nil
}

// sendBatch implements Ref.SendBatch: as many as fit go in at once, in order, and the
// sender waits (policy Block) for room for the rest.
func (mb *mailbox[M]) sendBatch(ctx context.Context, ms []M) (int, error) {
	if mb.overflow == DropOldest {
		for i, m := range ms {
			if err := mb.send(ctx, m, true); err != nil {
				return i, err
			}
		}
		return len(ms), nil
	}
	sent := 0
	mb.mu.Lock()
	for sent < len(ms) {
		if err := mb.refuseLocked(); err != nil {
			mb.mu.Unlock()
			return sent, err
		}
		room := len(ms) - sent
		if mb.limit >= 0 {
			room = min(room, mb.limit-mb.n)
		}
		if room > 0 {
			wasEmpty := mb.n == 0
			for _, m := range ms[sent : sent+room] {
				mb.appendLocked(m)
			}
			sent += room
			mb.noteDepthLocked()
			if wasEmpty {
				mb.signal()
			}
			continue
		}
		if mb.overflow == Fail {
			mb.mu.Unlock()
			return sent, ErrFull
		}
		if err := mb.waitForSpaceLocked(ctx); err != nil {
			return sent, err
		}
	}
	mb.mu.Unlock()
	return sent, nil
}

// refuseLocked returns the error a send gets now, if any.
func (mb *mailbox[M]) refuseLocked() error {
	if mb.closed {
		return ErrStopped
	}
	return mb.unavailable
}

// waitForSpaceLocked is entered with mb.mu held and returns with it released. It returns
// nil when the sender should retry (re-taking the lock), or the context's error.
func (mb *mailbox[M]) waitForSpaceLocked(ctx context.Context) error {
	if mb.spaceWait == nil {
		mb.spaceWait = make(chan struct{})
	}
	wake := mb.spaceWait
	mb.mu.Unlock()
	select {
	case <-wake:
		mb.mu.Lock()
		return nil
	case <-mb.closedCh:
		mb.mu.Lock()
		return nil // the loop sees closed and returns ErrStopped
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// room implements Ref.Room: the channel blocked senders wait on, or a closed one when a
// send would not wait now.
func (mb *mailbox[M]) room() <-chan struct{} {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.closed || mb.unavailable != nil || mb.limit < 0 || mb.n < mb.limit || mb.overflow == DropOldest {
		return closedChan
	}
	if mb.spaceWait == nil {
		mb.spaceWait = make(chan struct{})
	}
	return mb.spaceWait
}

// wakeSendersLocked releases every sender blocked on a full mailbox.
func (mb *mailbox[M]) wakeSendersLocked() {
	if mb.spaceWait != nil {
		close(mb.spaceWait)
		mb.spaceWait = nil
	}
}

func (mb *mailbox[M]) pushLocked(m M) {
	mb.appendLocked(m)
	mb.noteDepthLocked()
	if mb.n == 1 {
		mb.signal()
	}
}

func (mb *mailbox[M]) noteDepthLocked() {
	if int64(mb.n) > mb.highWater.Load() {
		mb.highWater.Store(int64(mb.n))
	}
}

// appendLocked adds m at the tail, growing the ring by doubling (up to the limit).
func (mb *mailbox[M]) appendLocked(m M) {
	if mb.n == len(mb.ring) {
		mb.growLocked(mb.n + 1)
	}
	mb.ring[mb.wrap(mb.head+mb.n)] = m
	mb.n++
}

// wrap returns ring index i, which may run past the end of the ring by less than its
// length (head + n does), wrapped to the start: a compare, where % would divide on every
// send (rings are powers of two only until a capacity limit sets their size).
func (mb *mailbox[M]) wrap(i int) int {
	if i >= len(mb.ring) {
		i -= len(mb.ring)
	}
	return i
}

// minRing is the size of a mailbox's first ring.
const minRing = 16

func (mb *mailbox[M]) growLocked(need int) {
	size := max(minRing, 2*len(mb.ring))
	for size < need {
		size *= 2
	}
	if mb.limit >= 0 && size > mb.limit {
		size = max(mb.limit, need)
	}
	ring := make([]M, size)
	mb.copyOutLocked(ring)
	mb.ring = ring
	mb.head = 0
}

// copyOutLocked copies the queued messages, oldest first, to dst (len(dst) >= mb.n).
func (mb *mailbox[M]) copyOutLocked(dst []M) {
	if mb.n == 0 {
		return
	}
	end := mb.head + mb.n
	if end <= len(mb.ring) {
		copy(dst, mb.ring[mb.head:end])
		return
	}
	k := copy(dst, mb.ring[mb.head:])
	copy(dst[k:], mb.ring[:end-len(mb.ring)])
}

// popLocked removes and returns the oldest message.
func (mb *mailbox[M]) popLocked() M {
	var zero M
	m := mb.ring[mb.head]
	mb.ring[mb.head] = zero
	mb.head = mb.wrap(mb.head + 1)
	mb.n--
	return m
}

// signal leaves a wake-up for the owner; it never blocks.
func (mb *mailbox[M]) signal() {
	select {
	case mb.ready <- struct{}{}:
	default:
	}
}

func (mb *mailbox[M]) drop(m M) {
	mb.dropped.Add(1)
	if mb.onDrop != nil {
		mb.onDrop(m)
	}
}

// drain implements Inbox.Drain and Inbox.DrainMax.
func (mb *mailbox[M]) drain(dst []M, most int) ([]M, bool) {
	mb.mu.Lock()
	k := mb.n
	if most > 0 && most < k {
		k = most
	}
	if k > 0 {
		dst = slices.Grow(dst, k)
		out := dst[len(dst) : len(dst)+k]
		dst = dst[:len(dst)+k]
		end := mb.head + k
		if end <= len(mb.ring) {
			copy(out, mb.ring[mb.head:end])
			clear(mb.ring[mb.head:end])
		} else {
			n1 := copy(out, mb.ring[mb.head:])
			clear(mb.ring[mb.head:])
			copy(out[n1:], mb.ring[:end-len(mb.ring)])
			clear(mb.ring[:end-len(mb.ring)])
		}
		mb.head = mb.wrap(mb.head + k)
		mb.n -= k
		if mb.n == 0 {
			mb.head = 0
		} else {
			mb.signal() // DrainMax left some: keep the owner's wake-up pending
		}
		mb.wakeSendersLocked()
		mb.received.Add(uint64(k))
	}
	closed := mb.closed && mb.n == 0
	mb.mu.Unlock()
	return dst, closed
}

// compact implements Inbox.Compact: an empty mailbox whose ring grew past its first size
// drops the ring; the next send starts a new one.
func (mb *mailbox[M]) compact() {
	mb.mu.Lock()
	if mb.n == 0 && len(mb.ring) > minRing {
		mb.ring, mb.head = nil, 0
	}
	mb.mu.Unlock()
}

// ringLen is the size of the ring now, for tests.
func (mb *mailbox[M]) ringLen() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.ring)
}

// unread puts ms back at the head of the queue, oldest first, regardless of capacity:
// they were accepted once already. Into a discarded mailbox, where nothing would ever
// take them again, they go to OnDrop instead.
func (mb *mailbox[M]) unread(ms []M) {
	if len(ms) == 0 {
		return
	}
	mb.mu.Lock()
	if mb.discarded {
		mb.mu.Unlock()
		for _, m := range ms {
			mb.drop(m)
		}
		return
	}
	need := mb.n + len(ms)
	if need > len(mb.ring) {
		mb.growLocked(need)
	}
	mb.head = (mb.head - len(ms)%len(mb.ring) + len(mb.ring)) % len(mb.ring)
	for i, m := range ms {
		mb.ring[(mb.head+i)%len(mb.ring)] = m
	}
	mb.n += len(ms)
	mb.received.Add(^uint64(len(ms) - 1)) // they were not processed after all
	mb.noteDepthLocked()
	mb.signal()
	mb.mu.Unlock()
}

// close stops the mailbox from accepting messages: later sends fail with ErrStopped and
// blocked senders wake with ErrStopped. Messages already queued stay, so the owner can
// drain them (a drain stop); Drain reports closed once it has handed out the last one.
// close is idempotent.
func (mb *mailbox[M]) close() {
	mb.mu.Lock()
	if !mb.closed {
		mb.closed = true
		close(mb.closedCh)
		mb.wakeSendersLocked()
		mb.signal()
	}
	mb.mu.Unlock()
}

// discard closes the mailbox and hands every message still queued to OnDrop. It is for
// whoever runs the actor, once the owner has exited for good; afterwards nothing queued
// will ever be processed, and Ask calls waiting on this mailbox return ErrStopped.
// discard is idempotent.
func (mb *mailbox[M]) discard() {
	mb.close()
	mb.mu.Lock()
	if mb.discarded {
		mb.mu.Unlock()
		return
	}
	mb.discarded = true
	left := make([]M, mb.n)
	mb.copyOutLocked(left)
	clear(mb.ring)
	mb.head, mb.n = 0, 0
	close(mb.gone)
	mb.mu.Unlock()
	for _, m := range left {
		mb.drop(m)
	}
}

// dropQueued hands every queued message to OnDrop, leaving the mailbox open and empty.
// A supervisor uses it when a child's breaker opens and the child's messages are not worth
// keeping until it recovers (a connection's pending requests should fail fast instead).
func (mb *mailbox[M]) dropQueued() {
	mb.mu.Lock()
	left := make([]M, mb.n)
	mb.copyOutLocked(left)
	clear(mb.ring)
	mb.head, mb.n = 0, 0
	mb.wakeSendersLocked()
	mb.mu.Unlock()
	for _, m := range left {
		mb.drop(m)
	}
}

// suspend makes every send fail at once with err (which should wrap ErrUnavailable) and
// wakes blocked senders with it, until resume. Queued messages stay queued. A supervisor
// suspends a child's mailbox while the child's circuit breaker is open.
func (mb *mailbox[M]) suspend(err error) {
	mb.mu.Lock()
	mb.unavailable = err
	mb.wakeSendersLocked()
	mb.mu.Unlock()
}

// resume undoes suspend.
func (mb *mailbox[M]) resume() {
	mb.mu.Lock()
	mb.unavailable = nil
	mb.mu.Unlock()
}

// mailboxControl gives the library's supervisor (through internal/actorhook) the
// creator's controls of a mailbox.
type mailboxControl[M any] struct{ mb *mailbox[M] }

func (c mailboxControl[M]) Suspend(err error) { c.mb.suspend(err) }
func (c mailboxControl[M]) Resume()           { c.mb.resume() }
func (c mailboxControl[M]) DropQueued()       { c.mb.dropQueued() }
func (c mailboxControl[M]) Discard()          { c.mb.discard() }
func (c mailboxControl[M]) Stats() any        { return c.mb.Stats() }

// newRef makes the mailbox cfg configures and returns its Ref, for a supervisor
// (actorhook.NewMailbox), which cannot name M.
func (cfg MailboxConfig[M]) newRef() any { return newMailbox(cfg).Ref() }
