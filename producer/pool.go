package producer

import "sync"

// pendingSlices recycles the []Pending slices that carry records between the actors
// (the dispatcher's batches, the topic producer's per-partition shares, a batch's records)
// so that moving records in batches allocates nothing in the steady state. A slice put
// back must no longer be referenced by its giver; it is cleared before reuse so it holds
// no records alive.
var pendingSlices = sync.Pool{New: func() any { return new([]Pending) }}

// getPendings returns an empty slice with room for at least n records.
func getPendings(n int) []Pending {
	s := *pendingSlices.Get().(*[]Pending)
	if cap(s) < n {
		return make([]Pending, 0, max(n, 64))
	}
	return s[:0]
}

// putPendings recycles s.
func putPendings(s []Pending) {
	if cap(s) == 0 || cap(s) > 1<<20 {
		return
	}
	clear(s)
	s = s[:0]
	pendingSlices.Put(&s)
}
