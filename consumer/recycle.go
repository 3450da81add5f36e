package consumer

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/troupe-go/troupe"
)

// recordSlices keeps the record slices of batches a Reader's user gave back
// (Reader.Release), for the reader's next decodes: without it every batch is a fresh
// allocation of its records (136 bytes each as troupe.Record), which the runtime clears
// and the collector then scans and frees, the larger part of what reading costs beyond
// decoding itself at a few partitions of big batches (docs/benchmarks.md, *Records
// given back*). It is a plain struct with its own lock, because Release may run on any
// goroutine while Poll decodes; tested on its own in recycle_test.go.
//
// Slices are kept by capacity class: class k holds slices of capacity at least 2^k, and
// a decode of n records takes one from the class of n rounded up to a power of two. Until
// the first Release, decodes allocate exactly what they need (a reader whose user never
// gives batches back wastes nothing on rounding); from then on they allocate whole
// classes, so that what comes back fits the next batch of a similar size.
//
// A slice comes back cleared (it no longer keeps any fetch response reachable) and is
// kept only while the kept capacity stays within limit records; beyond that it is left
// to the collector. What is kept is never released by itself: at most limit records'
// worth (136 bytes each) for the reader's life.
type recordSlices struct {
	mu     sync.Mutex
	free   [maxRecordClass + 1][][]troupe.Record
	kept   int         // records of capacity in free
	limit  int         // the most records of capacity kept
	active atomic.Bool // a slice has come back: decodes round their capacity up
}

// maxRecordClass is the largest class kept: slices of 2^20 records and more (136 MiB)
// are not.
const maxRecordClass = 20

// get returns an empty slice with room for n records.
func (s *recordSlices) get(n int) []troupe.Record {
	if s == nil || !s.active.Load() || n <= 0 {
		return make([]troupe.Record, 0, n)
	}
	c := bits.Len(uint(n - 1)) // the class of n rounded up to a power of two
	if c > maxRecordClass {
		return make([]troupe.Record, 0, n)
	}
	s.mu.Lock()
	if k := len(s.free[c]); k > 0 {
		recs := s.free[c][k-1]
		s.free[c][k-1] = nil
		s.free[c] = s.free[c][:k-1]
		s.kept -= cap(recs)
		s.mu.Unlock()
		return recs
	}
	s.mu.Unlock()
	return make([]troupe.Record, 0, 1<<c)
}

// put takes back recs, a slice get returned (or one allocated before the first put) that
// nothing else refers to, clearing it first.
func (s *recordSlices) put(recs []troupe.Record) {
	full := recs[:cap(recs)]
	if len(full) == 0 {
		return
	}
	clear(full)
	s.active.Store(true)
	c := bits.Len(uint(len(full))) - 1 // the largest class it can serve
	if c > maxRecordClass {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kept+len(full) > s.limit {
		return
	}
	s.kept += len(full)
	s.free[c] = append(s.free[c], full[:0])
}
