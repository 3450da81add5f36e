package producer

import (
	"context"
	"sync"
)

// budget bounds the producer's memory end to end: every accepted record holds one record
// and its size in bytes from Produce until its final outcome. Produce waits, honouring its
// context, while the budget is spent; nothing else in the pipeline ever waits for budget,
// so the retry path cannot deadlock on it (a retried record already holds its share).
// Because of the budget, the actors' mailboxes can be unbounded in count: together they
// never hold more records than the budget allows.
//
// The budget also keeps flush generations: every record joins the current generation, and
// Flush waits until the generations up to the one current when it was called have no
// records left.
//
// A budget is shared by the goroutines calling Produce and the partition producers that
// report outcomes; it is a mutex-guarded counter, not an actor: "don't be afraid of locks".
type budget struct {
	maxRecords int64
	maxBytes   int64

	mu      sync.Mutex
	records int64
	bytes   int64
	wake    chan struct{} // closed when budget returns, if someone waits; then replaced
	closed  bool
	gens    []genCount    // outstanding records by flush generation, oldest first
	drained chan struct{} // closed when a generation empties, if someone waits; then replaced

	// onSpent, if set, is called (without the lock) when a Produce starts waiting for a
	// budget that was not already being waited for: once per time the budget runs out.
	onSpent func()
}

type genCount struct {
	gen uint32
	n   int64
}

func newBudget(records int, bytes int64) *budget {
	return &budget{maxRecords: int64(records), maxBytes: bytes, gens: []genCount{{gen: 1}}}
}

// acquire takes one record of size bytes, waiting while the budget is spent. It returns
// the record's flush generation, ErrClosed-wrapping errors once the producer closes, or
// an error matching the context's error (and its cause) if ctx ends while it waits.
func (b *budget) acquire(ctx context.Context, size int64) (uint32, error) {
	b.mu.Lock()
	for {
		if b.closed {
			b.mu.Unlock()
			return 0, errProducerClosed
		}
		// A record larger than the whole byte budget was refused at the door; one that
		// fits alone is always let in when nothing else is held.
		if b.records < b.maxRecords && (b.bytes+size <= b.maxBytes || b.records == 0) {
			b.records++
			b.bytes += size
			last := &b.gens[len(b.gens)-1]
			last.n++
			gen := last.gen
			b.mu.Unlock()
			return gen, nil
		}
		spent := b.wake == nil
		if spent {
			b.wake = make(chan struct{})
		}
		wake := b.wake
		b.mu.Unlock()
		if spent && b.onSpent != nil {
			b.onSpent()
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, contextErr(ctx, "refused while waiting for budget")
		}
		b.mu.Lock()
	}
}

// release returns the budget of the records in recs.
func (b *budget) release(recs []Pending) {
	if len(recs) == 0 {
		return
	}
	b.mu.Lock()
	var bytes int64
	for i := range recs {
		bytes += int64(recs[i].size)
		b.genDone(recs[i].gen)
	}
	b.records -= int64(len(recs))
	b.bytes -= bytes
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
	b.mu.Unlock()
}

// genDone counts one record of gen as finished; b.mu is held.
func (b *budget) genDone(gen uint32) {
	for i := range b.gens {
		if b.gens[i].gen != gen {
			continue
		}
		b.gens[i].n--
		// Drop empty generations at the head (the current one always stays).
		emptied := false
		for len(b.gens) > 1 && b.gens[0].n == 0 {
			b.gens = b.gens[1:]
			emptied = true
		}
		if emptied && b.drained != nil {
			close(b.drained)
			b.drained = nil
		}
		return
	}
}

// mark starts a new flush generation and returns the previous one: Flush then waits for
// every record up to it.
func (b *budget) mark() uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.gens[len(b.gens)-1].gen
	b.gens = append(b.gens, genCount{gen: cur + 1})
	// Keep the head non-empty unless it is the current generation, alone (waitFor relies
	// on it): the generation just closed may have had no records.
	for len(b.gens) > 1 && b.gens[0].n == 0 {
		b.gens = b.gens[1:]
	}
	return cur
}

// waitFor waits until no record of generation gen or older is outstanding.
func (b *budget) waitFor(ctx context.Context, gen uint32) error {
	for {
		b.mu.Lock()
		// The oldest generation with records left is at the head; an empty head is the
		// current generation, alone.
		if b.gens[0].gen > gen || b.gens[0].n == 0 {
			b.mu.Unlock()
			return nil
		}
		if b.drained == nil {
			b.drained = make(chan struct{})
		}
		drained := b.drained
		b.mu.Unlock()
		select {
		case <-drained:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// close makes every waiting and future acquire fail.
func (b *budget) close() {
	b.mu.Lock()
	b.closed = true
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
	b.mu.Unlock()
}

// grow raises the most records the budget lets in to n, if that is more, and wakes
// whoever waits for room.
func (b *budget) grow(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n <= b.maxRecords {
		return
	}
	b.maxRecords = n
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}

// recordLimit returns the most records the budget lets in now.
func (b *budget) recordLimit() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.maxRecords
}

// held returns the records and bytes held now.
func (b *budget) held() (int64, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.records, b.bytes
}
