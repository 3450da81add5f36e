package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/supervisor"
)

// readerCheck checks what a Reader delivers: per partition, the values produced by
// produce, in order, each once.
type readerCheck struct {
	t    testing.TB
	next map[About]int // the index of the next record expected
	n    int
}

func newReaderCheck(t testing.TB) *readerCheck {
	return &readerCheck{t: t, next: make(map[About]int)}
}

func (c *readerCheck) batch(b *Batch) {
	c.t.Helper()
	if b.Err != nil {
		c.t.Fatalf("%s[%d]: %v", b.Topic, b.Partition, b.Err)
	}
	if len(b.Records) == 0 {
		c.t.Fatal("an empty batch")
	}
	a := About{b.Topic, b.Partition}
	for i := range b.Records {
		r := &b.Records[i]
		if r.Topic != b.Topic || r.Partition != b.Partition {
			c.t.Fatalf("record of %s[%d] in a batch of %s", r.Topic, r.Partition, a)
		}
		if want := value(r.Topic, r.Partition, c.next[a]); string(r.Value) != want {
			c.t.Fatalf("%s: offset %d: %q, want %q (lost, repeated or reordered)", a, r.Offset, r.Value, want)
		}
		c.next[a]++
		c.n++
	}
}

// pollUntil polls r until check holds n records.
func (c *readerCheck) pollUntil(ctx context.Context, r *Reader, n int) {
	c.t.Helper()
	for c.n < n {
		bs, err := r.Poll(ctx)
		if err != nil {
			c.t.Fatalf("poll after %d of %d records: %v", c.n, n, err)
		}
		seen := map[About]bool{}
		for _, b := range bs {
			a := About{b.Topic, b.Partition}
			if seen[a] {
				c.t.Fatalf("two batches of %s in one poll", a)
			}
			seen[a] = true
			c.batch(b)
		}
	}
	if c.n != n {
		c.t.Fatalf("read %d records, want %d", c.n, n)
	}
}

func countKind(c *Consumer, kind string) int {
	n := 0
	for _, line := range strings.Split(dumpActors(c.Actors()), "\n") {
		if strings.Contains(line, kind) {
			n++
		}
	}
	return n
}

// TestReaderReadsTopicsWithoutActorsPerPartition reads two topics of 12 partitions over
// two brokers through one Reader: every record arrives once, in order per partition,
// and the only actors are the reader's dispatcher and one broker consumer per broker.
func TestReaderReadsTopicsWithoutActorsPerPartition(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(12, "a", "b"))
	for _, topic := range []string{"a", "b"} {
		for p := range int32(12) {
			produce(t, seeds, topic, p, 0, 20)
		}
	}
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(r.Partitions()); got != 24 {
		t.Fatalf("%d partitions", got)
	}
	check := newReaderCheck(t)
	check.pollUntil(ctx, r, 24*20)
	if n := countKind(c, "feeder"); n != 0 {
		t.Fatalf("%d feeders:\n%s", n, dumpActors(c.Actors()))
	}
	if n := countKind(c, "dispatcher"); n != 1 {
		t.Fatalf("%d dispatchers, want the reader's one:\n%s", n, dumpActors(c.Actors()))
	}
	if n := countKind(c, "broker-consumer"); n != 2 {
		t.Fatalf("%d broker consumers, want one per broker:\n%s", n, dumpActors(c.Actors()))
	}
	a := About{"a", 3}
	if r.Position(a) != 20 || r.HighWaterMark(a) != 20 || r.Lag(a) != 0 {
		t.Fatalf("position %d, high-water mark %d, lag %d", r.Position(a), r.HighWaterMark(a), r.Lag(a))
	}
	// New records keep coming through the same reader.
	produce(t, seeds, "b", 7, 20, 5)
	check.pollUntil(ctx, r, 24*20+5)
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Poll(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("poll after close: %v", err)
	}
}

