package producer

import (
	"testing"
	"time"
)

// A linger queue that a burst grew keeps its ring while it empties and refills (under
// load the lingerer empties it between linger periods), and lets it go only when asked to
// shrink while empty (the first driver, idle).
func TestLingerQueueKeepsItsRingUntilIdle(t *testing.T) {
	lq := newLingerQueue()
	now := time.Now()
	fill := func() {
		for i := range 4 * shrinkAbove {
			lq.push(lingerEntry{due: now.Add(time.Duration(i)), open: uint64(i)})
		}
	}
	fill()
	grown := len(lq.q)
	if grown <= shrinkAbove {
		t.Fatalf("a ring of %d for %d entries", grown, 4*shrinkAbove)
	}
	due, next := lq.due(now.Add(time.Hour), nil)
	if len(due) != 4*shrinkAbove || !next.IsZero() {
		t.Fatalf("%d due, next %v", len(due), next)
	}
	if len(lq.q) != grown {
		t.Fatalf("emptying the queue let its ring go (%d, was %d): the next period regrows it", len(lq.q), grown)
	}
	fill()
	if len(lq.q) != grown {
		t.Fatalf("refilling regrew the ring to %d from %d", len(lq.q), grown)
	}
	if lq.shrink() {
		t.Fatal("shrank a queue that holds deadlines")
	}
	lq.due(now.Add(time.Hour), nil)
	if !lq.shrink() || len(lq.q) != 0 {
		t.Fatalf("an empty queue kept a ring of %d", len(lq.q))
	}
	if lq.shrink() {
		t.Fatal("shrank again with nothing to give back")
	}
	lq.push(lingerEntry{due: now})
	if due, _ := lq.due(now, nil); len(due) != 1 {
		t.Fatalf("after shrinking: %d due, want 1", len(due))
	}
}
