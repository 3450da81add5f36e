package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func commitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// committerConsumer opens a consumer whose client retries group requests within milliseconds.
func committerConsumer(t testing.TB, seeds []string) *consumer.Consumer {
	t.Helper()
	c, err := consumer.New(consumer.Config{Seeds: seeds, Cluster: cluster.Config{
		Broker: broker.Config{Backoff: supervisor.Backoff{Min: 2 * time.Millisecond, Max: 10 * time.Millisecond}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("consumer close: %v", err)
		}
	})
	return c
}

// newCommitterT makes a Committer closed at the end of the test (before the consumer,
// whose cleanup was registered first).
func newCommitterT(t testing.TB, c *consumer.Consumer, group string, cfg CommitterConfig) *Committer {
	t.Helper()
	cm, err := NewCommitter(c, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cm.Close(context.Background()) })
	return cm
}

// produceTo writes n records to each partition of topic with franz-go.
func produceTo(t testing.TB, seeds []string, topic string, partitions int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range partitions {
		for range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v")})
		}
	}
	if err := cl.ProduceSync(commitCtx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// groupOffsets reads the group's committed offsets of topic's partitions [0, n).
func groupOffsets(t testing.TB, c *consumer.Consumer, group, topic string, n int32) []int64 {
	t.Helper()
	var parts []cluster.TopicPartition
	for p := range n {
		parts = append(parts, cluster.TopicPartition{Topic: topic, Partition: p})
	}
	got, err := c.Client().FetchOffsets(commitCtx(t), cluster.ReadUncommitted, group, nil, parts...)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, n)
	for i, g := range got {
		if g.Err != nil {
			t.Fatal(g.Err)
		}
		out[i] = g.Offset
	}
	return out
}

// countCommits counts the OffsetCommit requests the cluster receives.
func countCommits(kc *kfake.Cluster) func() int {
	var n atomic.Int64
	kc.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		n.Add(1)
		return nil, nil, false
	})
	return func() int { return int(n.Load()) }
}