// TestReaderUntilCaughtUp reads a topic whose partitions are partly empty up to the end
// it had: the iteration ends, and empty partitions do not block it.
func TestReaderUntilCaughtUp(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(4, "t"))
	produce(t, seeds, "t", 0, 0, 30)
	produce(t, seeds, "t", 2, 0, 7)
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UntilCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	check := newReaderCheck(t)
	for b, err := range r.Batches(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		check.batch(b)
	}
	if check.n != 37 {
		t.Fatalf("read %d records, want 37", check.n)
	}
	// All empty: caught up at once.
	_, seeds2 := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "empty"))
	c2 := newConsumer(t, testConfig(seeds2, newRecorder()))
	r2, err := c2.ReadTopics(ctx, Oldest(), "empty")
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.UntilCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if bs, err := r2.Poll(ctx); !errors.Is(err, ErrCaughtUp) {
		t.Fatalf("poll of empty partitions: %d batches, %v", len(bs), err)
	}
}

// TestReaderAddRemove hands partitions to a reader and back: a removed partition is no
// longer delivered, its Position is where a new reader continues without a gap or a
// repeat, and bad input is refused with matchable errors, adding nothing.
func TestReaderAddRemove(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(3, "t"))
	for p := range int32(3) {
		produce(t, seeds, "t", p, 0, 10)
	}
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	ctx := ctxT(t)
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		parts []About
		from  Offset
		want  error
	}{
		{[]About{{"nope", 0}}, Oldest(), ErrUnknownTopic},
		{[]About{{"t", 0}, {"t", 3}}, Oldest(), ErrUnknownPartition},
		{[]About{{"t", -1}}, Oldest(), ErrUnknownPartition},
		{[]About{{"t", 0}}, At(-5), ErrInvalidOffset},
		{[]About{{"t", 0}, {"t", 0}}, Oldest(), ErrAlreadyConsuming},
	} {
		if err := r.Add(ctx, tc.from, tc.parts...); !errors.Is(err, tc.want) {
			t.Fatalf("Add(%v, %v): %v, want %v", tc.parts, tc.from, err, tc.want)
		}
	}
	if len(r.Partitions()) != 0 {
		t.Fatalf("bad input added %v", r.Partitions())
	}
	pc := consume(t, c, "t", 2, Oldest())
	if err := r.Add(ctx, Oldest(), About{"t", 2}); !errors.Is(err, ErrAlreadyConsuming) {
		t.Fatalf("adding a partition a PartitionConsumer reads: %v", err)
	}
	if err := pc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, At(0), About{"t", 0}, About{"t", 1}); err != nil {
		t.Fatal(err)
	}
	check := newReaderCheck(t)
	check.pollUntil(ctx, r, 20)
	produce(t, seeds, "t", 1, 10, 5)
	produce(t, seeds, "t", 0, 10, 5)
	// Remove partition 1 once its position is known; what the reader fetched of it and
	// did not return is dropped, and a second reader carries on from its position.
	a1 := About{"t", 1}
	if err := r.Remove(ctx, a1); err != nil {
		t.Fatal(err)
	}
	if r.Position(a1) != -1 || len(r.Partitions()) != 1 {
		t.Fatalf("partition 1 still read: %v", r.Partitions())
	}
	check.pollUntil(ctx, r, 25) // partition 0's five
	r2, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Add(ctx, At(10), a1); err != nil {
		t.Fatal(err)
	}
	check.pollUntil(ctx, r2, 30)
	if check.next[a1] != 15 {
		t.Fatalf("partition 1 at %d", check.next[a1])
	}
}

// TestReaderPauseResume pauses one partition of a reader: Poll returns nothing of it
// while the others flow, and everything after Resume, in order.
func TestReaderPauseResume(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	p0 := About{"t", 0}
	r.Pause(p0)
	if !r.Paused(p0) {
		t.Fatal("not paused")
	}
	produce(t, seeds, "t", 0, 0, 10)
	produce(t, seeds, "t", 1, 0, 10)
	check := newReaderCheck(t)
	check.pollUntil(ctx, r, 10)
	if check.next[p0] != 0 {
		t.Fatal("a paused partition was delivered")
	}
	produce(t, seeds, "t", 1, 10, 10)
	check.pollUntil(ctx, r, 20)
	r.Resume(p0)
	check.pollUntil(ctx, r, 30)
	if check.next[p0] != 10 {
		t.Fatalf("partition 0 at %d", check.next[p0])
	}
}

