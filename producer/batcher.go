package producer

import (
	"time"

	"github.com/troupe-go/troupe/wire/record"
)

// batcher accumulates one partition's records into its open batch and decides when the
// batch is sealed: before a record that would take it past maxBytes, when it holds
// maxRecords, or once linger has passed since its first record (at once while a flush is
// under way). It encodes records as they arrive, into a buffer that becomes the sealed
// batch. It is plain deterministic code; the partition producer gives it the time.
type batcher struct {
	maxBytes   int
	maxRecords int
	linger     time.Duration

	b     *record.Builder
	recs  []Pending
	since time.Time // when the open batch got its first record
	free  [][]byte  // storage of acknowledged batches, for the next ones
	last  int       // records and bytes of the last sealed batch: the next is sized for
	lastN int       // as much, so its storage does not grow by doubling
}

func newBatcher(c *record.Compressor, maxBytes, maxRecords int, linger time.Duration) *batcher {
	return &batcher{maxBytes: maxBytes, maxRecords: maxRecords, linger: linger, b: record.NewBuilder(c)}
}

// fits reports whether p can join the open batch without taking it past maxBytes. An
// empty batch takes any record (records larger than a batch were refused at Produce).
func (bt *batcher) fits(p *Pending) bool {
	// p.size bounds the record's encoding but for its framing (length, attributes, two
	// deltas: at most 21 bytes of varints); compressed batches are sized as if the
	// records did not compress.
	return len(bt.recs) == 0 || bt.b.Size()+int(p.size)+21 <= bt.maxBytes
}

// add appends p to the open batch, giving the record the time now if it has none (a
// zero timestamp on produce means "now").
func (bt *batcher) add(p Pending, now time.Time) {
	if len(bt.recs) == 0 {
		bt.since = now
		var buf []byte
		if n := len(bt.free); n > 0 {
			buf, bt.free = bt.free[n-1], bt.free[:n-1]
		}
		if cap(buf) < bt.last {
			buf = make([]byte, 0, min(bt.last+bt.last/4, bt.maxBytes+1024))
		}
		bt.b.Reset(buf)
		bt.recs = getPendings(bt.lastN + bt.lastN/4)
	}
	if p.rec.Timestamp.IsZero() {
		p.rec.Timestamp = now
	}
	bt.b.Append(p.rec)
	bt.recs = append(bt.recs, p)
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

// take ends the open batch: it returns its records and a batch to seal them into. The
// caller stamps the batch (sequencer.seal) and then calls seal.
func (bt *batcher) take() *batch {
	b := &batch{recs: bt.recs, count: int32(len(bt.recs)), sealedAt: bt.since}
	bt.last, bt.lastN = bt.b.Size(), len(bt.recs)
	b.deadline = b.recs[0].deadline
	for i := range b.recs {
		b.deadline = min(b.deadline, b.recs[i].deadline)
	}
	bt.recs = nil
	return b
}

// seal encodes the batch header with b's stamp.
func (bt *batcher) seal(b *batch) error {
	raw, err := bt.b.Seal(b.stamp)
	if err != nil {
		return err
	}
	b.raw = raw
	b.restamped = false
	return nil
}

// recycle keeps the storage of an acknowledged batch for a later one (as many as can be
// in flight, so an idle partition holds little memory).
func (bt *batcher) recycle(raw []byte) {
	if len(bt.free) < 3 && cap(raw) > 0 {
		bt.free = append(bt.free, raw[:0])
	}
}

// encodeAlone builds a batch of the single record p, for splitting a batch the broker
// refused as too large.
func encodeAlone(c *record.Compressor, p Pending) (*batch, error) {
	bld := record.NewBuilder(c)
	bld.Reset(nil)
	bld.Append(p.rec)
	b := &batch{recs: []Pending{p}, count: 1, deadline: p.deadline}
	raw, err := bld.Seal(record.NoProducer())
	b.raw = raw
	b.restamped = true
	return b, err
}