// TestCommitOnlyWhatWasFinished: records read but not marked are not committed; a commit
// resumes each partition after the last record marked; a second Committer resumes there.
func TestCommitOnlyWhatWasFinished(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"))
	produceTo(t, seeds, "t", 2, 10)
	c := committerConsumer(t, seeds)
	cm := newCommitterT(t, c, "g", CommitterConfig{DisableAutoCommit: true})
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	parts := []consumer.About{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}
	if err := cm.Assign(commitCtx(t), r, parts...); err != nil {
		t.Fatal(err)
	}
	seen := map[int32]int{}
	for seen[0] < 10 || seen[1] < 10 {
		batches, err := r.Poll(commitCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			seen[b.Partition] += len(b.Records)
			if b.Partition == 1 {
				if err := cm.MarkBatch(b); err != nil {
					t.Fatal(err)
				}
				continue
			}
			// Partition 0: only records up to offset 3 are finished.
			for i := range b.Records {
				if rec := &b.Records[i]; rec.Offset <= 3 {
					if err := cm.MarkRecords(rec); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if got := groupOffsets(t, c, "g", "t", 2); got[0] != -1 || got[1] != -1 {
		t.Fatalf("committed %v before any commit", got)
	}
	if err := cm.Commit(commitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := groupOffsets(t, c, "g", "t", 2); got[0] != 4 || got[1] != 10 {
		t.Fatalf("committed %v, want [4 10]", got)
	}
	if err := cm.Close(commitCtx(t)); err != nil {
		t.Fatal(err)
	}

	next := newCommitterT(t, c, "g", CommitterConfig{})
	starts, err := next.Starts(commitCtx(t), parts...)
	if err != nil {
		t.Fatal(err)
	}
	// The records were written in leader epoch 0, and the commits carry it.
	if starts[parts[0]] != consumer.AtEpoch(4, 0) || starts[parts[1]] != consumer.AtEpoch(10, 0) {
		t.Fatalf("starts %v", starts)
	}
	// A reader assigned from the commit reads what was not finished, and only that.
	if err := r.Close(commitCtx(t)); err != nil {
		t.Fatal(err)
	}
	r2, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close(context.Background())
	if err := next.Assign(commitCtx(t), r2, parts...); err != nil {
		t.Fatal(err)
	}
	var again []int64
	for len(again) < 6 {
		batches, err := r2.Poll(commitCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			for _, rec := range b.Records {
				if rec.Partition != 0 {
					t.Fatalf("partition %d, all finished, delivered %d again", rec.Partition, rec.Offset)
				}
				again = append(again, rec.Offset)
			}
		}
	}
	if again[0] != 4 || again[5] != 9 {
		t.Fatalf("read again %v, want 4..9", again)
	}
}

// TestStartsResetPolicy: a partition without a committed offset starts at the oldest or
// newest record, or fails with ErrNoCommittedOffset, as the reset policy says.
func TestStartsResetPolicy(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	c := committerConsumer(t, seeds)
	if _, err := c.Client().CommitOffsets(commitCtx(t), "g", nil, cluster.OffsetCommit{Topic: "t", Partition: 1, Offset: 6}); err != nil {
		t.Fatal(err)
	}
	p0, p1 := consumer.About{Topic: "t", Partition: 0}, consumer.About{Topic: "t", Partition: 1}
	for policy, want := range map[consumer.ResetPolicy]consumer.Offset{consumer.ResetEarliest: consumer.Oldest(), consumer.ResetLatest: consumer.Newest()} {
		cm := newCommitterT(t, c, "g", CommitterConfig{Reset: policy})
		got, err := cm.Starts(commitCtx(t), p0, p1)
		if err != nil || got[p0] != want || got[p1] != consumer.At(6) {
			t.Fatalf("%v: %v %v", policy, got, err)
		}
	}
	cm := newCommitterT(t, c, "g", CommitterConfig{Reset: consumer.ResetNone})
	got, err := cm.Starts(commitCtx(t), p0, p1)
	if !errors.Is(err, ErrNoCommittedOffset) || len(got) != 1 || got[p1] != consumer.At(6) {
		t.Fatalf("reset none: %v %v", got, err)
	}
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	if err := cm.Assign(commitCtx(t), r, p0, p1); !errors.Is(err, ErrNoCommittedOffset) || len(r.Partitions()) != 0 {
		t.Fatalf("assign under reset none: %v, reading %v", err, r.Partitions())
	}
}

// TestCommitNeverBackwards: a mark behind the group's committed offset (as Starts found
// it) is not committed; an explicit offset may rewind it.
func TestCommitNeverBackwards(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := committerConsumer(t, seeds)
	if _, err := c.Client().CommitOffsets(commitCtx(t), "g", nil, cluster.OffsetCommit{Topic: "t", Offset: 10}); err != nil {
		t.Fatal(err)
	}
	cm := newCommitterT(t, c, "g", CommitterConfig{DisableAutoCommit: true})
	if _, err := cm.Starts(commitCtx(t), consumer.About{Topic: "t"}); err != nil {
		t.Fatal(err)
	}
	commits := countCommits(kc)
	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 3, LeaderEpoch: -1}); err != nil {
		t.Fatal(err)
	}
	if err := cm.Commit(commitCtx(t)); err != nil || commits() != 0 {
		t.Fatalf("%v after %d commits", err, commits())
	}
	if got := groupOffsets(t, c, "g", "t", 1); got[0] != 10 {
		t.Fatalf("committed %d", got[0])
	}
	if err := cm.CommitOffsets(commitCtx(t), cluster.OffsetCommit{Topic: "t", Offset: 2}); err != nil {
		t.Fatal(err)
	}
	if got := groupOffsets(t, c, "g", "t", 1); got[0] != 2 {
		t.Fatalf("explicit rewind: committed %d", got[0])
	}
}

// TestAutoCommitAndClose: marks are committed on the interval, reported to OnCommit;
// CommitAsync reports to its callback; Close commits what is left; after Close, requests
// are answered with ErrClosed, never dropped.
func TestAutoCommitAndClose(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "t"))
	c := committerConsumer(t, seeds)
	events := make(chan CommitResult, 16)
	cm := newCommitterT(t, c, "g", CommitterConfig{AutoCommitInterval: 10 * time.Millisecond, OnCommit: func(r CommitResult) { events <- r }})
	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 4, LeaderEpoch: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-events:
		if r.Err != nil || len(r.Offsets) != 1 || r.Offsets[0].Offset != 5 || r.Offsets[0].LeaderEpoch() != 1 {
			t.Fatalf("auto-commit %+v", r)
		}
	case <-commitCtx(t).Done():
		t.Fatal("no auto-commit")
	}

	async := make(chan CommitResult, 1)
	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 7, LeaderEpoch: 1}); err != nil {
		t.Fatal(err)
	}
	cm.CommitAsync(commitCtx(t), func(r CommitResult) { async <- r })
	r := <-async
	if r.Err != nil || (len(r.Offsets) == 1 && r.Offsets[0].Offset != 8) {
		t.Fatalf("async %+v", r) // empty when the timer's commit took the mark first
	}
	if got := groupOffsets(t, c, "g", "t", 1); got[0] != 8 {
		t.Fatalf("committed %d", got[0])
	}

	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 8, LeaderEpoch: 1}); err != nil {
		t.Fatal(err)
	}
	if err := cm.Close(commitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := groupOffsets(t, c, "g", "t", 1); got[0] != 9 {
		t.Fatalf("Close committed %d", got[0])
	}
	cm.CommitAsync(commitCtx(t), func(r CommitResult) { async <- r })
	if r := <-async; !errors.Is(r.Err, troupe.ErrClosed) {
		t.Fatalf("async after close: %v", r.Err)
	}
	if err := cm.Commit(commitCtx(t)); !errors.Is(err, troupe.ErrClosed) {
		t.Fatalf("commit after close: %v", err)
	}
	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 9}); !errors.Is(err, troupe.ErrClosed) {
		t.Fatalf("mark after close: %v", err)
	}
	if err := cm.Close(commitCtx(t)); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// TestCommitterThroughCoordinatorFaults: a coordinator that moves and loads is found and
