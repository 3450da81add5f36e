package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func ev(member int, kind string, ts int64, parts ...int32) memberEvent {
	return memberEvent{member: member, kind: kind, ts: ts, parts: parts}
}

// TestSettledAtEager replays an eager rebalance: member 0 takes everything, member 1
// joins, both revoke, then each is assigned half; the group settles at the last first
// record, not at the transient moment member 0 alone fetched everything.
func TestSettledAtEager(t *testing.T) {
	log := []memberEvent{
		ev(0, "live", 0), ev(1, "live", 0),
		ev(0, "assigned", 10, 0, 1, 2, 3),
		ev(0, "first", 11, 0), ev(0, "first", 12, 1), ev(0, "first", 13, 2), ev(0, "first", 14, 3),
		ev(1, "assigned", 20, 2, 3), // before member 0 reported its revoke: the view drops it from 0
		ev(0, "revoked", 19, 0, 1, 2, 3),
		ev(0, "assigned", 21, 0, 1),
		ev(0, "first", 22, 0), ev(1, "first", 23, 2), ev(0, "first", 24, 1),
	}
	if _, ok := settledAt(log, 4, 0); ok {
		t.Fatal("settled with partition 3 never fetched by its owner")
	}
	log = append(log, ev(1, "first", 30, 3))
	at, ok := settledAt(log, 4, 0)
	if !ok || at != 30 {
		t.Fatalf("settledAt = %d, %v; want 30, true", at, ok)
	}
	// A leave at 40 drops member 1's partitions; member 0 takes them at 45 and fetches
	// them at 47 and 48. Member 1's own revoke after the leave changes nothing.
	log = append(log, ev(1, "leave", 40), ev(1, "revoked", 41, 2, 3), ev(0, "assigned", 45, 2, 3), ev(0, "first", 47, 3), ev(0, "first", 48, 2))
	at, ok = settledAt(log, 4, 40)
	if !ok || at != 48 {
		t.Fatalf("after the leave: settledAt = %d, %v; want 48, true", at, ok)
	}
	// A new member owning nothing keeps the group unsettled.
	log = append(log, ev(2, "live", 50))
	if _, ok := settledAt(log, 4, 50); ok {
		t.Fatal("settled with a live member owning nothing")
	}
	// Cooperative: member 0 gives up 3 only, member 2 takes and fetches it.
	log = append(log, ev(0, "revoked", 55, 3), ev(2, "assigned", 60, 3), ev(2, "first", 61, 3))
	at, ok = settledAt(log, 4, 50)
	if !ok || at != 61 {
		t.Fatalf("join into: settledAt = %d, %v; want 61, true", at, ok)
	}
}

func TestParseMemberLine(t *testing.T) {
	for line, want := range map[string]memberEvent{
		"assigned 5 1,2,3": {member: 1, kind: "assigned", ts: 5, parts: []int32{1, 2, 3}, text: "1,2,3"},
		"revoked 6 ":       {member: 1, kind: "revoked", ts: 6},
		"first 7 9":        {member: 1, kind: "first", ts: 7, parts: []int32{9}, text: "9"},
		"first 7 9 3":      {member: 1, kind: "first", ts: 7, parts: []int32{9}, rts: 3, text: "9 3"},
		"first 7 9 y":      {member: 1, kind: "error", text: "first 7 9 y"},
		"end 7 9 3":        {member: 1, kind: "error", text: "end 7 9 3"},
		"revoking 4 2,5":   {member: 1, kind: "revoking", ts: 4, parts: []int32{2, 5}, text: "2,5"},
		"released 4 2":     {member: 1, kind: "released", ts: 4, parts: []int32{2}, text: "2"},
		"received 4 2":     {member: 1, kind: "received", ts: 4, parts: []int32{2}, text: "2"},
		"cpu 8 100 42":     {member: 1, kind: "cpu", ts: 8, cpu: 100, records: 42, text: "100 42"},
		"first 7 x":        {member: 1, kind: "error", text: "first 7 x"},
		"garbage":          {member: 1, kind: "error", text: "garbage"},
	} {
		if got := parseMemberLine(1, line); !reflect.DeepEqual(got, want) {
			t.Errorf("parseMemberLine(%q) = %+v; want %+v", line, got, want)
		}
	}
}