// TestReaderBudgetAndSlowPoll reads with a byte budget smaller than the data and a short
// MaxProcessingTime, leaving batches unpolled: the reader reports itself slow and gives
// up its partitions' places, and everything still arrives, in order, once it polls. The
// reader never holds more than its budget (its fetches in flight count against it) and
// one batch per broker beyond it.
func TestReaderBudgetAndSlowPoll(t *testing.T) {
	// 24 partitions of up to MaxPartitionBytes each would hold far more than the bound
	// below without the budget: the test fails if the budget is not kept.
	const parts, per = 24, 60
	_, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(parts, "t"))
	// Ten records at a time, so that no batch holds more than ten (a few hundred bytes):
	// a broker may return a first batch larger than MaxBytes (KIP-74), and the bound
	// below allows one such batch per response, not a batch of all the records that kgo
	// may build when handed them all at once.
	cl := kgoClient(t, seeds)
	for p := range int32(parts) {
		for first := 0; first < per; first += 10 {
			produceWith(t, cl, "t", p, first, 10)
		}
	}
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	cfg.MaxBufferedBytes = 4 << 10
	cfg.MaxPartitionBytes = 1 << 10
	cfg.MaxBytes = 4 << 10
	cfg.MaxProcessingTime = 20 * time.Millisecond
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "SlowReader", isA[SlowReader])
	check := newReaderCheck(t)
	for check.n < parts*per {
		// At most the budget, fetches in flight included (each asks for what is left of
		// it), plus at most one batch beyond it per response (KIP-74), one per broker.
		// (Before fetches in flight counted, a response per broker could add MaxBytes
		// to a full budget.)
		if held := r.bytes.Load(); held > int64(cfg.MaxBufferedBytes+2*(1<<10)) {
			t.Fatalf("the reader holds %d bytes; budget %d", held, cfg.MaxBufferedBytes)
		}
		bs, err := r.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			check.batch(b)
		}
	}
	if check.n != parts*per {
		t.Fatalf("read %d", check.n)
	}
}

// TestReaderSurvivesLeaderMovesAndFailures moves leaders and injects broker consumer
// failures while a reader reads: the subscriptions go back to the reader's dispatcher and
// out again, and every record arrives once, in order per partition, with no loss reported.
func TestReaderSurvivesLeaderMovesAndFailures(t *testing.T) {
	requireFaults(t)
	const parts, per = 6, 50
	kc, seeds := startKfake(t, kfake.NumBrokers(3), kfake.SeedTopics(parts, "t"))
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	check := newReaderCheck(t)
	for round := range 6 {
		produceAll(t, seeds, "t", parts, round*per, per)
		switch round % 3 {
		case 0:
			for p := range int32(parts) {
				if err := kc.MoveTopicPartition("t", p, (kc.LeaderFor("t", p)+1)%3); err != nil {
					t.Fatal(err)
				}
			}
		case 1:
			kc.ShufflePartitionLeaders()
		case 2:
			c.faults.brokerConsumer.Store(2)
		}
		check.pollUntil(ctx, r, (round+1)*parts*per)
	}
	rec.waitFor(t, "Unsubscribed", isA[Unsubscribed])
	if n := rec.count(isA[LogTruncation]) + rec.count(isA[OffsetReset]); n > 0 {
		t.Fatalf("leader moves without loss reported loss:\n%s", rec.dump())
	}
}

