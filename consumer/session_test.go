package consumer

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// seenFetch is what a broker saw of one fetch request: one topic's partitions only.
type seenFetch struct {
	at               int // its place in the log
	version          int16
	id, epoch        int32
	maxBytes         int32
	named, forgotten []int32
	offsets          map[int32]int64
}

// fetchLog records every fetch request kfake receives (it does not change them).
type fetchLog struct {
	mu   sync.Mutex
	seen []seenFetch
	ch   chan struct{} // closed and replaced on every request
}

func watchFetches(kc *kfake.Cluster) *fetchLog {
	l := &fetchLog{ch: make(chan struct{})}
	kc.ControlKey(int16(kmsg.Fetch), func(r kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		l.add(r.(*kmsg.FetchRequest))
		return nil, nil, false
	})
	return l
}

func (l *fetchLog) add(req *kmsg.FetchRequest) {
	f := seenFetch{version: req.Version, id: req.SessionID, epoch: req.SessionEpoch, maxBytes: req.MaxBytes, offsets: map[int32]int64{}}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			f.named = append(f.named, p.Partition)
			f.offsets[p.Partition] = p.FetchOffset
		}
	}
	for _, t := range req.ForgottenTopics {
		f.forgotten = append(f.forgotten, t.Partitions...)
	}
	l.mu.Lock()
	f.at = len(l.seen)
	l.seen = append(l.seen, f)
	close(l.ch)
	l.ch = make(chan struct{})
	l.mu.Unlock()
}

// mark returns how many requests have been seen so far, for waitFor's from.
func (l *fetchLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// waitFor waits until a request after the first from matches, and returns it.
func (l *fetchLog) waitFor(t *testing.T, what string, from int, match func(seenFetch) bool) seenFetch {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		l.mu.Lock()
		for _, f := range l.seen[from:] {
			if match(f) {
				l.mu.Unlock()
				return f
			}
		}
		ch := l.ch
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no fetch request %s within %v", what, testTimeout)
		}
	}
}

func (l *fetchLog) all() []seenFetch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// sessionConfig is testConfig with a MaxProcessingTime no test run reaches: a partition
// handed back as slow would leave the session and come back, and a broker consumer whose
// partitions all went slow at once would stop and start a new session, which these tests
// count.
func sessionConfig(seeds []string, rec *recorder) Config {
	cfg := testConfig(seeds, rec)
	cfg.MaxProcessingTime = testTimeout
	return cfg
}

// TestFetchSessionNamesOnlyChanges: after the first full fetch, requests name only the
// partitions added or moved, an idle session polls with requests that name none, and a
// partition closed is forgotten; every record arrives in order, all in one session.
func TestFetchSessionNamesOnlyChanges(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(4, "t"))
	log := watchFetches(kc)
	produceAll(t, seeds, "t", 4, 0, 10)
	c := newConsumer(t, sessionConfig(seeds, newRecorder()))
	rs := []*reader{newReader(t, consume(t, c, "t", 0, Oldest()), 0), newReader(t, consume(t, c, "t", 1, Oldest()), 0), newReader(t, consume(t, c, "t", 2, Oldest()), 0)}
	readAll(t, rs, 10)
	log.waitFor(t, "naming nothing in a session", 0, func(f seenFetch) bool { return f.epoch > 0 && len(f.named) == 0 && len(f.forgotten) == 0 })

	from := log.mark()
	rs = append(rs, newReader(t, consume(t, c, "t", 3, Oldest()), 0))
	readAll(t, rs[3:], 10)
	log.waitFor(t, "adding partition 3 to the session", from, func(f seenFetch) bool {
		return f.epoch > 0 && slices.Equal(f.named, []int32{3}) && f.offsets[3] == 0
	})

	from = log.mark()
	if err := rs[1].pc.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "forgetting partition 1", from, func(f seenFetch) bool { return f.epoch > 0 && slices.Equal(f.forgotten, []int32{1}) })

	from = log.mark()
	produceAll(t, seeds, "t", 4, 10, 5)
	live := []*reader{rs[0], rs[2], rs[3]}
	readAll(t, live, 5)
	for _, f := range log.all()[from:] {
		if slices.Contains(f.named, 1) {
			t.Fatalf("a closed partition fetched again: %+v", f)
		}
	}
	full := 0
	for _, f := range log.all() {
		if f.epoch == 0 {
			full++
		}
		if f.version < 7 {
			t.Fatalf("fetch v%d: sessions need v7", f.version)
		}
	}
	if full != 1 {
		t.Fatalf("%d full fetches, want the one that opened the session", full)
	}
}

