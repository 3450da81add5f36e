package record_test

import (
	"fmt"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/record"
)

// A producer builds and seals a batch, re-sequences it after an epoch bump, and a consumer
// reads it back from a fetch response that the broker cut in the middle of the next batch.
func Example() {
	comp, err := record.NewCompressor(record.Compression{Codec: record.Zstd})
	if err != nil {
		panic(err)
	}
	b := record.NewBuilder(comp) // one per partition; compressors are shared
	b.Reset(nil)                 // later: the storage of an acknowledged batch
	ts := time.UnixMilli(1_700_000_000_000)
	for i := range 3 {
		b.Append(&troupe.Record{Key: []byte{'k', byte('0' + i)}, Value: []byte("hello"), Timestamp: ts})
	}
	batch, err := b.Seal(record.Producer{ID: 42, Epoch: 0, BaseSequence: 0})
	if err != nil {
		panic(err)
	}
	// The broker fenced epoch 0: stamp the same bytes with the new epoch.
	if err := record.Restamp(batch, record.Producer{ID: 42, Epoch: 1, BaseSequence: 0}); err != nil {
		panic(err)
	}

	fetched := append(append([]byte{}, batch...), batch[:30]...) // the second batch is cut
	var (
		s    record.Scanner
		d    record.Decoder
		recs []troupe.Record
		next int64
	)
	s.Reset(fetched)
	for s.Next() {
		bt := s.Batch()
		if !bt.Attributes.Control() {
			if recs, err = d.Decode(recs, bt, "events", 0); err != nil {
				panic(err)
			}
		}
		next = bt.NextOffset()
		fmt.Printf("batch: %s, producer %d epoch %d\n", bt.Attributes.Codec(), bt.ProducerID, bt.ProducerEpoch)
	}
	if s.Err() != nil {
		panic(s.Err())
	}
	for _, r := range recs {
		fmt.Printf("%s@%d %s=%s\n", r.Topic, r.Offset, r.Key, r.Value)
	}
	t := s.Tail()
	fmt.Printf("next fetch offset %d; cut batch: have %d bytes, needs all %v, first %v\n", next, t.Have, t.Need == len(batch), t.First)
	// Output:
	// batch: zstd, producer 42 epoch 1
	// events@0 k0=hello
	// events@1 k1=hello
	// events@2 k2=hello
	// next fetch offset 3; cut batch: have 30 bytes, needs all true, first false
}