// TestReaderCatchesUpPastTransactionMarkers reads, until caught up, a partition whose
// log ends with a transaction's commit marker and one holding only an aborted
// transaction, under ReadCommitted: the positions reach the ends by passing markers and
// aborted records that deliver nothing, and the iteration ends.
func TestReaderCatchesUpPastTransactionMarkers(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	for p, commit := range []bool{true, false} {
		tx := kgoClient(t, seeds, kgo.TransactionalID(fmt.Sprint("troupe-reader-", p)))
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produceWith(t, tx, "t", int32(p), 0, 10)
		if err := tx.EndTransaction(ctxT(t), kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(seeds, newRecorder())
	cfg.IsolationLevel = ReadCommitted
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UntilCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	check := newReaderCheck(t)
	for b, err := range r.Batches(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		check.batch(b)
	}
	if check.n != 10 || check.next[About{"t", 0}] != 10 {
		t.Fatalf("read %d records (%v); want partition 0's 10 committed ones", check.n, check.next)
	}
	for p := range int32(2) {
		if pos := r.Position(About{"t", p}); pos != 11 {
			t.Fatalf("partition %d at %d, want 11 (after the marker)", p, pos)
		}
	}
}

// TestReaderCatchesUpOnNothingButAnAbortedTransaction: the only partition holds an aborted
// transaction and its marker, so under ReadCommitted nothing is delivered and the position
// reaches the end only by passing them; Poll must notice that and end.
func TestReaderCatchesUpOnNothingButAnAbortedTransaction(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	tx := kgoClient(t, seeds, kgo.TransactionalID("troupe-reader-aborted"))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produceWith(t, tx, "t", 0, 0, 10)
	if err := tx.EndTransaction(ctxT(t), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(seeds, newRecorder())
	cfg.IsolationLevel = ReadCommitted
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.UntilCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if bs, err := r.Poll(ctx); !errors.Is(err, ErrCaughtUp) {
		t.Fatalf("poll: %d batches, %v; want ErrCaughtUp", len(bs), err)
	}
	if pos := r.Position(About{"t", 0}); pos != 11 {
		t.Fatalf("position %d, want 11", pos)
	}
}

// TestReaderRevokeWhilePolling hands partitions back and forth while another goroutine
// polls without pause, as a group member's revocations run beside its user's loop: each
// round revokes some partitions and adds them again at the position Revoke returned.
// Every record must arrive exactly once, in order: a batch of a revoked partition
// returned after its position was taken would come again after the re-add (a repeat),
// and a position past a batch that was dropped would skip it (a gap).
func TestReaderRevokeWhilePolling(t *testing.T) {
	// With MaxPollRecords 3, every batch of 5 is split: revocations find rests waiting.
	for _, limit := range []int{0, 3} {
		t.Run(fmt.Sprintf("MaxPollRecords=%d", limit), func(t *testing.T) { revokeWhilePolling(t, limit) })
	}
}

func revokeWhilePolling(t *testing.T, maxPollRecords int) {
	const parts, chunks, per = 4, 40, 5
	_, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(parts, "t"))
	cl := kgoClient(t, seeds)
	for i := range chunks {
		for p := range int32(parts) {
			produceWith(t, cl, "t", p, i*per, per) // one record batch each
		}
	}
	cfg := testConfig(seeds, newRecorder())
	cfg.MaxPartitionBytes = 1 // one record batch per partition per fetch
	cfg.MaxPollRecords = maxPollRecords
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		got      = make(map[About][]int64) // offsets received, in order
		revoking = make(map[About]int)     // revocations begun, per partition
		revoked  = make(map[About]int)     // revocations returned, per partition
		total    int
		failure  string
	)
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	progress := make(chan struct{}, 1) // the user's loop received records
	go func() {                        // the user's loop
		defer close(polled)
		for {
			bs, err := r.Poll(pollCtx)
			if err != nil {
				return
			}
			mu.Lock()
			for _, b := range bs {
				a := About{b.Topic, b.Partition}
				if b.Err != nil {
					failure = fmt.Sprintf("%s: %v", a, b.Err)
				}
				for i := range b.Records {
					got[a] = append(got[a], b.Records[i].Offset)
				}
				total += len(b.Records)
			}
			mu.Unlock()
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()

	for round := 0; ; round++ {
		mu.Lock()
		n, fail := total, failure
		mu.Unlock()
		if fail != "" {
			t.Fatal(fail)
		}
		if n >= parts*chunks*per {
			break
		}
		// A round per delivery, not faster: a group rebalances far less often, and each
		// round may stop a broker consumer with a fetch in flight on the shared connection.
		select {
		case <-progress:
		case <-ctx.Done():
			t.Fatalf("read %d of %d records", n, parts*chunks*per)
		}
		which := []About{{"t", int32(round % parts)}, {"t", int32((round + 1) % parts)}}
		mu.Lock()
		for _, a := range which {
			revoking[a]++
		}
		mu.Unlock()
		pos, err := r.Revoke(ctx, which...)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, a := range which {
			revoked[a]++
		}
		mu.Unlock()
		for _, a := range which {
			at, ok := pos[a]
			if !ok {
				t.Fatalf("round %d: no position for %s", round, a)
			}
			from := Oldest()
			if at >= 0 {
				from = At(at)
			}
			if err := r.Add(ctx, from, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	stopPoll()
	<-polled
	for p := range int32(parts) {
		a := About{"t", p}
		offs := got[a]
		for i, off := range offs {
			if off != int64(i) {
				t.Fatalf("%s: record %d has offset %d (repeated or skipped): %v", a, i, off, offs[max(0, i-10):i+1])
			}
		}
	}
}

// TestReaderTerminalErrorEndsOnlyItsPartition reads two partitions, one from an offset
// past its end under ResetNone: Poll returns that partition's *OutOfRangeError as a
// batch, the reader stops reading it (it leaves Partitions, its Position is gone), and
// the other partition's records keep coming.
func TestReaderTerminalErrorEndsOnlyItsPartition(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	produce(t, seeds, "t", 0, 0, 5)
	produce(t, seeds, "t", 1, 0, 5)
	cfg := testConfig(seeds, newRecorder())
	cfg.OffsetReset = ResetNone
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	bad, good := About{"t", 1}, About{"t", 0}
	if err := r.Add(ctx, At(1000), bad); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, At(0), good); err != nil {
		t.Fatal(err)
	}
	var failed error
	records := 0
	for failed == nil || records < 5 {
		bs, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll: %v (failed %v, %d records)", err, failed, records)
		}
		for _, b := range bs {
			a := About{b.Topic, b.Partition}
			switch {
			case b.Err != nil && a == bad:
				failed = b.Err
			case b.Err != nil:
				t.Fatalf("%s: %v", a, b.Err)
			case a == bad:
				t.Fatalf("records of %s", a)
			default:
				records += len(b.Records)
			}
		}
	}
	var oor *OutOfRangeError
	if !errors.As(failed, &oor) || oor.Partition != 1 {
		t.Fatalf("got %v, want an *OutOfRangeError of partition 1", failed)
	}
	if ps := r.Partitions(); len(ps) != 1 || ps[0] != good || r.Position(bad) != -1 {
		t.Fatalf("partitions %v, position of the failed one %d", ps, r.Position(bad))
	}
	produce(t, seeds, "t", 0, 5, 3)
	check := newReaderCheck(t)
	check.next[good] = 5
	check.pollUntil(ctx, r, 3)
	// The failed partition can be added again, at a good offset.
	if err := r.Add(ctx, At(0), bad); err != nil {
		t.Fatal(err)
	}
	check.pollUntil(ctx, r, 8)
}

// TestReaderSlowThenRemovedFetchesAgain: a reader goes slow (results ready, not polled
// within MaxProcessingTime), then the partitions whose results made it slow are removed
// and another is added (a group member's rebalance does exactly this). The caller is
// back in Poll and nothing is ready: the reader is not slow any more, and the new
// partition is fetched. (It stayed slow, leaving every partition out of fetches, and
// Poll waited for ever: found by the group property suite, issue 21.)
func TestReaderSlowThenRemovedFetchesAgain(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	produce(t, seeds, "t", 0, 0, 10)
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	cfg.MaxProcessingTime = 20 * time.Millisecond
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := About{"t", 0}, About{"t", 1}
	if err := r.Add(ctx, Oldest(), p0); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "SlowReader", isA[SlowReader])
	if err := r.Remove(ctx, p0); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, Oldest(), p1); err != nil {
		t.Fatal(err)
	}
	produce(t, seeds, "t", 1, 0, 10)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	check := newReaderCheck(t)
	for check.n < 10 {
		bs, err := r.Poll(pctx)
		if err != nil {
			t.Fatalf("Poll after %d of partition 1's 10 records: %v", check.n, err)
		}
		for _, b := range bs {
			if b.Partition != 1 {
				t.Fatalf("a batch of removed partition %d", b.Partition)
			}
			check.batch(b)
		}
	}
}

// TestReaderBudgetCountsFetchesInFlight checks the budget's arithmetic without a broker:
// a fetch asks for a broker's share at most and never more than is left, what fetches in
// flight reserve counts as held, and a fetch that ends gives its reservation back.
func TestReaderBudgetCountsFetchesInFlight(t *testing.T) {
	r := &Reader{cfg: &Config{MaxBufferedBytes: 300}}
	r.homes.Store(3)
	if got := r.share(); got != 100 {
		t.Fatalf("share of an empty budget over 3 brokers: %d, want 100", got)
	}
	r.reserve(100)
	r.reserve(100)
	r.bytes.Store(50)
	if got := r.share(); got != 50 {
		t.Fatalf("share with 250 of 300 held or reserved: %d, want what is left, 50", got)
	}
	r.reserve(50)
	if r.roomy() {
		t.Fatal("roomy with 300 of 300 held or reserved")
	}
	r.homes.Store(1)
	if got := r.share(); got != 1 {
		t.Fatalf("share of a full budget: %d, want 1 (a fetch still asks for something)", got)
	}
	r.unreserve(100) // a fetch ended, having brought nothing
	if !r.roomy() {
		t.Fatal("not roomy after a fetch gave back its reservation")
	}
	if got := r.share(); got != 100 {
		t.Fatalf("share after: %d, want 100", got)
	}
	r.homes.Store(0)
	if got := r.share(); got <= 0 {
		t.Fatalf("share over no known broker: %d", got)
	}
}

// TestReaderSharesItsBudgetOverItsOwnBrokers: a fetch asks for the budget divided by
// the brokers the reader's partitions are fetched from, not by the cluster's brokers. A
// reader of one partition of a three-broker cluster asks for its whole budget in every
// fetch (a third of it before); one of a partition on each broker comes to ask for a
// third, and none asks for more than the budget.
func TestReaderSharesItsBudgetOverItsOwnBrokers(t *testing.T) {
	const budget = 3 << 20
	read := func(t *testing.T, parts ...int32) (*Reader, *fetchLog) {
		kc, seeds := startKfake(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
		for p := range int32(3) { // kfake places leaders at random: one on each broker
			if err := kc.MoveTopicPartition("t", p, p); err != nil {
				t.Fatal(err)
			}
		}
		log := watchFetches(kc)
		cfg := testConfig(seeds, newRecorder())
		cfg.MaxBytes, cfg.MaxBufferedBytes = budget, budget
		r, err := newConsumer(t, cfg).NewReader()
		if err != nil {
			t.Fatal(err)
		}
		at := make(map[About]Offset)
		for _, p := range parts {
			at[About{"t", p}] = At(0)
		}
		if err := r.AddOffsets(ctxT(t), at); err != nil {
			t.Fatal(err)
		}
		return r, log
	}
	t.Run("one broker", func(t *testing.T) {
		_, log := read(t, 1)
		log.waitFor(t, "three fetches", 0, func(f seenFetch) bool { return f.at >= 2 })
		log.mu.Lock()
		defer log.mu.Unlock()
		for _, f := range log.seen {
			if f.maxBytes != budget {
				t.Fatalf("fetch %d asks for %d bytes, want the whole budget, %d", f.at, f.maxBytes, budget)
			}
		}
	})
	t.Run("three brokers", func(t *testing.T) {
		r, log := read(t, 0, 1, 2)
		log.waitFor(t, "a fetch asking for a third", 0, func(f seenFetch) bool { return f.maxBytes == budget/3 })
		if got := r.brokers(); got != 3 {
			t.Fatalf("the reader counts %d brokers, want 3", got)
		}
		log.mu.Lock()
		defer log.mu.Unlock()
		for _, f := range log.seen {
			if f.maxBytes > budget {
				t.Fatalf("fetch %d asks for %d bytes, over the budget", f.at, f.maxBytes)
			}
		}
	})
}

// TestReaderRemovesAPartitionWaitingOutABackoff removes a partition while its
// subscription waits out a backoff in the reader's dispatcher (its fetches keep failing,
// and the backoff is an hour): Remove returns at once, the other partitions are read
// throughout, and the removed partition can be read again by another reader. The
// dispatcher does not look at a subscription in backoff until it is due; a stop must
// still find it.
func TestReaderRemovesAPartitionWaitingOutABackoff(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	for p := range int32(3) {
		produce(t, seeds, "t", p, 0, 10)
	}
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "t", Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: -1})
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	cfg.Backoff = supervisor.Backoff{Min: time.Hour, Max: time.Hour}
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, At(0), "t")
	if err != nil {
		t.Fatal(err)
	}
	a1 := About{"t", 1}
	// The first hand-back is subscribed again at once; the second waits out the hour.
	rec.waitCount(t, "partition 1 handed back twice", 2, func(e troupe.Event) bool {
		u, ok := e.(Unsubscribed)
		return ok && u.About == a1
	})
	check := newReaderCheck(t)
	check.pollUntil(ctx, r, 20)
	if check.next[a1] != 0 {
		t.Fatalf("read %d records of the failing partition", check.next[a1])
	}
	if err := r.Remove(ctx, a1); err != nil {
		t.Fatalf("Remove of a partition in backoff: %v", err)
	}
	produce(t, seeds, "t", 0, 10, 5)
	check.pollUntil(ctx, r, 25)
	if got := r.Partitions(); len(got) != 2 {
		t.Fatalf("reading %v after removing %s", got, a1)
	}
}

