package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// collector runs one member's Poll loop on a goroutine of the test and keeps what it
// read, per partition; it checks as it goes that a partition's offsets increase within
// one ownership.
type collector struct {
	t    testing.TB
	m    *Member
	name string

	mu     sync.Mutex
	seen   map[consumer.About][]int64 // offsets read, in order, across ownerships
	total  int
	change chan struct{} // closed and replaced on every batch
	done   chan struct{}
	err    error
	events []string // assigned/revoked/lost, in order
}

func newCollector(t testing.TB, name string) *collector {
	return &collector{t: t, name: name, seen: make(map[consumer.About][]int64), change: make(chan struct{}), done: make(chan struct{})}
}

// callbacks sets cfg's callbacks to record into col, after any cfg has already.
func (col *collector) callbacks(cfg *Config) {
	note := func(what string, before func(context.Context, []consumer.About)) func(context.Context, []consumer.About) {
		return func(ctx context.Context, parts []consumer.About) {
			if before != nil {
				before(ctx, parts)
			}
			col.mu.Lock()
			col.events = append(col.events, fmt.Sprintf("%s %v", what, parts))
			close(col.change)
			col.change = make(chan struct{})
			col.mu.Unlock()
		}
	}
	cfg.OnAssigned, cfg.OnRevoked, cfg.OnLost = note("assigned", cfg.OnAssigned), note("revoked", cfg.OnRevoked), note("lost", cfg.OnLost)
}

func (col *collector) run(ctx context.Context) {
	defer close(col.done)
	for {
		bs, err := col.m.Poll(ctx)
		if err != nil {
			col.mu.Lock()
			col.err = err
			col.mu.Unlock()
			return
		}
		col.mu.Lock()
		for _, b := range bs {
			if b.Err != nil {
				col.t.Errorf("%s: partition error: %v", col.name, b.Err)
				continue
			}
			a := consumer.About{Topic: b.Topic, Partition: b.Partition}
			for _, r := range b.Records {
				col.seen[a] = append(col.seen[a], r.Offset)
				col.total++
			}
		}
		close(col.change)
		col.change = make(chan struct{})
		col.mu.Unlock()
	}
}

// waitFor waits until cond (called with col.mu held) holds.
func (col *collector) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		col.mu.Lock()
		ok, ch := cond(), col.change
		col.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: no %s within %v", col.name, what, testTimeout)
		}
	}
}

// waitReadThrough waits until col has read every partition it is assigned through offset
// last.
func (col *collector) waitReadThrough(t testing.TB, what string, last int64) {
	t.Helper()
	col.waitFor(t, what, func() bool {
		for _, a := range col.m.Assigned() {
			if len(col.seen[a]) == 0 || col.seen[a][len(col.seen[a])-1] < last {
				return false
			}
		}
		return true
	})
}

// join starts a member of group on its own consumer and a collector polling it.
func join(t *testing.T, seeds []string, cfg Config, name string) *collector {
	t.Helper()
	return joinOn(t, newConsumer(t, seeds), cfg, name)
}

// joinOn is join on consumer c.
func joinOn(t *testing.T, c *consumer.Consumer, cfg Config, name string) *collector {
	t.Helper()
	col := newCollector(t, name)
	col.callbacks(&cfg)
	m, err := Join(ctxT(t), c, cfg)
	if err != nil {
		t.Fatalf("%s: join: %v", name, err)
	}
	col.m = m
	ctx, cancel := context.WithCancel(context.Background())
	go col.run(ctx)
	t.Cleanup(func() {
		closeMember(t, col)
		cancel()
		<-col.done
	})
	return col
}

// closeMember closes the member and waits for its poll loop to end.
func closeMember(t testing.TB, col *collector) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := col.m.Close(ctx); err != nil {
		t.Errorf("%s: close: %v", col.name, err)
	}
	select {
	case <-col.done:
	case <-ctx.Done():
		t.Fatalf("%s: Poll did not return after Close", col.name)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if !errors.Is(col.err, ErrClosed) {
		t.Errorf("%s: Poll ended with %v, want ErrClosed", col.name, col.err)
	}
}

