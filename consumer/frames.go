package consumer

import (
	"sync"
	"sync/atomic"
)

// frameBuffers keeps fetch-response buffers whose records a Reader's user has given back
// (Reader.Release), so that the broker consumers read later responses into them instead
// of allocating: each response is a fresh allocation of up to MaxBytes otherwise, which
// the kernel maps and zeroes page by page as the socket's bytes are copied in (half of
// the page faults of a reader at a few partitions: docs/benchmarks.md, *Fetch buffers
// given back*). Records alias the response they were decoded from, so a buffer can be
// used again only once nothing decoded from it is in use: every batch of it given back,
// counted by a frame.
//
// It is a plain struct with its own lock, shared by a Consumer's broker consumers (which
// take buffers as they send fetches) and its readers' users (whose Release gives them
// back, on any goroutine). Until a buffer comes back it is empty and costs nothing: a
// user who never calls Release never sees it.
type frameBuffers struct {
	mu    sync.Mutex
	free  [][]byte // at most maxKeptFrames, their lengths set to their capacities
	kept  int      // bytes of capacity in free
	limit int      // the most bytes of capacity kept (MaxBufferedBytes)
	some  atomic.Bool
}

// maxKeptFrames is the most buffers kept: a fetch in flight per broker and the responses
// a reader holds decoded or not yet decoded come back and leave again at about the rate
// fetches go out, so a few cover a reader that gives its batches back as it goes.
const maxKeptFrames = 8

// get returns the largest buffer kept, or nil: the connection reads a response into it if
// it is large enough (broker.Call.Frame).
func (fb *frameBuffers) get() []byte {
	if !fb.some.Load() {
		return nil
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	best := -1
	for i := range fb.free {
		if best < 0 || cap(fb.free[i]) > cap(fb.free[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	buf := fb.free[best]
	last := len(fb.free) - 1
	fb.free[best] = fb.free[last]
	fb.free[last] = nil
	fb.free = fb.free[:last]
	fb.kept -= cap(buf)
	fb.some.Store(len(fb.free) > 0)
	return buf
}

// put keeps buf, which nothing refers to any longer, unless that would keep more than
// maxKeptFrames buffers or limit bytes: then the smallest kept gives way to a larger one,
// or buf is left to the collector.
func (fb *frameBuffers) put(buf []byte) {
	if cap(buf) == 0 {
		return
	}
	buf = buf[:cap(buf)]
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if len(fb.free) == maxKeptFrames || fb.kept+cap(buf) > fb.limit {
		small := 0
		for i := range fb.free {
			if cap(fb.free[i]) < cap(fb.free[small]) {
				small = i
			}
		}
		if len(fb.free) == 0 || cap(fb.free[small]) >= cap(buf) || fb.kept-cap(fb.free[small])+cap(buf) > fb.limit {
			return
		}
		fb.kept -= cap(fb.free[small])
		fb.free[small] = buf
		fb.kept += cap(buf)
		return
	}
	fb.free = append(fb.free, buf)
	fb.kept += cap(buf)
	fb.some.Store(true)
}

// frame counts the uses of one fetch response's buffer: the broker consumer handling the
// response holds one until it is done with it, and each result that aliases it (a
// partition's batches) holds one, which goes to the Batch decoded from it and comes back
// when a Reader's user gives that batch back. When the last use is given back the buffer
// goes back to the pool. A use never given back (a batch kept, split by MaxPollRecords,
// delivered to a PartitionConsumer, or dropped unread) leaves the buffer to the
// collector, as if there were no pool.
type frame struct {
	pool *frameBuffers
	buf  []byte
	uses atomic.Int32
}

// newFrame returns the count of buf's uses, with the caller's.
func newFrame(pool *frameBuffers, buf []byte) *frame {
	f := &frame{pool: pool, buf: buf}
	f.uses.Store(1)
	return f
}

// use adds a use: a result that aliases the buffer.
func (f *frame) use() *frame {
	f.uses.Add(1)
	return f
}

// done gives back one use; the last gives the buffer back to the pool. Each use is given
// back at most once (Release gives a batch's back only once).
func (f *frame) done() {
	if f.uses.Add(-1) == 0 {
		f.pool.put(f.buf)
		f.buf = nil
	}
}

// sameBuffer reports whether a and b start at the same byte of the same array.
func sameBuffer(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}
