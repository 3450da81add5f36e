package producer

import (
	"math/bits"
	"sync"
)

// classPool recycles slices of T by capacity class: a power of two from 2^minClass to
// 2^maxClass elements. One pool for all sizes would hand a large request a small slice,
// which it would drop for a new one, and a small request a large slice, which would then
// sit in a small use; with few classes, a slice of the right one is likely to be there
// when asked for, at the price of up to twice the room needed. Slices outside the classes
// are not pooled: smaller ones are cheap to make, larger ones rare.
type classPool[T any] struct {
	minClass, maxClass int
	// strict serves from the pool only requests of at least the smallest class's size
	// (smaller ones get a slice of their own size), and takes back only slices it made:
	// another slice would go to the class below its capacity, and be up to four times the
	// size asked for when handed out again. Otherwise small requests get a slice of the
	// smallest class, and any slice is taken back.
	strict bool
	// clear zeroes a slice put back, so that pooled slices hold nothing alive.
	clear bool
	pools []sync.Pool // by class
}

func newClassPool[T any](minClass, maxClass int, strict, clear bool) *classPool[T] {
	return &classPool[T]{minClass: minClass, maxClass: maxClass, strict: strict, clear: clear, pools: make([]sync.Pool, maxClass+1)}
}

// get returns an empty slice with room for at least n elements.
func (cp *classPool[T]) get(n int) []T {
	c := bits.Len(uint(max(n, 1) - 1)) // the smallest class holding n
	if c < cp.minClass {
		if cp.strict {
			return make([]T, 0, n)
		}
		c = cp.minClass
	}
	if c > cp.maxClass {
		return make([]T, 0, n)
	}
	if s, ok := cp.pools[c].Get().(*[]T); ok {
		return (*s)[:0]
	}
	return make([]T, 0, 1<<c)
}

// put recycles s, which its giver must no longer use.
func (cp *classPool[T]) put(s []T) {
	c := bits.Len(uint(cap(s))) - 1 // 2^c <= cap(s)
	if c < cp.minClass || c > cp.maxClass || (cp.strict && cap(s) != 1<<c) {
		return
	}
	if cp.clear {
		clear(s)
	}
	s = s[:0]
	cp.pools[c].Put(&s)
}

// pendingSlices recycles the []Pending slices that carry records between the actors (the
// dispatcher's bites, a batch's records) so that moving records in batches allocates
// nothing in the steady state: from 4 records to about a million. A slice grown by append
// is pooled too, in the class below its capacity. (The smallest class was 64 records: at
// 3000 partitions, where batches hold a few records, that was 2 KiB for each open, sealed
// and in-flight batch.)
var pendingSlices = newClassPool[Pending](2, 20, false, true)

// getPendings returns an empty slice with room for at least n records.
func getPendings(n int) []Pending { return pendingSlices.get(n) }

// putPendings recycles s, clearing it so that it holds no records alive.
func putPendings(s []Pending) { pendingSlices.put(s) }

// batchBuffers recycles the storage of sealed batches once the broker has acknowledged
// them, for batches sealed later by any partition, from 256 bytes to 64 MiB (at
// thousands of partitions most batches hold a few records). A batch's
// storage is taken when it is sealed, in the smallest class that holds it; a buffer the
// pool did not make (one a Builder grew, or a split batch's) is left to the garbage
// collector.
var batchBuffers = newClassPool[byte](8, 26, true, false)

// getBatchBuffer returns an empty buffer with room for at least n bytes.
func getBatchBuffer(n int) []byte { return batchBuffers.get(n) }

// putBatchBuffer recycles b, which nothing may use any more.
func putBatchBuffer(b []byte) { batchBuffers.put(b) }