// union merges what the collectors read: per partition, each offset with how often it
// was read.
func union(cols ...*collector) map[consumer.About]map[int64]int {
	out := make(map[consumer.About]map[int64]int)
	for _, col := range cols {
		col.mu.Lock()
		for a, offs := range col.seen {
			if out[a] == nil {
				out[a] = make(map[int64]int)
			}
			for _, o := range offs {
				out[a][o]++
			}
		}
		col.mu.Unlock()
	}
	return out
}

// checkAll fails unless every offset below n of each of parts partitions was read at
// least once.
func checkAll(t *testing.T, got map[consumer.About]map[int64]int, parts, n int) (dups int) {
	t.Helper()
	for p := range parts {
		a := consumer.About{Topic: "t", Partition: int32(p)}
		for o := range int64(n) {
			switch c := got[a][o]; {
			case c == 0:
				t.Errorf("%s offset %d never read", a, o)
			case c > 1:
				dups += c - 1
			}
		}
	}
	return dups
}

func TestOneMemberGetsEverything(t *testing.T) {
	const parts, n = 4, 50
	_, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, n)
	var events []string
	cfg := testGroupConfig("g1")
	cfg.OnAssigned = func(_ context.Context, ps []consumer.About) {
		events = append(events, fmt.Sprint("assigned ", len(ps)))
	}
	cfg.OnRevoked = func(_ context.Context, ps []consumer.About) { events = append(events, fmt.Sprint("revoked ", len(ps))) }
	m, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Assigned()); got != parts {
		t.Fatalf("assigned %d partitions, want %d: %v", got, parts, m.Assigned())
	}
	next := make(map[int32]int64)
	for total := 0; total < parts*n; {
		bs, err := m.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			for _, r := range b.Records {
				if r.Offset != next[b.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", b.Partition, r.Offset, next[b.Partition])
				}
				next[b.Partition]++
				total++
			}
		}
	}
	// Coming back to Poll finishes what the last one returned (nothing more is there).
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Poll(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll: %v, want context.Canceled", err)
	}
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	offs := committedOffsets(t, seeds, "g1")
	for p := range int32(parts) {
		if offs[p] != n {
			t.Errorf("partition %d committed at %d, want %d", p, offs[p], n)
		}
	}
	if !slices.Equal(events, []string{"assigned 4", "revoked 4"}) {
		t.Errorf("callbacks %q, want assigned then revoked", events)
	}
}

// waitAssigned waits until the members own, together, exactly every one of parts
// partitions, with no partition owned twice, each member owning want[i].
func waitAssigned(t *testing.T, parts int, want []int, cols ...*collector) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		// Channels first, then the check: a change in between is not missed.
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(time.After(time.Until(deadline)))}}
		for _, col := range cols {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(col.m.settled())})
		}
		owners := make(map[consumer.About]int)
		ok := true
		for i, col := range cols {
			as := col.m.Assigned()
			if want != nil && len(as) != want[i] {
				ok = false
			}
			for _, a := range as {
				owners[a]++
			}
		}
		for _, n := range owners {
			if n > 1 {
				ok = false
			}
		}
		if ok && len(owners) == parts {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("assignments did not settle to %v over %d partitions: %v", want, parts, owners)
		}
		reflect.Select(cases) // a member's assignment changed, or the deadline
	}
}

func TestThreeMembersSplitTheTopic(t *testing.T) {
	const parts, n = 6, 40
	_, seeds := startKfake(t, parts)
	cols := []*collector{
		join(t, seeds, testGroupConfig("g3"), "m1"),
		join(t, seeds, testGroupConfig("g3"), "m2"),
		join(t, seeds, testGroupConfig("g3"), "m3"),
	}
	waitAssigned(t, parts, []int{2, 2, 2}, cols...)
	produceN(t, seeds, parts, 0, n)
	for _, col := range cols {
		col.waitReadThrough(t, "its partitions' records", n-1)
	}
	// Every record is read; and within the final generation, by one member only.
	got := union(cols...)
	checkAll(t, got, parts, n)
	for _, col := range cols {
		for _, a := range col.m.Assigned() {
			for _, other := range cols {
				if other != col && slices.Contains(other.m.Assigned(), a) {
					t.Errorf("%s owned by %s and %s", a, col.name, other.name)
				}
			}
		}
	}
}