// waited for; a partition refused keeps its mark, is reported with its own error, and is
// committed by the next commit.
func TestCommitterThroughCoordinatorFaults(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(2, "t"))
	c := committerConsumer(t, seeds)
	cm := newCommitterT(t, c, "g", CommitterConfig{DisableAutoCommit: true})
	mark := func(p int32, off int64) {
		t.Helper()
		if err := cm.MarkRecords(&troupe.Record{Topic: "t", Partition: p, Offset: off, LeaderEpoch: -1}); err != nil {
			t.Fatal(err)
		}
	}
	mark(0, 1)
	mark(1, 1)
	if _, err := c.Client().GroupCoordinator(commitCtx(t), "g"); err != nil {
		t.Fatal(err)
	}
	kc.RehashCoordinators()
	kc.RehashCoordinators()
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "g", Err: kerr.CoordinatorLoadInProgress, Count: 2})
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "g", Err: kerr.NotCoordinator, Count: 1})
	if err := cm.Commit(commitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := groupOffsets(t, c, "g", "t", 2); got[0] != 2 || got[1] != 2 {
		t.Fatalf("committed %v", got)
	}

	f := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Topic: "t", Partitions: []int32{1}, Err: kerr.OffsetMetadataTooLarge})
	mark(0, 5)
	mark(1, 5)
	err := cm.Commit(commitCtx(t))
	var ce *CommitError
	if !errors.As(err, &ce) || !errors.Is(err, errcode.OffsetMetadataTooLarge) || len(ce.Failed) != 1 || ce.Failed[0].Partition != 1 {
		t.Fatalf("partition refused: %v", err)
	}
	if got := groupOffsets(t, c, "g", "t", 2); got[0] != 6 || got[1] != 2 {
		t.Fatalf("committed %v", got)
	}
	f.Remove()
	if err := cm.Commit(commitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := groupOffsets(t, c, "g", "t", 2); got[1] != 6 {
		t.Fatalf("the refused partition was not carried again: %v", got)
	}
}

// TestCommitAsMember: the commit path takes the member's identity; a generation the
// group does not have is refused on every partition, matchable with errors.Is, and the
// marks stay for the next commit under the right identity.
func TestCommitAsMember(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := committerConsumer(t, seeds)
	cm := newCommitterT(t, c, "g", CommitterConfig{DisableAutoCommit: true})
	cm.setMember(&cluster.GroupMember{Generation: 3, MemberID: "gone"})
	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 2}); err != nil {
		t.Fatal(err)
	}
	if err := cm.Commit(commitCtx(t)); !errors.Is(err, errcode.IllegalGeneration) {
		t.Fatalf("stale generation: %v", err)
	}
	cm.setMember(nil)
	if err := cm.Commit(commitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := groupOffsets(t, c, "g", "t", 1); got[0] != 3 {
		t.Fatalf("committed %d", got[0])
	}
}