// TestFetchLag: the longest from an assignment in the phase to the owner's first record
// of the partition; assignments before the phase and records of another owner do not
// count.
func TestFetchLag(t *testing.T) {
	log := []memberEvent{
		ev(0, "live", 0), ev(1, "live", 0),
		ev(0, "assigned", 5, 0, 1), ev(0, "first", 6, 0), ev(0, "first", 7, 1),
		ev(1, "leave", 10),
		ev(0, "assigned", 20, 2, 3), ev(1, "first", 21, 2), ev(0, "first", 24, 2), ev(0, "first", 29, 3),
	}
	if got := fetchLag(log, 4, 10); got != 9 {
		t.Fatalf("fetchLag = %d; want 9 (partition 3: assigned at 20, first record at 29)", got)
	}
	if got := fetchLag(log, 4, 30); got != 0 {
		t.Fatalf("fetchLag after every event = %d; want 0", got)
	}
	// A record written after the assignment could not be fetched before it existed: the
	// lag counts from its timestamp. One written before counts from the assignment.
	first := func(m int, ts int64, p int32, rts int64) memberEvent {
		e := ev(m, "first", ts, p)
		e.rts = rts
		return e
	}
	log = []memberEvent{
		ev(0, "live", 0),
		ev(0, "assigned", 10, 0, 1, 2),
		first(0, 40, 0, 35), // written at 35: 5
		first(0, 17, 1, 3),  // written before the assignment: 7
		first(0, 60, 2, 58), // 2
	}
	if got := fetchLag(log, 3, 0); got != 7 {
		t.Fatalf("fetchLag with record timestamps = %d; want 7 (partition 1)", got)
	}
	// A member that reported the assignment in hand before its assigned callback is timed
	// from then; another member's receipt does not count.
	log = []memberEvent{
		ev(0, "live", 0), ev(1, "live", 0),
		ev(0, "received", 4, 0, 1), ev(1, "received", 5, 2),
		ev(0, "assigned", 10, 0, 1, 2),
		first(0, 12, 0, 0), first(0, 13, 1, 0), first(0, 14, 2, 0),
	}
	if got := fetchLag(log, 3, 0); got != 9 {
		t.Fatalf("fetchLag from received = %d; want 9 (partition 1: received at 4)", got)
	}
}

// TestRevokeLag: the longest from a member's revoke callback to its release of those
// partitions, per member, over the revocations started in the phase; -1 when none.
func TestRevokeLag(t *testing.T) {
	log := []memberEvent{
		ev(0, "revoking", 1, 0), ev(0, "released", 9, 0), // before the phase
		ev(0, "revoking", 10, 1), ev(1, "revoking", 11, 2),
		ev(1, "released", 14, 2), // member 1: 3
		ev(0, "released", 18, 1), // member 0: 8
		ev(2, "released", 30, 3), // no revoking of member 2's in the phase
		ev(1, "revoking", 40, 4), // never released: no figure
	}
	if got := revokeLag(log, 10); got != 8 {
		t.Fatalf("revokeLag = %d; want 8", got)
	}
	if got := revokeLag(log, 35); got != -1 {
		t.Fatalf("revokeLag with nothing released = %d; want -1", got)
	}
	if got := revokeLag(log, 0); got != 8 {
		t.Fatalf("revokeLag from 0 = %d; want 8", got)
	}
}

// TestStatOf: trials without a figure (-1) are left out of the median and p90.
func TestStatOf(t *testing.T) {
	if got := statOf([]time.Duration{-1, time.Second, 3 * time.Second, -1, 2 * time.Second}); got != (stat{2, 3}) {
		t.Fatalf("statOf = %+v; want {2 3}", got)
	}
	if got := statOf([]time.Duration{-1}); got != (stat{}) {
		t.Fatalf("statOf of no figure = %+v; want zero", got)
	}
}

// TestGroupMarkers: the default section keeps its markers; another name gets its own.
func TestGroupMarkers(t *testing.T) {
	if b, e := groupMarkers("groups"); b != groupsBeginMarker || e != groupsEndMarker {
		t.Fatalf("groupMarkers(groups) = %q, %q", b, e)
	}
	b, e := groupMarkers("groups-consume")
	if !strings.HasPrefix(b, "<!-- bench-groups-consume:begin") || e != "<!-- bench-groups-consume:end -->" {
		t.Fatalf("groupMarkers(groups-consume) = %q, %q", b, e)
	}
}

// TestP90 checks the nearest-rank 90th percentile the group report gives beside each
// median: the largest of fewer than 10 runs, the 18th of 20.
func TestP90(t *testing.T) {
	twenty := make([]float64, 20)
	for i := range twenty {
		twenty[19-i] = float64(i + 1) // unsorted on purpose
	}
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{4, 1, 3, 2}, 4}, {[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 9}, {twenty, 18},
	} {
		if got := p90(c.xs); got != c.want {
			t.Errorf("p90(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}