func TestJoinAndLeaveMovePartitionsWithoutSkipping(t *testing.T) {
	const parts = 6
	kc, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, 30)
	m1 := join(t, seeds, testGroupConfig("gm"), "m1")
	m1.waitFor(t, "the first records", func() bool { return m1.total >= parts*30 })

	// A second member joins: m1 revokes everything (committing what it finished), both
	// rejoin, and each reads its half from the committed offsets.
	m2 := join(t, seeds, testGroupConfig("gm"), "m2")
	waitAssigned(t, parts, []int{3, 3}, m1, m2)
	produceN(t, seeds, parts, 30, 30)
	for _, col := range []*collector{m1, m2} {
		col.waitReadThrough(t, "the second records", 59)
	}
	// m1 leaves (LeaveGroup): m2 takes everything and reads on from m1's commits.
	left := observeLeaves(kc)
	id := m1.m.MemberID()
	closeMember(t, m1)
	select {
	case got := <-left:
		if !slices.Equal(got, []string{id}) {
			t.Errorf("LeaveGroup for %v, want [%s]", got, id)
		}
	default:
		t.Error("m1 closed without a LeaveGroup")
	}
	waitAssigned(t, parts, []int{parts}, m2)
	produceN(t, seeds, parts, 60, 30)
	m2.waitFor(t, "the third records", func() bool {
		for p := range int32(parts) {
			s := m2.seen[consumer.About{Topic: "t", Partition: p}]
			if len(s) == 0 || s[len(s)-1] < 89 {
				return false
			}
		}
		return true
	})
	dups := checkAll(t, union(m1, m2), parts, 90)
	// Re-read are only records not committed: at most the batches of each member's last
	// Poll before a revocation, never more than what a partition held then.
	if dups > parts*60 {
		t.Errorf("%d records read twice", dups)
	}
	t.Logf("%d records read twice over two rebalances", dups)
	m1.mu.Lock()
	defer m1.mu.Unlock()
	if len(m1.events) < 3 || m1.events[len(m1.events)-1][:7] != "revoked" {
		t.Errorf("m1's callbacks %q: want assigned, revoked, ..., revoked", m1.events)
	}
}

// observeLeaves passes the member IDs of every LeaveGroup kfake receives to the channel
// it returns, leaving kfake to answer them.
func observeLeaves(kc *kfake.Cluster) <-chan []string {
	ch := make(chan []string, 16)
	kc.ControlKey(int16(kmsg.LeaveGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		r := req.(*kmsg.LeaveGroupRequest)
		ids := []string{}
		if r.MemberID != "" {
			ids = append(ids, r.MemberID)
		}
		for _, m := range r.Members {
			ids = append(ids, m.MemberID)
		}
		select {
		case ch <- ids:
		default:
		}
		return nil, nil, false
	})
	return ch
}

func TestStaticMemberDoesNotLeave(t *testing.T) {
	const parts = 2
	kc, seeds := startKfake(t, parts)
	cfg := testGroupConfig("gs")
	cfg.InstanceID = "instance-1"
	cfg.SessionTimeout = 30 * time.Second // longer than the test: a rebalance would wait it out
	m1 := join(t, seeds, cfg, "m1")
	left := observeLeaves(kc)
	closeMember(t, m1)
	select {
	case ids := <-left:
		t.Fatalf("a static member sent LeaveGroup for %v", ids)
	default:
	}
	// Its restart takes its place back at once (KIP-345), with its partitions.
	m2 := join(t, seeds, cfg, "m1 again")
	waitAssigned(t, parts, []int{parts}, m2)
}

