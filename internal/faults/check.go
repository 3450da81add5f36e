package faults

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Violation is one property a History breaks, with what shows it.
type Violation struct {
	Property string // "P1" ... "P7"
	Detail   string
}

func (v Violation) String() string { return v.Property + ": " + v.Detail }

// Check checks a finished History (every callback has had its chance to run, Log and End
// are read) and returns every violation found, grouped by property in order:
//
//   - P1: every acknowledged record is in the log at the partition and offset its
//     callback reported.
//   - P2: per key, acknowledged offsets increase in send order, in one partition; and
//     per partition, callbacks ran in offset order.
//   - P3: per partition and key, the first occurrences of records in the log are in send
//     order.
//   - P4: no record appears in the log twice. (Without idempotence this one may fail:
//     the caller decides whether P4 violations count.)
//   - P5: no record reported not written is in the log, and the log holds nothing that
//     was not produced.
//   - P6: each consumer session delivered log records with consecutive offsets from where
//     it started, each equal to the log's record at its offset, without an error; and
//     together the sessions delivered every record of the log.
//   - P7: every record's callback ran exactly once, with an error of a known class.
//
// Reaching the end of the log in time (the rest of P7) and leaving no goroutine behind
// (P8) are for the caller to check: they are about time and the process, not the history.
func Check(h *History) []Violation {
	var vs []Violation
	add := func(p, format string, args ...any) {
		vs = append(vs, Violation{Property: p, Detail: fmt.Sprintf(format, args...)})
	}
	sent := h.Sent()
	byValue := make(map[string]*Sent, len(sent))
	for _, s := range sent {
		byValue[s.Value] = s
	}
	at := make(map[int32]map[int64]Stored) // partition -> offset -> record
	for p, recs := range h.Log {
		m := make(map[int64]Stored, len(recs))
		for _, r := range recs {
			m[r.Offset] = r
		}
		at[p] = m
	}

	// P1
	for _, s := range sent {
		if s.Outcome != Acked {
			continue
		}
		r, ok := at[s.Partition][s.Offset]
		switch {
		case !ok:
			add("P1", "%s acknowledged at partition %d offset %d, which the log does not have (end %d)", s.Value, s.Partition, s.Offset, h.End[s.Partition])
		case r.Value != s.Value:
			add("P1", "%s acknowledged at partition %d offset %d, where the log holds %s", s.Value, s.Partition, s.Offset, r.Value)
		}
	}

	// P2: per key, in send order.
	byKey := make(map[string][]*Sent)
	var keys []string
	for _, s := range sent {
		if _, ok := byKey[s.Key]; !ok {
			keys = append(keys, s.Key)
		}
		byKey[s.Key] = append(byKey[s.Key], s)
	}
	for _, k := range keys {
		var last *Sent
		for _, s := range byKey[k] {
			if s.Outcome != Acked {
				continue
			}
			switch {
			case last == nil:
			case s.Partition != last.Partition:
				add("P2", "key %s: %s acknowledged in partition %d, %s before it in partition %d", k, s.Value, s.Partition, last.Value, last.Partition)
			case s.Offset <= last.Offset:
				add("P2", "key %s: %s acknowledged at offset %d, not after %s at %d", k, s.Value, s.Offset, last.Value, last.Offset)
			}
			last = s
		}
	}
	// P2: per partition, callbacks in offset order.
	acked := make(map[int32][]*Sent)
	for _, s := range sent {
		if s.Outcome == Acked {
			acked[s.Partition] = append(acked[s.Partition], s)
		}
	}
	for _, p := range sortedKeys(acked) {
		ss := acked[p]
		sort.Slice(ss, func(i, j int) bool { return ss[i].Order < ss[j].Order })
		for i := 1; i < len(ss); i++ {
			if ss[i].Offset <= ss[i-1].Offset {
				add("P2", "partition %d: the callback of %s (offset %d) ran after that of %s (offset %d)", p, ss[i].Value, ss[i].Offset, ss[i-1].Value, ss[i-1].Offset)
			}
		}
	}

	// P3, P4, P5 from the log.
	count := make(map[string]int)
	for _, p := range sortedKeys(h.Log) {
		firstSeq := make(map[string]*Sent) // key -> latest first occurrence
		for _, r := range h.Log[p] {
			count[r.Value]++
			s := byValue[r.Value]
			if s == nil {
				add("P5", "partition %d offset %d holds %q (key %q), which this check never produced", p, r.Offset, r.Value, r.Key)
				continue
			}
			if count[r.Value] > 1 {
				add("P4", "%s appears %d times: again at partition %d offset %d", r.Value, count[r.Value], p, r.Offset)
				continue
			}
			if s.Outcome == NotWritten {
				add("P5", "%s was reported not written (%v) but is at partition %d offset %d", s.Value, s.Err, p, r.Offset)
			}
			if prev := firstSeq[s.Key]; prev != nil && s.Seq < prev.Seq {
				add("P3", "partition %d: %s (offset %d) comes after %s, which was sent later", p, s.Value, r.Offset, prev.Value)
			} else {
				firstSeq[s.Key] = s
			}
		}
	}

	// P6
	covered := make(map[int32]map[int64]bool)
	for i, s := range h.Sessions() {
		if s.Err != nil {
			add("P6", "session %d on partition %d (from %d): the consumer returned %v", i, s.Partition, s.Start, s.Err)
		}
		if covered[s.Partition] == nil {
			covered[s.Partition] = make(map[int64]bool)
		}
		next := s.Start
		if next < 0 {
			next = 0 // the oldest: kfake's logs start at 0
		}
		for _, r := range s.Records {
			if r.Offset != next {
				add("P6", "session %d on partition %d (from %d): offset %d delivered where %d was due", i, s.Partition, s.Start, r.Offset, next)
				next = r.Offset
			}
			next++
			covered[s.Partition][r.Offset] = true
			if l, ok := at[s.Partition][r.Offset]; !ok {
				add("P6", "session %d on partition %d: delivered offset %d (%s), which the log does not have", i, s.Partition, r.Offset, r.Value)
			} else if l.Value != r.Value || l.Key != r.Key {
				add("P6", "session %d on partition %d: delivered %s/%s at offset %d, where the log holds %s/%s", i, s.Partition, r.Key, r.Value, r.Offset, l.Key, l.Value)
			}
		}
	}
	for _, p := range sortedKeys(h.Log) {
		missing := 0
		first := int64(-1)
		for _, r := range h.Log[p] {
			if !covered[p][r.Offset] {
				if missing == 0 {
					first = r.Offset
				}
				missing++
			}
		}
		if missing > 0 {
			add("P6", "partition %d: %d log records never delivered by any consumer, the first at offset %d (end %d)", p, missing, first, h.End[p])
		}
	}

	// P7
	for _, s := range sent {
		switch {
		case s.Callbacks == 0:
			add("P7", "%s: no outcome reported", s.Value)
		case s.Callbacks > 1:
			add("P7", "%s: callback ran %d times", s.Value, s.Callbacks)
		case s.Outcome == Unclassified:
			add("P7", "%s: error %v is neither not written nor maybe written", s.Value, s.Err)
		}
	}

	slices.SortStableFunc(vs, func(a, b Violation) int { return strings.Compare(a.Property, b.Property) })
	return vs
}

// Format lists vs, at most max per property, with a count of the rest.
func Format(vs []Violation, max int) string {
	var b strings.Builder
	n := make(map[string]int)
	for _, v := range vs {
		n[v.Property]++
		if n[v.Property] <= max {
			fmt.Fprintln(&b, "  "+v.String())
		}
	}
	for _, p := range sortedKeys(n) {
		if n[p] > max {
			fmt.Fprintf(&b, "  %s: ... and %d more\n", p, n[p]-max)
		}
	}
	return b.String()
}

// Duplicates returns how many records appear in h's log more than once, and how many
// extra copies there are in all.
func Duplicates(h *History) (records, copies int) {
	count := make(map[string]int)
	for _, recs := range h.Log {
		for _, r := range recs {
			count[r.Value]++
		}
	}
	for _, n := range count {
		if n > 1 {
			records++
			copies += n - 1
		}
	}
	return records, copies
}

func sortedKeys[K int32 | string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