// TestCommitterInvalidInput: bad input is refused with errors to match, never a panic.
func TestCommitterInvalidInput(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := committerConsumer(t, seeds)
	if _, err := NewCommitter(c, "", CommitterConfig{}); !errors.Is(err, consumer.ErrInvalidConfig) {
		t.Fatalf("empty group: %v", err)
	}
	if _, err := NewCommitter(nil, "g", CommitterConfig{}); !errors.Is(err, consumer.ErrInvalidConfig) {
		t.Fatalf("nil consumer: %v", err)
	}
	for _, cfg := range []CommitterConfig{{AutoCommitInterval: -1}, {CommitTimeout: -1}, {Reset: 9}} {
		if _, err := NewCommitter(c, "g", cfg); !errors.Is(err, consumer.ErrInvalidConfig) {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
	cm := newCommitterT(t, c, "g", CommitterConfig{DisableAutoCommit: true})
	for _, r := range []*troupe.Record{nil, {Topic: ""}, {Topic: "t", Offset: -1}, {Topic: "t", Partition: -1}} {
		if err := cm.MarkRecords(r); !errors.Is(err, consumer.ErrInvalidOffset) {
			t.Fatalf("%v: %v", r, err)
		}
	}
	if err := cm.MarkBatch(nil); !errors.Is(err, consumer.ErrInvalidOffset) {
		t.Fatalf("nil batch: %v", err)
	}
	if err := cm.MarkBatch(&consumer.Batch{Topic: "t", Err: errors.New("x")}); !errors.Is(err, consumer.ErrInvalidOffset) {
		t.Fatalf("error batch: %v", err)
	}
	for _, offs := range [][]cluster.OffsetCommit{{{Topic: ""}}, {{Topic: "t", Offset: -1}}, {{Topic: "t"}, {Topic: "t"}}} {
		if err := cm.CommitOffsets(commitCtx(t), offs...); !errors.Is(err, cluster.ErrInvalidQuery) {
			t.Fatalf("%+v: %v", offs, err)
		}
	}
}

// TestCloseWhenTheCoordinatorNeverAnswers: Close's context bounds its last commit; the
// actor is stopped (goleak checks) and the context's error returned.
func TestCloseWhenTheCoordinatorNeverAnswers(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := committerConsumer(t, seeds)
	cm := newCommitterT(t, c, "g", CommitterConfig{DisableAutoCommit: true})
	held := make(chan struct{}, 1)
	kc.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		select {
		case held <- struct{}{}:
		default:
		}
		return nil, nil, true // never answered
	})
	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := cm.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v", err)
	}
	select {
	case <-held:
	default:
		t.Fatal("the last commit was never sent")
	}
	select {
	case <-cm.proc.Done():
	default:
		t.Fatal("the committer's actor still runs after Close returned")
	}
}

// TestConcurrentMarksAndCommits: goroutines mark, commit, commit asynchronously and
// auto-commit at once while the coordinator moves and refuses now and then; every commit
// the Committer reports stored moves no partition backwards, and after Close each
// partition's committed offset is its highest mark + 1.
func TestConcurrentMarksAndCommits(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(4, "t"))
	c := committerConsumer(t, seeds)
	var mu sync.Mutex
	last := map[int32]int64{}
	backwards := ""
	cm := newCommitterT(t, c, "g", CommitterConfig{AutoCommitInterval: time.Millisecond, OnCommit: func(r CommitResult) {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range r.Offsets {
			if o.Err != nil {
				continue
			}
			if o.Offset < last[o.Partition] {
				backwards = fmt.Sprintf("t[%d] from %d to %d", o.Partition, last[o.Partition], o.Offset)
			}
			last[o.Partition] = o.Offset
		}
	}})
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "g", Err: kerr.NotCoordinator, Count: 5})
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Topic: "t", Partitions: []int32{2}, Err: kerr.UnknownServerError, Count: 3})
	const n = 300
	var wg sync.WaitGroup
	for p := range int32(4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Out of order on purpose: marks only move forward.
			for i := range n {
				off := int64(i)
				if i%7 == 3 {
					off = int64(i / 2)
				}
				if err := cm.MarkRecords(&troupe.Record{Topic: "t", Partition: p, Offset: off, LeaderEpoch: -1}); err != nil {
					t.Error(err)
					return
				}
				switch i % 50 {
				case 10:
					_ = cm.Commit(commitCtx(t)) // may report the injected refusals
				case 30:
					cm.CommitAsync(commitCtx(t), nil)
				}
			}
		}()
	}
	wg.Wait()
	if err := cm.Close(commitCtx(t)); err != nil {
		t.Fatalf("close: %v", err)
	}
	if backwards != "" {
		t.Fatalf("a commit moved back: %s", backwards)
	}
	if got := groupOffsets(t, c, "g", "t", 4); got[0] != n || got[1] != n || got[2] != n || got[3] != n {
		t.Fatalf("committed %v, want %d everywhere", got, n)
	}
}

// TestCommitterFailureIsReported: an OnCommit that panics ends the committer's actor;
// what comes after says so (ErrClosed with the panic), marks are refused rather than kept
// for commits that will never come, and Close reports it.
func TestCommitterFailureIsReported(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := committerConsumer(t, seeds)
	cm := newCommitterT(t, c, "g", CommitterConfig{DisableAutoCommit: true, OnCommit: func(CommitResult) { panic("hook") }})
	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 1}); err != nil {
		t.Fatal(err)
	}
	if err := cm.Commit(commitCtx(t)); !errors.Is(err, troupe.ErrClosed) || !errors.Is(err, actor.ErrPanic) {
		t.Fatalf("commit when the hook panics: %v", err)
	}
	if err := cm.MarkRecords(&troupe.Record{Topic: "t", Offset: 2}); !errors.Is(err, actor.ErrPanic) {
		t.Fatalf("mark after the failure: %v", err)
	}
	if err := cm.Close(commitCtx(t)); !errors.Is(err, actor.ErrPanic) {
		t.Fatalf("close after the failure: %v", err)
	}
}