// logWatch is a slog handler that signals each record whose message contains a word.
type logWatch struct {
	word string
	ch   chan struct{}
}

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, w.word) {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
	return nil
}
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *logWatch) WithGroup(string) slog.Handler      { return w }

func TestRevocationWaitsForTheBatchInHand(t *testing.T) {
	const parts = 2
	_, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, 10)
	var order []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	watch := &logWatch{word: "waits for the user", ch: make(chan struct{}, 1)}
	cfg := testGroupConfig("gh")
	cfg.Logger = slog.New(watch)
	cfg.OnRevoked = func(context.Context, []consumer.About) { note("m1 revoked") }
	m1, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close(context.Background())
	inHand, err := m1.Poll(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}

	// A second member joins; m1's revocation must wait for m1's user.
	joined := make(chan *Member, 1)
	c2 := newConsumer(t, seeds)
	go func() {
		m2, err := Join(ctxT(t), c2, testGroupConfig("gh"))
		if err != nil {
			t.Error(err)
		}
		joined <- m2
	}()
	select {
	case <-watch.ch:
	case <-time.After(testTimeout):
		t.Fatal("m1's revocation did not wait for its user")
	}
	note("m1 back")
	// m1's user is back: the batches in hand count as finished and are committed.
	pollCtx, cancel := context.WithCancel(ctxT(t))
	polled := make(chan error, 1)
	go func() {
		_, err := m1.Poll(pollCtx)
		polled <- err
	}()
	m2 := <-joined
	if m2 == nil {
		t.FailNow()
	}
	defer m2.Close(context.Background())
	waitAssigned(t, parts, []int{1, 1}, &collector{m: m1}, &collector{m: m2})
	cancel()
	<-polled
	mu.Lock()
	if !slices.Equal(order, []string{"m1 back", "m1 revoked"}) {
		t.Errorf("order %v: the revocation did not wait for the user", order)
	}
	mu.Unlock()
	offs := committedOffsets(t, seeds, "gh")
	for _, b := range inHand {
		if got := offs[b.Partition]; got != b.NextOffset {
			t.Errorf("partition %d committed at %d, want %d (the end of the batch in hand)", b.Partition, got, b.NextOffset)
		}
	}
}

