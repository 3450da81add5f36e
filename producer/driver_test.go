package producer

import (
	"container/heap"
	"testing"
	"time"
)

// A driver's heap holds each partition at most once, at the time it was last scheduled
// for, and gives them back in time order; scheduling a partition for no time removes it.
// (A heap of entries per scheduling would grow by one entry per step of every busy
// partition, each kept until its time, minutes later.)
func TestWakeHeapHoldsEachPartitionOnce(t *testing.T) {
	now := time.Now()
	parts := make([]*partition, 5)
	for i := range parts {
		parts[i] = &partition{id: int32(i), wakeIdx: -1}
	}
	var h wakeHeap
	at := func(s int) time.Time { return now.Add(time.Duration(s) * time.Second) }
	for i, pp := range parts {
		h.schedule(pp, at(10+i))
	}
	for range 100 { // a busy partition rescheduled on every step
		h.schedule(parts[4], at(20))
		h.schedule(parts[4], at(1))
	}
	h.schedule(parts[2], time.Time{}) // nothing due any more
	h.schedule(parts[0], at(30))      // later than it was
	if len(h) != 4 {
		t.Fatalf("%d entries for 4 scheduled partitions", len(h))
	}
	var order []int32
	for len(h) > 0 {
		order = append(order, heap.Pop(&h).(*partition).id)
	}
	want := []int32{4, 1, 3, 0}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("popped %v, want %v", order, want)
		}
	}
	if parts[2].wakeIdx != -1 || parts[4].wakeIdx != -1 {
		t.Fatal("a partition out of the heap keeps an index")
	}
}