// TestReaderWarnsOfAResponseOverTheLimit: a record batch larger than the connections'
// MaxResponseBytes comes back whole however small the fetch's limits (KIP-74), so its
// response is refused every time; the consumer says so at Warn rather than leave the
// partition silently unread.
func TestReaderWarnsOfAResponseOverTheLimit(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "big"))
	cl := kgoClient(t, seeds)
	value := make([]byte, 8<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = byte(rng.Uint32()) // does not compress to below the limit
	}
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Topic: "big", Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	warned := make(chan struct{}, 1)
	cfg := testConfig(seeds, newRecorder())
	cfg.MaxBytes, cfg.MaxPartitionBytes = 1<<10, 1<<10
	cfg.Cluster.Broker.MaxResponseBytes = 4 << 10
	cfg.Logger = slog.New(&onMessage{msg: msgFrameTooLarge, ch: warned})
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	if _, err := c.ReadTopics(ctx, At(0), "big"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-warned:
	case <-ctx.Done():
		t.Fatal("no warning of the refused response")
	}
}

// TestReaderMaxPollRecords reads three partitions of 60 records with MaxPollRecords 7:
// no Poll returns more, every record arrives once and in order, and after each Poll a
// partition's position is the offset after the last record returned of it, although
// each fetch brought far more. A paused partition's unreturned rest waits for Resume;
// Revoke with a rest unreturned gives the position after what was returned, and the
// partition added again from there goes on with nothing lost or repeated.
func TestReaderMaxPollRecords(t *testing.T) {
	const parts, per, limit = 3, 60, 7
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(parts, "t"))
	cl := kgoClient(t, seeds)
	for p := range int32(parts) {
		produceWith(t, cl, "t", p, 0, per)
	}
	cfg := testConfig(seeds, newRecorder())
	cfg.MaxPollRecords = limit
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	check := newReaderCheck(t)
	poll := func() []*Batch {
		t.Helper()
		bs, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d records: %v", check.n, err)
		}
		n := 0
		for _, b := range bs {
			check.batch(b)
			n += len(b.Records)
			a := About{b.Topic, b.Partition}
			if last := b.Records[len(b.Records)-1].Offset; b.NextOffset != last+1 {
				t.Fatalf("%s: a batch ending at %d has NextOffset %d", a, last, b.NextOffset)
			}
			if pos := r.Position(a); pos != b.NextOffset {
				t.Fatalf("%s: position %d after a batch ending before %d", a, pos, b.NextOffset)
			}
		}
		if n > limit {
			t.Fatalf("a poll returned %d records, above MaxPollRecords %d", n, limit)
		}
		return bs
	}

	// The first poll returns 7 of a partition's 60: the rest waits, decoded.
	first := poll()
	a := About{first[0].Topic, first[0].Partition}
	if check.next[a] != limit {
		t.Fatalf("the first poll returned %d records of %s, want %d", check.next[a], a, limit)
	}
	r.Pause(a)
	for check.n < limit+(parts-1)*per {
		for _, b := range poll() {
			if (About{b.Topic, b.Partition}) == a {
				t.Fatalf("a batch of %s, paused", a)
			}
		}
	}
	r.Resume(a)
	for check.next[a] == limit {
		poll()
	}
	pos, err := r.Revoke(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(check.next[a]); pos[a] != want || want >= per {
		t.Fatalf("revoked %s at %d, after returning records up to %d of %d", a, pos[a], want, per)
	}
	if err := r.Add(ctx, At(pos[a]), a); err != nil {
		t.Fatal(err)
	}
	for check.n < parts*per {
		poll()
	}
	if check.n != parts*per {
		t.Fatalf("read %d records, want %d", check.n, parts*per)
	}
}

