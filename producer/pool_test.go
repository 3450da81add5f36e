package producer

import (
	"testing"

	"pgregory.net/rapid"
)

// The pools hand out room for at least what was asked, whatever was put back before, and
// batch buffers (which are large) never twice what was asked or more.
func TestPoolsHandOutRoomEnough(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 1<<21).Draw(t, "records")
		s := getPendings(n)
		if len(s) != 0 || cap(s) < n {
			t.Fatalf("getPendings(%d): len %d cap %d", n, len(s), cap(s))
		}
		putPendings(make([]Pending, rapid.IntRange(0, 1<<14).Draw(t, "odd length")))
		s = append(s, Pending{size: 1})
		putPendings(s)

		b := rapid.IntRange(1, 1<<27).Draw(t, "bytes")
		buf := getBatchBuffer(b)
		if len(buf) != 0 || cap(buf) < b {
			t.Fatalf("getBatchBuffer(%d): len %d cap %d", b, len(buf), cap(buf))
		}
		if cap(buf) >= 2*b && b > 1 {
			t.Fatalf("getBatchBuffer(%d): cap %d, twice what was asked or more", b, cap(buf))
		}
		putBatchBuffer(buf[:rapid.IntRange(0, cap(buf)).Draw(t, "used")])
		// A buffer of any odd capacity goes back too; what comes out still has room.
		putBatchBuffer(make([]byte, 0, rapid.IntRange(1, 1<<22).Draw(t, "odd capacity")))
		if again := getBatchBuffer(b); cap(again) < b || len(again) != 0 || (b > 1 && cap(again) >= 2*b) {
			t.Fatalf("getBatchBuffer(%d) after puts: len %d cap %d", b, len(again), cap(again))
		}
		if again := getPendings(n); cap(again) < n || len(again) != 0 {
			t.Fatalf("getPendings(%d) after a put: len %d cap %d", n, len(again), cap(again))
		}
	})
}

// A recycled Pending slice holds no record alive: it is cleared when put back.
func TestPutPendingsClears(t *testing.T) {
	s := getPendings(100)[:100]
	for i := range s {
		s[i] = Pending{size: 7}
	}
	putPendings(s)
	for range 100 { // sync.Pool may drop it; when it comes back, it is clean
		got := getPendings(100)
		if got := got[:cap(got)]; got[0].size != 0 || got[99].size != 0 {
			t.Fatal("a recycled slice still holds what it held")
		}
		putPendings(got)
	}
}
