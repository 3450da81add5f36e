package producer

import (
	"math/bits"
	"sync"
)

// pendingSlices recycles the []Pending slices that carry records between the actors (the
// dispatcher's bites, the topic producer's per-partition shares, a batch's records) so
// that moving records in batches allocates nothing in the steady state. The slices are
// pooled by capacity class, a power of two from 2^minPendingClass to 2^maxPendingClass:
// one pool for all sizes would hand a large request a small slice, which it would drop
// for a new one, and a small request a large slice, which would then sit in a small use.
// A slice put back must no longer be referenced by its giver; it is cleared before reuse
// so that it holds no records alive.
var pendingSlices [maxPendingClass + 1]sync.Pool

const (
	minPendingClass = 6  // 64 records
	maxPendingClass = 20 // about a million records; larger slices are not pooled
)

// pendingClass returns the smallest class whose slices hold n records.
func pendingClass(n int) int {
	if n <= 1<<minPendingClass {
		return minPendingClass
	}
	return bits.Len(uint(n - 1))
}

// getPendings returns an empty slice with room for at least n records.
func getPendings(n int) []Pending {
	c := pendingClass(n)
	if c > maxPendingClass {
		return make([]Pending, 0, n)
	}
	if s, ok := pendingSlices[c].Get().(*[]Pending); ok {
		return (*s)[:0]
	}
	return make([]Pending, 0, 1<<c)
}

// putPendings recycles s into the class its capacity fills (a slice grown by append
// past its class's size goes to the class below the one it would need).
func putPendings(s []Pending) {
	c := bits.Len(uint(cap(s))) - 1 // 2^c <= cap(s)
	if c < minPendingClass || c > maxPendingClass {
		return
	}
	clear(s)
	s = s[:0]
	pendingSlices[c].Put(&s)
}

// batchBuffers recycles the storage of sealed batches once the broker has acknowledged
// them, for batches sealed later by any partition. A batch's storage is taken when it
// is sealed, at the size it needs, so the buffers are pooled by size class: a power of two
// from 2^minBufferClass to 2^maxBufferClass bytes. Few classes make a buffer of the right
// one likely to be there when asked for, at the price of up to twice the room needed.
// Smaller batches are too cheap to pool, and larger ones too rare.
var batchBuffers [maxBufferClass + 1]sync.Pool

const (
	minBufferClass = 12 // 4 KiB
	maxBufferClass = 26 // 64 MiB
)

// getBatchBuffer returns an empty buffer with room for at least n bytes.
func getBatchBuffer(n int) []byte {
	c := bits.Len(uint(n - 1)) // 2^c >= n
	if c < minBufferClass || c > maxBufferClass {
		return make([]byte, 0, n)
	}
	if b, ok := batchBuffers[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// putBatchBuffer recycles b, which nothing may use any more, if getBatchBuffer made it:
// a buffer of another size (one a Builder grew, or a split batch's) would be up to four
// times the size asked for when handed out again.
func putBatchBuffer(b []byte) {
	c := bits.Len(uint(cap(b))) - 1 // 2^c <= cap(b)
	if c < minBufferClass || c > maxBufferClass || cap(b) != 1<<c {
		return
	}
	b = b[:0]
	batchBuffers[c].Put(&b)
}
