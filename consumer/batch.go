package consumer

import (
	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/record"
)

// Batch is what a partition delivers at a time: the records of one fetch response for
// the partition, in offset order, with the partition's log bounds as that response gave
// them. It is never empty unless Err is set.
//
// Records' keys, values and header values alias the fetch response (or the decompressed
// buffer of their record batch): they stay valid for as long as the user keeps them, and
// the library never writes to them again unless the batch is given back with
// Reader.Release. Keeping any record of a response keeps that
// whole response in memory (up to Config.MaxBytes).
//
// Whoever receives a Batch (Next's caller, a Reader's Poll, a custom stage) owns it
// outright: the library never touches it again, and there is nothing to take or
// release. A Reader's caller may give a batch back with Reader.Release once done with
// its records, so that the reader decodes later batches into the same memory instead
// of allocating more; that is optional.
// The library checks its own hand-offs of a batch, up to that point, on an ownership
// record users do not see (built with -tags troupecheck).
type Batch struct {
	own actor.Owned // the library's hand-offs until delivery; released at delivery

	Topic     string
	Partition int32
	// Records are the records delivered, in offset order. Offsets may have gaps
	// (compaction, transaction markers), never repeats.
	Records []troupe.Record
	// NextOffset is the partition's position after this batch: the offset the next batch
	// starts at or after. It is at least the last record's offset + 1, more when the
	// fetch also passed control records or compacted-away offsets.
	NextOffset int64
	// HighWaterMark, LastStableOffset and LogStartOffset are the partition's log bounds
	// as the fetch response reported them (-1 when the broker did not say).
	HighWaterMark    int64
	LastStableOffset int64
	LogStartOffset   int64

	// Err is set only on batches handed to a custom stage, which has no Next to return
	// errors through: such a batch carries no records and reports, in order with the
	// batches around it, what Next would have returned. A *TruncationError
	// (ErrLogTruncated) is followed by more batches; any other Err is the partition's
	// last batch.
	Err error

	terminal bool     // Err ends the partition
	src      *fetched // what it was decoded from, kept until it is taken
	// pooled: Records is a slice of a Reader's own (recordSlices) that no other batch
	// shares, which Reader.Release may take back. A batch split by MaxPollRecords is not:
	// its parts share one array.
	pooled bool
	// frame counts the uses of the fetch response Records alias, on a pooled batch:
	// Release gives this batch's back.
	frame *frame
}

// fetched is one partition's share of a fetch response, as a broker consumer hands it
// to the partition's feeder: the whole, CRC-checked batches that hold records at or
// after from (headers parsed, records not yet decoded), and the log bounds. It aliases
// the response. It is an owned value: the broker consumer creates and gives it, the
// feeder takes it and releases it once the Batch made from it was taken by the user —
// until then, a feeder that fails puts it back in its mailbox for its next incarnation.
// A result without batches only moves the position: past transaction markers (from a
// broker consumer), or to where a reset or a truncation moved it (from the dispatcher).
type fetched struct {
	actor.Owned
	counted  bool // it holds records: it counts against the partition's prefetch
	from     int64
	next     int64 // the position after these batches
	batches  []record.Batch
	hwm      int64
	lso      int64
	logStart int64
	err      error // a terminal error after the batches (corrupt data)
	// frame counts the uses of the response batches alias (nil: not counted); the Batch
	// a Reader decodes takes this result's use over.
	frame *frame
}

// records is how many records f's batches hold by their headers' counts: at most what
// they decode to (the first batch may start before the position).
func (f *fetched) records() int {
	n := 0
	for i := range f.batches {
		n += int(max(f.batches[i].NumRecords, 0))
	}
	return n
}

// decodeFetched decodes f into one Batch for topic and partition, skipping the records
// below f.from (a batch may start before the position the fetch asked for). Records are
// appended to one slice sized from the batches' record counts, taken from slices (a
// Reader's kept slices; nil: a new one): nothing is allocated per record beyond the
// records themselves. If a batch cannot be decoded, the Batch holds the records before it
// and err is a *CorruptError naming it.
func decodeFetched(dec *record.Decoder, slices *recordSlices, topic string, partition int32, f *fetched) (*Batch, error) {
	recs := slices.get(f.records())
	out := &Batch{
		Topic: topic, Partition: partition, NextOffset: f.next,
		HighWaterMark: f.hwm, LastStableOffset: f.lso, LogStartOffset: f.logStart,
		src: f, pooled: slices != nil,
	}
	if out.pooled {
		out.frame, f.frame = f.frame, nil
	}
	for i := range f.batches {
		b := &f.batches[i]
		before := len(recs)
		var err error
		if recs, err = dec.Decode(recs, b, topic, partition); err != nil {
			out.Records = recs
			out.NextOffset = max(b.BaseOffset, f.from)
			return out, &CorruptError{Topic: topic, Partition: partition, Offset: out.NextOffset, Next: b.NextOffset(), Err: err}
		}
		if b.BaseOffset < f.from {
			k := before
			for k < len(recs) && recs[k].Offset < f.from {
				k++
			}
			if before == 0 {
				// The usual case: only the first batch can start early. The records
				// skipped stay in the slice's array, cleared so that a slice given back
				// (Reader.Release) keeps no response reachable.
				clear(recs[:k])
				recs = recs[k:]
			} else {
				recs = append(recs[:before], recs[k:]...)
			}
		}
	}
	out.Records = recs
	return out, nil
}