// TestFetchSessionPauseResume: a paused partition leaves the session (the broker would
// go on fetching it otherwise) and comes back, at its position, when resumed; its
// records arrive in order and none twice.
func TestFetchSessionPauseResume(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	log := watchFetches(kc)
	produceAll(t, seeds, "t", 2, 0, 10)
	c := newConsumer(t, sessionConfig(seeds, newRecorder()))
	rs := []*reader{newReader(t, consume(t, c, "t", 0, Oldest()), 0), newReader(t, consume(t, c, "t", 1, Oldest()), 0)}
	readAll(t, rs, 10)

	from := log.mark()
	rs[0].pc.Pause()
	log.waitFor(t, "forgetting the paused partition", from, func(f seenFetch) bool { return f.epoch > 0 && slices.Contains(f.forgotten, 0) })
	produceAll(t, seeds, "t", 2, 10, 10)
	readAll(t, rs[1:], 10)

	from = log.mark()
	rs[0].pc.Resume()
	readAll(t, rs[:1], 10)
	log.waitFor(t, "adding the resumed partition at its position", from, func(f seenFetch) bool {
		return f.epoch > 0 && slices.Contains(f.named, 0) && f.offsets[0] == 10
	})
	produceAll(t, seeds, "t", 2, 20, 5)
	readAll(t, rs, 5)
}

// TestFetchSessionRestart: a broker consumer that fails and restarts opens a new session
// with a full fetch, and nothing is lost or repeated.
func TestFetchSessionRestart(t *testing.T) {
	requireFaults(t)
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	log := watchFetches(kc)
	produceAll(t, seeds, "t", 2, 0, 10)
	c := newConsumer(t, sessionConfig(seeds, newRecorder()))
	rs := []*reader{newReader(t, consume(t, c, "t", 0, Oldest()), 0), newReader(t, consume(t, c, "t", 1, Oldest()), 0)}
	readAll(t, rs, 10)
	first := log.waitFor(t, "in a session", 0, func(f seenFetch) bool { return f.epoch > 0 })

	from := log.mark()
	c.faults.brokerConsumer.Add(1)
	produceAll(t, seeds, "t", 2, 10, 10)
	readAll(t, rs, 10)
	opened := log.waitFor(t, "opening a new session", from, func(f seenFetch) bool { return f.id == 0 && f.epoch == 0 })
	again := log.waitFor(t, "in the new session", opened.at, func(f seenFetch) bool { return f.epoch > 0 })
	if again.id == first.id {
		t.Fatalf("session %d kept across a restart", again.id)
	}
}

