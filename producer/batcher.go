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
// Each record is encoded into the open batch's storage as it joins it (offer), in the
// goroutine of whoever appends it — mostly the caller of Produce, which has just written
// the record and still has it in its cache. The batch's header (producer stamp, counts,
// CRC) is written once the partition producer's sequencer has stamped the sealed batch
// (finish), and compression happens then too. (Encoding at seal instead, in the partition
// producer's goroutine, read every record a second time from another core, a batch after
// the caller wrote it: that first read was 13% of a 6-partition run's CPU,
// docs/benchmarks.md.) The storage comes from a pool shared by every partition
// (batchBuffers): the open batch takes a buffer of the class its partition's recent
// batches needed, and moves to the next class up if it outgrows it.
//
// Its limits are shared by every partition of the producer (batchLimits): at thousands of
// partitions, a copy of them and a Builder per partition were a third of what an idle
// producer held.
type batcher struct {
	*batchLimits
	recs []Pending
	// buf is the open batch's storage: BatchHeaderSize bytes of room for the header, then
	// its records, encoded (uncompressed).
	buf     []byte
	firstTS int64     // the open batch's first timestamp (Unix ms), which the others' count from
	maxTS   int64     // its largest timestamp
	since   time.Time // when the open batch got its first record
	lingerd time.Time // since + linger, once per batch: ready asks after every record
	// wantN is the record count of the largest batches of late (a high-water mark that
	// decays by an eighth per batch): a new batch's record slice gets room for as many.
	wantN int
	// wantBytes is the encoded size of the partition's batches of late (an average that
	// moves an eighth of the way to each batch's size): a new batch's storage is of the
	// size class that holds it, and moves to the next class up if the batch outgrows it.
	// (A high-water mark, as for wantN, gave every open batch storage for the largest
	// batch of late, whatever it got: 15 MiB more peak RSS at 300 partitions.)
	wantBytes int
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
func (bt *batcher) bound() int { return bt.sizer.SizeFor(bt.encoded()) }

// encoded returns the bytes of the open batch's records, encoded (uncompressed).
func (bt *batcher) encoded() int { return max(0, len(bt.buf)-record.BatchHeaderSize) }

// stamped returns p's record after giving it the time the producer took it in if it has
// no timestamp (a zero timestamp on produce means "now"), and that timestamp in
// milliseconds (as record.TimestampMillis gives it).
func stamped(p *Pending) (*troupe.Record, int64) {
	if p.rec.Timestamp.IsZero() {
		p.rec.Timestamp = time.Unix(0, p.taken)
		return p.rec, p.taken / int64(time.Millisecond) // intake times are after 1970
	}
	return p.rec, record.TimestampMillis(p.rec)
}

// offer adds p to the open batch, encoding its record there, opening one if there is
// none, unless p would take it past maxBytes; it reports whether p was added. An empty
// batch takes any record (records larger than a batch were refused at Produce).
func (bt *batcher) offer(p Pending, now time.Time) bool {
	r, ts := stamped(&p)
	if len(bt.recs) == 0 {
		bt.since, bt.lingerd = now, now.Add(bt.linger)
		bt.recs = getPendings(bt.wantN)
		bt.firstTS, bt.maxTS = ts, ts
		bt.buf = append(getBatchBuffer(record.BatchHeaderSize+bt.wantBytes), make([]byte, record.BatchHeaderSize)...)
	}
	off := int32(len(bt.recs))
	sz := record.Size(r, off, ts, bt.firstTS) // each length computed once, for the check and the append
	n := sz.Len
	if off > 0 && bt.sizer.SizeFor(bt.encoded()+n) > bt.maxBytes {
		return false
	}
	if len(bt.recs) == cap(bt.recs) { // grow through the pool, which takes the old slice back
		recs := append(getPendings(2*len(bt.recs)), bt.recs...)
		putPendings(bt.recs)
		bt.recs = recs
	}
	if cap(bt.buf)-len(bt.buf) < n { // the next class up, through the pool too
		buf := append(getBatchBuffer(max(2*cap(bt.buf), len(bt.buf)+n)), bt.buf...)
		putBatchBuffer(bt.buf)
		bt.buf = buf
	}
	bt.recs = append(bt.recs, p)
	bt.buf = record.AppendSized(bt.buf, r, sz)
	bt.maxTS = max(bt.maxTS, ts)
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
	return bt.lingerd, true
}

// ready reports whether the open batch should be sealed at now.
func (bt *batcher) ready(now time.Time, flushing bool) bool {
	if len(bt.recs) == 0 {
		return false
	}
	return flushing || bt.full() || !now.Before(bt.lingerd)
}

// cut ends the open batch and returns it, its records encoded and its header not yet
// written (finish does that, in the goroutine of the batch's partition producer, with the
// stamp the sequencer gave it). The caller holds whatever guards the batcher.
func (bt *batcher) cut() *batch {
	b := &batch{recs: bt.recs, count: int32(len(bt.recs)), bound: bt.bound(),
		raw: bt.buf, firstTS: bt.firstTS, maxTS: bt.maxTS}
	taken := b.recs[0].taken // the earliest intake: the batch's deadline counts from it
	for i := range b.recs {
		taken = min(taken, b.recs[i].taken)
	}
	bt.wantN = max(len(bt.recs), bt.wantN-bt.wantN/8)
	bt.wantBytes += (bt.encoded() - bt.wantBytes) / 8
	b.deadline = taken + int64(bt.timeout)
	bt.recs, bt.buf = nil, nil
	return b
}

// finish writes the header of b, whose records cut left encoded in b.raw, with the stamp
// b.stamp, compressing them with comp (nil: none) into pooled storage; the uncompressed
// records' storage then goes back to the pool. On an error b is left as it was.
func finish(comp *record.Compressor, b *batch) error {
	var out []byte
	if comp != nil {
		out = getBatchBuffer(b.bound)
	}
	raw, err := record.SealRecords(comp, out, b.raw, b.count, b.firstTS, b.maxTS, b.stamp)
	if err != nil {
		putBatchBuffer(out)
		return err
	}
	if comp != nil {
		putBatchBuffer(b.raw)
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