func TestCloseCommitsOnlyWhatWasFinished(t *testing.T) {
	_, seeds := startKfake(t, 1)
	produceN(t, seeds, 1, 0, 10)
	m, err := Join(ctxT(t), newConsumer(t, seeds), testGroupConfig("gc"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*troupe.Record
	var finished, last int64 // the end of what earlier Polls returned, and of the last
	for len(recs) < 10 {
		bs, err := m.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		finished = last
		for _, b := range bs {
			last = b.NextOffset
			for i := range b.Records {
				recs = append(recs, &b.Records[i])
			}
		}
	}
	// Everything was returned, and all but the last Poll's batches finished; of those,
	// only what Mark names counts.
	m.Mark(recs[3])
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got, want := committedOffsets(t, seeds, "gc")[0], max(finished, 4); got != want {
		t.Errorf("committed %d, want %d (the mark, or the end of the Polls before the last)", got, want)
	}
	if _, err := m.Poll(ctxT(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Poll after Close: %v, want ErrClosed", err)
	}
}

func TestPanickingCallbacksDoNotWedgeTheMember(t *testing.T) {
	const parts = 2
	_, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, 10)
	cfg := testGroupConfig("gp")
	watch := &logWatch{word: "panicked", ch: make(chan struct{}, 1)}
	cfg.Logger = slog.New(watch)
	boom := func(context.Context, []consumer.About) { panic("boom") }
	cfg.OnAssigned, cfg.OnRevoked = boom, boom
	m, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-watch.ch
	for read := 0; read < parts*10; {
		bs, err := m.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			read += len(b.Records)
		}
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = m.Poll(done) // back from the last batches: they are finished
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// What was finished is committed all the same.
	if offs := committedOffsets(t, seeds, "gp"); offs[0] != 10 || offs[1] != 10 {
		t.Errorf("committed %v after a panicking OnRevoked, want 10 for both partitions", offs)
	}
}

// TestStartingPositions: a partition starts at its committed offset; without one, where
// the consumer's OffsetReset says — and under ResetNone, not at all: Poll reports it.
func TestStartingPositions(t *testing.T) {
	const parts = 2
	_, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, 10)

	// Newest: nothing of what is there now.
	m, err := Join(ctxT(t), newConsumer(t, seeds, consumer.ResetLatest), testGroupConfig("gn"))
	if err != nil {
		t.Fatal(err)
	}
	produceN(t, seeds, parts, 10, 1)
	seen := map[int32]int64{}
	var last []*troupe.Record
	for len(seen) < parts {
		bs, err := m.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if len(b.Records) == 0 {
				t.Fatalf("partition %d: %v", b.Partition, b.Err)
			}
			if b.Records[0].Offset != 10 {
				t.Errorf("partition %d started at %d under ResetLatest, want 10", b.Partition, b.Records[0].Offset)
			}
			seen[b.Partition] = b.NextOffset
			last = append(last, &b.Records[len(b.Records)-1])
		}
	}
	m.Mark(last...)
	if err := m.Commit(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	// Committed offsets come first: a new member of the group reads on from 11.
	produceN(t, seeds, parts, 11, 1)
	m, err = Join(ctxT(t), newConsumer(t, seeds, consumer.ResetNone), testGroupConfig("gn"))
	if err != nil {
		t.Fatal(err)
	}
	for got := 0; got < parts; {
		bs, err := m.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if len(b.Records) == 0 {
				t.Fatalf("partition %d: %v", b.Partition, b.Err)
			}
			if b.Records[0].Offset != 11 {
				t.Errorf("partition %d: %v, first offset %d; want 11, its committed offset", b.Partition, b.Err, b.Records[0].Offset)
			}
			got++
		}
	}
	_ = m.Close(ctxT(t))

	// ResetNone and nothing committed: Poll says so, for each partition.
	m, err = Join(ctxT(t), newConsumer(t, seeds, consumer.ResetNone), testGroupConfig("other"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	bs, err := m.Poll(ctxT(t))
	if err != nil || len(bs) != parts {
		t.Fatalf("Poll: %d batches, %v; want %d", len(bs), err, parts)
	}
	for _, b := range bs {
		if !errors.Is(b.Err, ErrNoCommittedOffset) {
			t.Errorf("partition %d: %v, want ErrNoCommittedOffset", b.Partition, b.Err)
		}
	}
}

// TestAutoCommit: without being asked, the member commits what its user finished, on
// its interval, while it owns the partitions.
func TestAutoCommit(t *testing.T) {
	const parts, n = 2, 10
	_, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, n)
	cfg := testGroupConfig("ga")
	cfg.DisableAutoCommit, cfg.AutoCommitInterval = false, 20*time.Millisecond
	watch := &logWatch{word: "automatic commit done", ch: make(chan struct{}, 1)}
	cfg.Logger = slog.New(watch)
	col := join(t, seeds, cfg, "m1")
	col.waitFor(t, "every record", func() bool {
		return len(col.seen[consumer.About{Topic: "t", Partition: 0}]) == n && len(col.seen[consumer.About{Topic: "t", Partition: 1}]) == n
	})
	// The collector polls again at once, which finishes the last batches; an automatic
	// commit after that commits them.
	deadline := time.After(testTimeout)
	for {
		select {
		case <-watch.ch:
		case <-deadline:
			t.Fatal("no automatic commit of every record")
		}
		offs := committedOffsets(t, seeds, "ga")
		if offs[0] == n && offs[1] == n {
			break
		}
	}
	if got := len(col.m.Assigned()); got != parts {
		t.Errorf("owns %d partitions after committing, want %d", got, parts)
	}
}