// TestFetchSessionLost: a broker that lost the session (FETCH_SESSION_ID_NOT_FOUND) gets
// a full fetch that opens a new one; no partition is handed back, nothing is lost.
func TestFetchSessionLost(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	log := watchFetches(kc)
	produceAll(t, seeds, "t", 2, 0, 10)
	rec := newRecorder()
	c := newConsumer(t, sessionConfig(seeds, rec))
	rs := []*reader{newReader(t, consume(t, c, "t", 0, Oldest()), 0), newReader(t, consume(t, c, "t", 1, Oldest()), 0)}
	readAll(t, rs, 10)
	log.waitFor(t, "in a session", 0, func(f seenFetch) bool { return f.epoch > 0 })

	refused := make(chan struct{})
	kc.ControlKey(int16(kmsg.Fetch), func(r kmsg.Request) (kmsg.Response, error, bool) {
		req := r.(*kmsg.FetchRequest)
		if req.SessionEpoch <= 0 {
			kc.KeepControl()
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = 70 // FETCH_SESSION_ID_NOT_FOUND
		close(refused)
		return resp, nil, true
	})
	from := log.mark()
	select {
	case <-refused:
	case <-time.After(testTimeout):
		t.Fatal("no incremental fetch to refuse")
	}
	log.waitFor(t, "opening a new session", from, func(f seenFetch) bool { return f.id == 0 && f.epoch == 0 && len(f.named) == 2 })
	produceAll(t, seeds, "t", 2, 10, 10)
	readAll(t, rs, 10)
	if n := rec.count(isA[Unsubscribed]); n > 0 {
		t.Fatalf("partitions handed back after a session error:\n%s", rec.dump())
	}
}

// TestFetchWithoutSessions: a broker whose Fetch stops before v7 gets full fetches
// naming every partition, and the records all arrive.
func TestFetchWithoutSessions(t *testing.T) {
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Fetch), 6)
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"), kfake.MaxVersions(v))
	log := watchFetches(kc)
	produceAll(t, seeds, "t", 2, 0, 10)
	c := newConsumer(t, sessionConfig(seeds, newRecorder()))
	rs := []*reader{newReader(t, consume(t, c, "t", 0, Oldest()), 0), newReader(t, consume(t, c, "t", 1, Oldest()), 0)}
	readAll(t, rs, 10)
	produceAll(t, seeds, "t", 2, 10, 10)
	readAll(t, rs, 10)
	for _, f := range log.all() {
		if f.version >= 7 || len(f.forgotten) > 0 {
			t.Fatalf("fetch v%d with forgotten %v from a broker without sessions", f.version, f.forgotten)
		}
	}
}

// TestFetchSessionClosed: a broker consumer whose last partition leaves closes its
// session (the session's ID with the final epoch).
func TestFetchSessionClosed(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	log := watchFetches(kc)
	produceAll(t, seeds, "t", 1, 0, 10)
	c := newConsumer(t, sessionConfig(seeds, newRecorder()))
	r := newReader(t, consume(t, c, "t", 0, Oldest()), 0)
	r.mustRead(10)
	open := log.waitFor(t, "in a session", 0, func(f seenFetch) bool { return f.epoch > 0 })
	if err := r.pc.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "closing the session", open.at, func(f seenFetch) bool { return f.id == open.id && f.epoch == -1 && len(f.named) == 0 })
}

// TestReaderFirstFetchNamesEverythingAdded: partitions added to a reader together reach
// their broker consumer together, so its first fetch names every one of them. (Handed
// over one at a time, the broker consumer started fetching for the first few while the
// dispatcher was still at the rest, and a group member's new assignment of a thousand
// partitions took several fetch round trips to be read at all: issue 21, join into.)
func TestReaderFirstFetchNamesEverythingAdded(t *testing.T) {
	const n = 300
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(n, "t"))
	log := watchFetches(kc)
	c := newConsumer(t, sessionConfig(seeds, newRecorder()))
	ctx := ctxT(t)
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	at := make(map[About]Offset, n)
	for p := range int32(n) {
		at[About{"t", p}] = At(0)
	}
	if err := r.AddOffsets(ctx, at); err != nil {
		t.Fatal(err)
	}
	first := log.waitFor(t, "after the add", 0, func(seenFetch) bool { return true })
	if len(first.named) != n || first.epoch != 0 {
		t.Fatalf("the first fetch (session %d, epoch %d) names %d partitions, want all %d", first.id, first.epoch, len(first.named), n)
	}

	// Oldest: one ListOffsets answers them all, and the answer subscribes them together.
	// The second reader is another consumer's, so that its partitions go to a broker
	// consumer of its own, which must name them all in its session's first fetch. (A
	// reader of the same consumer could hand them to the first reader's broker consumer
	// before that one stopped, whose session holds them already at the same positions and
	// rightly names none of them: found under load in CI, no fetch named them.)
	c2 := newConsumer(t, sessionConfig(seeds, newRecorder()))
	r2, err := c2.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	from := log.mark()
	parts := make([]About, n)
	for p := range parts {
		parts[p] = About{"t", int32(p)}
	}
	if err := r2.Add(ctx, Oldest(), parts...); err != nil {
		t.Fatal(err)
	}
	named := log.waitFor(t, "naming the second reader's partitions", from, func(f seenFetch) bool { return len(f.named) > 0 })
	if len(named.named) != n {
		t.Fatalf("the first fetch naming the second reader's partitions names %d, want all %d", len(named.named), n)
	}
}
