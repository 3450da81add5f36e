package faults

import (
	"fmt"
	"sync"
)

// Outcome is how a produced record's callback ended.
type Outcome uint8

const (
	// Pending: the callback has not run.
	Pending Outcome = iota
	// Acked: written, at the partition and offset the callback reported.
	Acked
	// NotWritten: failed, and definitely not written (troupe.ErrNotWritten).
	NotWritten
	// MaybeWritten: failed, and perhaps written (troupe.ErrMaybeWritten).
	MaybeWritten
	// Unclassified: failed with an error that matches neither class, which is a bug.
	Unclassified
)

func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Acked:
		return "acked"
	case NotWritten:
		return "not written"
	case MaybeWritten:
		return "maybe written"
	case Unclassified:
		return "unclassified"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Sent is one record handed to the producer, and what its callback said.
type Sent struct {
	// Key and Value are the record's. Every Value is unique in a History; records of one
	// key are sent in the order of their Seq.
	Key, Value string
	Seq        int

	Outcome   Outcome
	Partition int32 // as the callback reported it (for Acked)
	Offset    int64 // as the callback reported it (for Acked)
	Err       error // the callback's error, if any
	// Callbacks counts how often the callback ran (once, exactly).
	Callbacks int
	// Order numbers the callback among all the callbacks of the History, from 1.
	Order int
}

// Stored is one record of the log, as an independent reader read it.
type Stored struct {
	Offset     int64
	Key, Value string
}

// Session is what one partition consumer delivered, from its start to its end.
type Session struct {
	Partition int32
	// Start is the offset the session was asked to start at (-2 for the oldest).
	Start int64
	// Records are the records delivered, in delivery order.
	Records []Stored
	// Err is an error the consumer returned that it should not have (nil, or closed).
	Err error
}

// History is everything a property check needs: what was produced and how, what the log
// holds, and what the consumers delivered. Its recording methods are safe for concurrent
// use; Check reads it once recording is over.
type History struct {
	mu       sync.Mutex
	sent     []*Sent
	byValue  map[string]*Sent
	seqs     map[string]int
	order    int
	sessions []*Session
	changed  chan struct{} // closed and replaced whenever an outcome or a delivery is recorded

	// Log is the topic's log by partition, in offset order, read after everything else.
	Log map[int32][]Stored
	// End is each partition's high-water mark when Log was read.
	End map[int32]int64
}

// NewHistory returns an empty History.
func NewHistory() *History {
	return &History{byValue: make(map[string]*Sent), seqs: make(map[string]int), changed: make(chan struct{})}
}

// Changed returns a channel that is closed the next time an outcome, a delivery or a
// consumer error is recorded: wait on it (with a deadline) to see progress.
func (h *History) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

func (h *History) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// Send records that a record of key is handed to the producer now and returns it; its
// Value is key and its per-key sequence number, so values are unique as long as keys are.
func (h *History) Send(key string) *Sent {
	h.mu.Lock()
	defer h.mu.Unlock()
	seq := h.seqs[key]
	h.seqs[key] = seq + 1
	s := &Sent{Key: key, Seq: seq, Value: fmt.Sprintf("%s/%d", key, seq), Offset: -1, Partition: -1}
	h.sent = append(h.sent, s)
	h.byValue[s.Value] = s
	return s
}

// Report records the outcome of s's callback. It may run on any goroutine.
func (h *History) Report(s *Sent, o Outcome, partition int32, offset int64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.notifyLocked()
	h.order++
	s.Callbacks++
	if s.Callbacks > 1 {
		return // the first report stands; Check reports the repeat
	}
	s.Outcome, s.Partition, s.Offset, s.Err, s.Order = o, partition, offset, err, h.order
}

// Unreported returns how many of the records sent from the from-th on (counting from 0,
// in send order) have no outcome yet.
func (h *History) Unreported(from int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.sent[min(from, len(h.sent)):] {
		if s.Callbacks == 0 {
			n++
		}
	}
	return n
}

// Len returns how many records were sent so far.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sent)
}

// Acked returns, for each partition, the offset after the highest offset a callback
// reported written.
func (h *History) Acked() map[int32]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[int32]int64)
	for _, s := range h.sent {
		if s.Callbacks > 0 && s.Outcome == Acked {
			out[s.Partition] = max(out[s.Partition], s.Offset+1)
		}
	}
	return out
}

// Sent returns the records sent so far, in send order. Read their fields only once every
// callback has run.
func (h *History) Sent() []*Sent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Sent(nil), h.sent...)
}

// StartSession records that a partition consumer starts at start.
func (h *History) StartSession(partition int32, start int64) *Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &Session{Partition: partition, Start: start}
	h.sessions = append(h.sessions, s)
	return s
}

// Deliver records that s delivered recs. It may run on any goroutine, one per session.
func (h *History) Deliver(s *Session, recs []Stored) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.Records = append(s.Records, recs...)
	h.notifyLocked()
}

// Fail records that s's consumer returned err.
func (h *History) Fail(s *Session, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.Err == nil {
		s.Err = err
	}
	h.notifyLocked()
}

// Sessions returns the consumer sessions so far.
func (h *History) Sessions() []*Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Session(nil), h.sessions...)
}

// Delivered returns, for each partition, the offset after the highest offset any session
// delivered (0 if none).
func (h *History) Delivered() map[int32]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[int32]int64)
	for _, s := range h.sessions {
		if n := len(s.Records); n > 0 {
			out[s.Partition] = max(out[s.Partition], s.Records[n-1].Offset+1)
		}
	}
	return out
}
