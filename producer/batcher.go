package producer

import (
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/record"
)

// batcher accumulates one partition's records into its open batch and decides when the
// batch is sealed: before a record that would take it past maxBytes, when it holds
// maxRecords, or once linger has passed since its first record (at once while a flush is
// under way). It is plain deterministic code; whoever drives it (the accumulator, under
// the partition's mutex) gives it the time.
//
// Records are sized exactly as they arrive and encoded once their batch is sealed (by the
// partition producer, with its stamp: cut, then encode), so that
// the batch's storage is taken once, from a pool shared by every partition (batchBuffers),
// in the smallest size class that holds it, instead of growing while it fills and being
// kept for the partition's next batches, whose size nobody knows yet. (Encoding records as
// they arrive, into storage that grows through the pool, saved 4–11% of CPU but held
// storage from a batch's first record, 2–20 MiB more at peak: docs/benchmarks.md.)
//
// Its limits are shared by every partition of the producer (batchLimits): at thousands of
// partitions, a copy of them and a Builder per partition were a third of what an idle
// producer held.
type batcher struct {
	*batchLimits
	recs    []Pending
	encoded int       // bytes of the open batch's records, encoded (uncompressed)
	firstTS int64     // the open batch's first timestamp (Unix ms), which the others' count from
	since   time.Time // when the open batch got its first record
	// wantN is the record count of the largest batches of late (a high-water mark that
	// decays by an eighth per batch): a new batch's record slice gets room for as many.
	wantN int
}

// batchLimits are what every partition's batcher of a producer shares: the limits of a
// batch, and how to size one. It never changes once made, so any goroutine may read it.
type batchLimits struct {
	maxBytes   int
	maxRecords int
	linger     time.Duration
	timeout    time.Duration      // DeliveryTimeout: a record's deadline is its intake time plus this
	comp       *record.Compressor // nil: no compression
	// sizer only sizes batches (SizeFor, which reads nothing but its codec): it never
	// appends, so sharing it is safe.
	sizer *record.Builder
}

func newBatchLimits(c *record.Compressor, maxBytes, maxRecords int, linger, timeout time.Duration) *batchLimits {
	return &batchLimits{maxBytes: maxBytes, maxRecords: maxRecords, linger: linger, timeout: timeout, comp: c, sizer: record.NewBuilder(c)}
}

// newBatcher returns a batcher with limits of its own (tests; the producer's partitions
// share one batchLimits).
func newBatcher(c *record.Compressor, maxBytes, maxRecords int, linger, timeout time.Duration) batcher {
	return batcher{batchLimits: newBatchLimits(c, maxBytes, maxRecords, linger, timeout)}
}

// bound returns an upper bound on the sealed size of the open batch: exact uncompressed,
// and for compressed batches as if the records did not compress.
func (bt *batcher) bound() int { return bt.sizer.SizeFor(bt.encoded) }

// stamped returns p's record after giving it the time the producer took it in if it has
// no timestamp (a zero timestamp on produce means "now").
func stamped(p *Pending) *troupe.Record {
	if p.rec.Timestamp.IsZero() {
		p.rec.Timestamp = time.Unix(0, p.taken)
	}
	return p.rec
}

// offer adds p to the open batch, opening one if there is none, unless p would take it
// past maxBytes; it reports whether p was added. An empty batch takes any record (records
// larger than a batch were refused at Produce).
func (bt *batcher) offer(p Pending, now time.Time) bool {
	r := stamped(&p)
	if len(bt.recs) == 0 {
		bt.since = now
		bt.recs = getPendings(bt.wantN)
		bt.firstTS = record.TimestampMillis(r)
	}
	n := record.EncodedLen(r, int32(len(bt.recs)), bt.firstTS)
	if len(bt.recs) > 0 && bt.sizer.SizeFor(bt.encoded+n) > bt.maxBytes {
		return false
	}
	if len(bt.recs) == cap(bt.recs) { // grow through the pool, which takes the old slice back
		recs := append(getPendings(2*len(bt.recs)), bt.recs...)
		putPendings(bt.recs)
		bt.recs = recs
	}
	bt.recs = append(bt.recs, p)
	bt.encoded += n
	return true
}

// full reports whether the open batch has reached maxRecords.
func (bt *batcher) full() bool { return len(bt.recs) >= bt.maxRecords }

// empty reports whether there is no open batch.
func (bt *batcher) empty() bool { return len(bt.recs) == 0 }

// due returns when the open batch must be sealed by linger, and false if there is none.
func (bt *batcher) due() (time.Time, bool) {
	if len(bt.recs) == 0 {
		return time.Time{}, false
	}
	return bt.since.Add(bt.linger), true
}

// ready reports whether the open batch should be sealed at now.
func (bt *batcher) ready(now time.Time, flushing bool) bool {
	if len(bt.recs) == 0 {
		return false
	}
	return flushing || bt.full() || !now.Before(bt.since.Add(bt.linger))
}

// cut ends the open batch and returns it, its records not encoded yet (encode does that,
// in the goroutine of the batch's partition producer, with the stamp the sequencer gave
// it). The caller holds whatever guards the batcher; encoding is left out of that so that
// it runs beside the callers of Produce, not in their goroutine.
func (bt *batcher) cut() *batch {
	b := &batch{recs: bt.recs, count: int32(len(bt.recs)), sealedAt: bt.since, bound: bt.bound()}
	taken := b.recs[0].taken // the earliest intake: the batch's deadline counts from it
	for i := range b.recs {
		taken = min(taken, b.recs[i].taken)
	}
	bt.wantN = max(len(bt.recs), bt.wantN-bt.wantN/8)
	b.deadline = taken + int64(bt.timeout)
	bt.recs, bt.encoded = nil, 0
	return b
}

// encode encodes b's records with bld into pooled storage that holds them, stamped with
// b.stamp.
func encode(bld *record.Builder, b *batch) error {
	// Append asks for room for a record's longest length prefix (5 bytes) before it
	// writes a shorter one: without that slack, a buffer of exactly the batch's size
	// would grow, doubled and copied, at the last record.
	bld.Reset(getBatchBuffer(b.bound + 5))
	for i := range b.recs {
		bld.Append(b.recs[i].rec)
	}
	raw, err := bld.Seal(b.stamp)
	if err != nil {
		return err
	}
	b.raw = raw
	b.restamped = false
	return nil
}

// alone builds a batch of the single record p, for splitting a batch the broker refused
// as too large.
func (bt *batcher) alone(p Pending) (*batch, error) {
	bld := record.NewBuilder(bt.comp)
	bld.Reset(nil)
	bld.Append(p.rec)
	b := &batch{recs: []Pending{p}, count: 1, deadline: p.taken + int64(bt.timeout)}
	raw, err := bld.Seal(record.NoProducer())
	b.raw = raw
	b.restamped = true
	return b, err
}
