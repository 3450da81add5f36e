package consumer

import (
	"bytes"
	"testing"
	"unsafe"
)

// The pool hands out its largest buffer, keeps at most maxKeptFrames buffers and limit
// bytes (a larger buffer pushing out the smallest), and is empty, costing nothing, until
// a buffer comes back.
func TestFrameBuffersKeepTheLargest(t *testing.T) {
	fb := &frameBuffers{limit: 100}
	if fb.get() != nil {
		t.Fatal("an empty pool handed out a buffer")
	}
	for _, n := range []int{10, 30, 20} {
		fb.put(make([]byte, 1, n))
	}
	if got := fb.get(); cap(got) != 30 || len(got) != 30 {
		t.Fatalf("got a buffer of length %d, capacity %d; want the largest, 30, whole", len(got), cap(got))
	}
	fb.put(make([]byte, 0, 75)) // 10+20+75 > 100: the smallest (10) gives way
	if fb.kept != 95 || len(fb.free) != 2 {
		t.Fatalf("kept %d bytes in %d buffers, want 95 in 2", fb.kept, len(fb.free))
	}
	fb.put(make([]byte, 0, 15)) // smaller than all kept, over the limit: left to the collector
	if fb.kept != 95 {
		t.Fatalf("kept %d bytes, want 95", fb.kept)
	}
	fb.put(nil)
	fb = &frameBuffers{limit: 1 << 30}
	for range maxKeptFrames + 3 {
		fb.put(make([]byte, 8))
	}
	if len(fb.free) != maxKeptFrames {
		t.Fatalf("kept %d buffers, want at most %d", len(fb.free), maxKeptFrames)
	}
	for range maxKeptFrames {
		fb.get()
	}
	if fb.some.Load() || fb.get() != nil {
		t.Fatal("an emptied pool still says it has buffers")
	}
}

// A frame's buffer goes back to the pool when its last use is given back, not before.
func TestFrameGoesBackAfterItsLastUse(t *testing.T) {
	fb := &frameBuffers{limit: 1 << 20}
	f := newFrame(fb, make([]byte, 64))
	a, b := f.use(), f.use()
	f.done()
	a.done()
	if fb.some.Load() {
		t.Fatal("the buffer went back with a use outstanding")
	}
	b.done()
	if got := fb.get(); cap(got) != 64 {
		t.Fatalf("after the last use the pool has a buffer of capacity %d, want 64", cap(got))
	}
}

// TestReaderReleaseReusesFetchBuffers reads two partitions of 30 record batches, one
// batch per partition per fetch, giving back every batch but those of one poll, which
// it keeps with a copy of their values: later responses are read into the buffers of
// batches given back, every record still arrives once, in order, with its value, and
// the batches kept still hold their values at the end (a buffer is used again only once
// nothing decoded from it is in use). A reader whose user never gives batches back
// leaves the pool empty.
func TestReaderReleaseReusesFetchBuffers(t *testing.T) {
	const parts, batches, per = 2, 30, 40
	cfg := batchedTopic(t, parts, batches, per)
	ctx := ctxT(t)

	c := newConsumer(t, cfg)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	check := newReaderCheck(t)
	var kept []*Batch
	var keptValues [][]byte
	buffers := map[*byte]int{} // the responses' buffers, by their first byte: batches decoded from each
	polls := 0
	for check.n < parts*batches*per {
		bs, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d records: %v", check.n, err)
		}
		polls++
		for _, b := range bs {
			check.batch(b)
			if b.frame == nil {
				t.Fatalf("%s[%d]: a reader's batch counts no response buffer", b.Topic, b.Partition)
			}
			buffers[unsafe.SliceData(b.frame.buf)]++
		}
		if polls == 3 {
			kept = bs
			for _, b := range bs {
				for i := range b.Records {
					keptValues = append(keptValues, bytes.Clone(b.Records[i].Value))
				}
			}
			continue
		}
		r.Release(bs...)
	}
	reused := 0
	for _, n := range buffers {
		reused += n - 1
	}
	// 60 batches in some 30–60 responses: all but the first few read into buffers given back.
	if reused < parts*batches/3 {
		t.Fatalf("%d of %d batches were read into a buffer given back (%d buffers)", reused, parts*batches, len(buffers))
	}
	i := 0
	for _, b := range kept {
		for j := range b.Records {
			if !bytes.Equal(b.Records[j].Value, keptValues[i]) {
				t.Fatalf("%s[%d] offset %d: a batch kept now says %q, was %q (its buffer was used again)",
					b.Topic, b.Partition, b.Records[j].Offset, b.Records[j].Value, keptValues[i])
			}
			i++
		}
	}
	c.frames.mu.Lock() // the reader still fetches: its broker consumer takes buffers
	keptBytes, held := c.frames.kept, len(c.frames.free)
	c.frames.mu.Unlock()
	if keptBytes > c.frames.limit || held > maxKeptFrames {
		t.Fatalf("kept %d bytes in %d buffers, above the limits", keptBytes, held)
	}

	// Never given back: no buffer ever reaches the pool.
	c2 := newConsumer(t, cfg)
	r2, err := c2.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	newReaderCheck(t).pollUntil(ctx, r2, parts*batches*per)
	if c2.frames.some.Load() {
		t.Fatal("a reader whose batches were never given back filled the pool")
	}
}