// batchedTopic starts a broker holding topic "t" of parts partitions, each of batches
// record batches of per records (produceWith's), and returns a consumer configuration
// for it that fetches one record batch per partition per fetch.
func batchedTopic(t *testing.T, parts, batches, per int) Config {
	t.Helper()
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(int32(parts), "t"))
	cl := kgoClient(t, seeds)
	for i := range batches {
		for p := range int32(parts) {
			produceWith(t, cl, "t", p, i*per, per)
		}
	}
	cfg := testConfig(seeds, newRecorder())
	cfg.MaxPartitionBytes = 1
	return cfg
}

// TestReaderRelease reads two partitions of 20 record batches of 50 records, one batch
// per fetch, giving every batch back once checked: every record arrives once, in order,
// a batch given back has no records, later batches are decoded into the slices given
// back, and giving back twice, nil, or a batch split by MaxPollRecords does no harm.
func TestReaderRelease(t *testing.T) {
	const parts, batches, per = 2, 20, 50
	cfg := batchedTopic(t, parts, batches, per)
	c := newConsumer(t, cfg)
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	check := newReaderCheck(t)
	released := map[*troupe.Record]bool{} // the arrays given back, by their first element
	reused := 0
	for check.n < parts*batches*per {
		bs, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d records: %v", check.n, err)
		}
		for _, b := range bs {
			check.batch(b)
			first := unsafe.SliceData(b.Records)
			if released[first] {
				reused++
			}
			released[first] = true
		}
		r.Release(bs...)
		r.Release(bs...) // twice: nothing more happens
		r.Release(nil)
		for _, b := range bs {
			if b.Records != nil {
				t.Fatalf("%s[%d]: a batch given back still has its records", b.Topic, b.Partition)
			}
		}
	}
	// 40 batches of 50: the first allocated exactly, then each a class of 64 reused.
	if reused < parts*batches/2 {
		t.Fatalf("%d of %d batches were decoded into slices given back", reused, parts*batches)
	}
	if r.slices.kept > r.slices.limit {
		t.Fatalf("kept %d records of capacity, above the limit %d", r.slices.kept, r.slices.limit)
	}

	// A split batch is not taken back: its parts share an array.
	d := []decoded{batchOf(&part{about: About{"t", 0}}, 13, 10, 11, 12)}
	d[0].b.pooled = true
	limitRecords(d, 1)
	r.Release(d[0].b)
	if d[0].b.Records == nil || r.slices.kept > r.slices.limit {
		t.Fatal("a split batch's records were taken back")
	}
}
