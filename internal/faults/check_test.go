package faults

import (
	"errors"
	"strings"
	"testing"
)

// healthy returns a history where everything went right: keys a and b, three records
// each, all acknowledged in partition 0 in send order, and one consumer session that
// delivered the whole log.
func healthy() *History {
	h := NewHistory()
	var log []Stored
	for i := range 6 {
		key := "a"
		if i%2 == 1 {
			key = "b"
		}
		s := h.Send(key)
		h.Report(s, Acked, 0, int64(i), nil)
		log = append(log, Stored{Offset: int64(i), Key: key, Value: s.Value})
	}
	h.Log = map[int32][]Stored{0: log}
	h.End = map[int32]int64{0: 6}
	sess := h.StartSession(0, -2)
	h.Deliver(sess, append([]Stored(nil), log...))
	return h
}

func properties(vs []Violation) string {
	var ps []string
	for _, v := range vs {
		if len(ps) == 0 || ps[len(ps)-1] != v.Property {
			ps = append(ps, v.Property)
		}
	}
	return strings.Join(ps, ",")
}

func TestCheckPassesAHealthyHistory(t *testing.T) {
	if vs := Check(healthy()); len(vs) > 0 {
		t.Fatalf("violations in a healthy history:\n%s", Format(vs, 10))
	}
}

// Each property's check can fail: every corruption below breaks exactly the properties
// named.
func TestCheckFindsEachViolation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		want  string
		spoil func(h *History)
	}{
		{"an acknowledged record missing from the log", "P1,P6", func(h *History) {
			h.Log[0] = h.Log[0][:5] // offset 5 lost
			h.End[0] = 5
		}},
		{"an acknowledged offset holding another record", "P1", func(h *History) {
			c := h.Send("c")
			h.Report(c, MaybeWritten, -1, -1, errors.New("timed out"))
			h.Log[0][5] = Stored{Offset: 5, Key: "c", Value: c.Value} // where b/2 was acknowledged
			h.sessions[0].Records[5] = h.Log[0][5]
		}},
		{"acknowledged offsets out of send order for a key", "P1,P2", func(h *History) {
			h.sent[0].Offset, h.sent[2].Offset = 2, 0 // a/0 and a/1 swapped offsets
		}},
		{"callbacks out of offset order", "P2", func(h *History) {
			h.sent[0].Order, h.sent[1].Order = 2, 1
		}},
		{"a key's records in two partitions", "P1,P2", func(h *History) {
			h.sent[2].Partition = 1
		}},
		{"first occurrences out of send order", "P3", func(h *History) {
			l := h.Log[0]
			l[0].Value, l[2].Value = l[2].Value, l[0].Value // a/1 before a/0 in the log
			h.sent[0].Outcome, h.sent[2].Outcome = MaybeWritten, MaybeWritten
			for i := range h.sessions[0].Records {
				h.sessions[0].Records[i] = l[i]
			}
		}},
		{"a record written twice", "P4", func(h *History) {
			dup := Stored{Offset: 6, Key: "a", Value: "a/2"}
			h.Log[0] = append(h.Log[0], dup)
			h.End[0] = 7
			h.Deliver(h.sessions[0], []Stored{dup})
		}},
		{"a record reported not written in the log", "P5", func(h *History) {
			h.sent[5].Outcome, h.sent[5].Err = NotWritten, errors.New("not written")
		}},
		{"a record never produced in the log", "P5", func(h *History) {
			odd := Stored{Offset: 6, Key: "z", Value: "z/0"}
			h.Log[0] = append(h.Log[0], odd)
			h.End[0] = 7
			h.Deliver(h.sessions[0], []Stored{odd})
		}},
		{"a consumer skipping a record", "P6", func(h *History) {
			s := h.sessions[0]
			s.Records = append(s.Records[:2], s.Records[3:]...)
		}},
		{"a consumer repeating a record", "P6", func(h *History) {
			s := h.sessions[0]
			s.Records = append(s.Records[:3], s.Records[2:]...)
		}},
		{"a consumer starting elsewhere than asked", "P6", func(h *History) {
			s := h.sessions[0]
			s.Start = 1
		}},
		{"a consumer delivering another value at an offset", "P6", func(h *History) {
			h.sessions[0].Records[1].Value = "b/9"
		}},
		{"a consumer returning an error", "P6", func(h *History) {
			h.Fail(h.sessions[0], errors.New("corrupt"))
		}},
		{"no consumer reaching the end", "P6", func(h *History) {
			h.sessions[0].Records = h.sessions[0].Records[:4]
		}},
		{"a record without an outcome", "P7", func(h *History) {
			h.Send("c")
		}},
		{"a callback run twice", "P7", func(h *History) {
			h.Report(h.sent[1], Acked, 0, 1, nil)
		}},
		{"an error of neither class", "P7", func(h *History) {
			h.sent[5].Outcome = Unclassified
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := healthy()
			tc.spoil(h)
			vs := Check(h)
			if got := properties(vs); got != tc.want {
				t.Fatalf("violated %q, want %q:\n%s", got, tc.want, Format(vs, 10))
			}
		})
	}
}

// Without idempotence a retry may write a batch twice; Check still reports it (P4), and
// Duplicates counts it: the negative control relies on both.
func TestDuplicatesAreCounted(t *testing.T) {
	h := healthy()
	if r, c := Duplicates(h); r != 0 || c != 0 {
		t.Fatalf("a healthy history has %d duplicated records", r)
	}
	h.Log[0] = append(h.Log[0], Stored{Offset: 6, Key: "a", Value: "a/2"}, Stored{Offset: 7, Key: "a", Value: "a/2"})
	if r, c := Duplicates(h); r != 1 || c != 2 {
		t.Fatalf("Duplicates = %d records, %d copies; want 1, 2", r, c)
	}
}
