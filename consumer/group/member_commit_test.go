package group

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRetryableOnlyKeptPartitions: of a commit refused because the generation moved on,
// only the partitions owned without a break since the commit read them are sent again;
// partitions given up, lost, or lost and taken again (a new token), and refusals for
// other reasons, are reported and dropped.
func TestRetryableOnlyKeptPartitions(t *testing.T) {
	tp := func(p int32) consumer.About { return consumer.About{Topic: "t", Partition: p} }
	res := func(p int32, err error) cluster.OffsetCommitResult {
		return cluster.OffsetCommitResult{OffsetCommit: cluster.OffsetCommit{Topic: "t", Partition: p, Offset: int64(10 + p)}, Err: err}
	}
	results := []cluster.OffsetCommitResult{
		res(0, errcode.IllegalGeneration),   // kept: sent again
		res(1, errcode.RebalanceInProgress), // given up meanwhile: dropped
		res(2, errcode.IllegalGeneration),   // lost and taken again: dropped
		res(3, nil),                         // stored
		res(4, errcode.OffsetMetadataTooLarge),
		res(5, errcode.StaleMemberEpoch), // kept (KIP-848): sent again
	}
	then := map[consumer.About]uint64{tp(0): 1, tp(1): 2, tp(2): 3, tp(3): 4, tp(4): 5, tp(5): 6}
	now := map[consumer.About]uint64{tp(0): 1, tp(2): 7, tp(3): 4, tp(4): 5, tp(5): 6}
	again, at := retryable(results, then, func(a consumer.About) uint64 { return now[a] })
	if len(again) != 2 || again[0].Partition != 0 || again[1].Partition != 5 || again[0].Offset != 10 || again[1].Offset != 15 {
		t.Errorf("sent again %+v, want partitions 0 and 5 at their offsets", again)
	}
	if len(at) != 2 || at[0] != 0 || at[1] != 5 {
		t.Errorf("indexes %v, want [0 5]", at)
	}
}

// refuseCommits answers the next n OffsetCommit requests with code for every partition.
func refuseCommits(kc *kfake.Cluster, code int16, n int) {
	var left atomic.Int32
	left.Store(int32(n))
	kc.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if left.Add(-1) < 0 {
			return nil, nil, false
		}
		if left.Load() > 0 {
			kc.KeepControl()
		}
		q := req.(*kmsg.OffsetCommitRequest)
		resp := q.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range q.Topics {
			rt := kmsg.OffsetCommitResponseTopic{Topic: t.Topic, TopicID: t.TopicID}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
}

// recordAt is partition 0 of "t"'s record at off, for Mark.
func recordAt(off int64) *troupe.Record {
	return &troupe.Record{Topic: "t", Partition: 0, Offset: off, LeaderEpoch: -1}
}

// pollFinished polls m until it has returned every one of n records of partition 0 of
// "t", and marks the last: all of them are finished. It returns their end.
func pollFinished(t *testing.T, m *Member, n int64) int64 {
	t.Helper()
	var last int64
	for last < n {
		bs, err := m.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			last = b.NextOffset
		}
	}
	m.Mark(recordAt(last - 1))
	return last
}

// TestMemberCommitRefusedForItsGeneration: a commit the coordinator refuses for the
// generation (ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS) while the member's generation
// did not move is reported, as a *CommitError matching the code, and nothing is stored;
// what it carried stays finished, and the next commit stores it. A mark behind what was
// committed sends nothing.
func TestMemberCommitRefusedForItsGeneration(t *testing.T) {
	for _, code := range []*errcode.Error{errcode.IllegalGeneration, errcode.RebalanceInProgress} {
		t.Run(code.Name, func(t *testing.T) {
			kc, seeds := startKfake(t, 1)
			produceN(t, seeds, 1, 0, 10)
			m, err := Join(ctxT(t), newConsumer(t, seeds), testGroupConfig("gr"))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			end := pollFinished(t, m, 10)
			refuseCommits(kc, code.Code, 1)
			err = m.Commit(ctxT(t))
			var ce *CommitError
			if !errors.Is(err, code) || !errors.As(err, &ce) || len(ce.Failed) != 1 {
				t.Fatalf("Commit: %v, want a *CommitError matching %v", err, code)
			}
			if got := committedOffsets(t, seeds, "gr"); len(got) != 0 {
				t.Fatalf("committed %v after a refused commit", got)
			}
			if err := m.Commit(ctxT(t)); err != nil {
				t.Fatalf("second Commit: %v", err)
			}
			if got := committedOffsets(t, seeds, "gr")[0]; got != end {
				t.Fatalf("committed %d, want %d", got, end)
			}
			commits := countCommits(kc)
			m.Mark(recordAt(0)) // behind the commit: changes nothing
			if err := m.Commit(ctxT(t)); err != nil || commits() != 0 {
				t.Errorf("Commit of nothing new: %v, %d requests; want nil and none", err, commits())
			}
			if got := committedOffsets(t, seeds, "gr")[0]; got != end {
				t.Errorf("committed %d after an older mark, want %d", got, end)
			}
		})
	}
}

// TestMemberCommitAsync: CommitAsync reports each commit's outcome exactly once — what
// was stored, a refusal as a *CommitError, and ErrClosed after Close — and what it
// reports stored is the group's committed offset.
func TestMemberCommitAsync(t *testing.T) {
	kc, seeds := startKfake(t, 1)
	produceN(t, seeds, 1, 0, 10)
	m, err := Join(ctxT(t), newConsumer(t, seeds), testGroupConfig("ga"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	results := make(chan CommitResult, 4)
	report := func(r CommitResult) { results <- r }
	next := func() CommitResult {
		t.Helper()
		select {
		case r := <-results:
			return r
		case <-ctxT(t).Done():
			t.Fatal("no outcome reported")
			return CommitResult{}
		}
	}
	m.Mark(recordAt(2))
	refuseCommits(kc, errcode.IllegalGeneration.Code, 1)
	m.CommitAsync(ctxT(t), report)
	if r := next(); !errors.Is(r.Err, errcode.IllegalGeneration) || len(r.Offsets) != 1 || r.Group != "ga" {
		t.Fatalf("refused commit reported as %+v", r)
	}
	end := pollFinished(t, m, 10)
	m.CommitAsync(ctxT(t), report)
	if r := next(); r.Err != nil || len(r.Offsets) != 1 || r.Offsets[0].Offset != end {
		t.Fatalf("commit reported as %+v, want offset %d stored", r, end)
	}
	if got := committedOffsets(t, seeds, "ga")[0]; got != end {
		t.Fatalf("committed %d, want %d", got, end)
	}
	m.CommitAsync(ctxT(t), report) // nothing new: an empty result
	if r := next(); r.Err != nil || len(r.Offsets) != 0 {
		t.Fatalf("commit of nothing reported as %+v", r)
	}
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	m.CommitAsync(ctxT(t), report)
	if r := next(); !errors.Is(r.Err, ErrClosed) {
		t.Fatalf("commit after Close reported as %+v, want ErrClosed", r)
	}
	select {
	case r := <-results:
		t.Fatalf("an outcome reported twice: %+v", r)
	default:
	}
}

// TestProcessingTimeOverrun: a user who holds batches past ProcessingTime without
// polling makes the member leave the group (LeaveGroup for a dynamic member, nothing for
// a static one, as Java's max.poll.interval.ms), its partitions lost — OnLost runs and
// nothing of theirs is committed, though marked — and a log says why; the next Poll
// rejoins and reads them again from the group's committed offset.
func TestProcessingTimeOverrun(t *testing.T) {
	for _, static := range []bool{false, true} {
		t.Run(map[bool]string{false: "dynamic", true: "static"}[static], func(t *testing.T) {
			kc, seeds := startKfake(t, 1)
			produceN(t, seeds, 1, 0, 10)
			cfg := testGroupConfig("gp")
			if static {
				cfg.InstanceID = "i1"
			}
			left := observeLeaves(kc)
			m, id := overrunLoses(t, seeds, cfg, static)
			if static {
				select {
				case ids := <-left:
					t.Errorf("a static member sent LeaveGroup for %v", ids)
				default:
				}
			} else {
				select {
				case ids := <-left:
					if len(ids) != 1 || ids[0] != id {
						t.Errorf("LeaveGroup for %v, want [%s]", ids, id)
					}
				case <-ctxT(t).Done():
					t.Fatal("a dynamic member did not send LeaveGroup")
				}
			}
			overrunComesBack(t, m, seeds, "gp")
			if m.Generation() < 0 {
				t.Errorf("generation %d after rejoining", m.Generation())
			}
		})
	}
}

// overrunLoses joins a member of cfg (ProcessingTime set to 300 ms here) to a topic whose
// one partition holds records, polls a batch, marks its first record and holds the batch
// without polling again: past ProcessingTime the partition must be lost (OnLost; what
// was marked is not committed), a log and a ProcessingTimeExceeded event must say why,
// and the member must own nothing. It returns the member (closed at the test's end) and
// its member ID.
func overrunLoses(t *testing.T, seeds []string, cfg Config, static bool) (*Member, string) {
	t.Helper()
	cfg.ProcessingTime = 300 * time.Millisecond
	lost := make(chan []consumer.About, 4)
	cfg.OnLost = func(_ context.Context, parts []consumer.About) { lost <- parts }
	watch := &logWatch{word: "did not poll within ProcessingTime", ch: make(chan struct{}, 1)}
	cfg.Logger = slog.New(watch)
	c, events := newConsumerEvents(t, seeds)
	m, err := Join(ctxT(t), c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	id := m.MemberID()
	bs, err := m.Poll(ctxT(t))
	if err != nil || len(bs) == 0 {
		t.Fatalf("Poll: %v", err)
	}
	m.Mark(&bs[0].Records[0]) // finished, but the partition is lost before a commit
	// The user holds the batch and does not poll.
	select {
	case parts := <-lost:
		if len(parts) != 1 || parts[0] != (consumer.About{Topic: "t", Partition: 0}) {
			t.Fatalf("lost %v", parts)
		}
	case <-ctxT(t).Done():
		t.Fatal("the partitions were not lost after ProcessingTime")
	}
	select {
	case <-watch.ch:
	default:
		t.Error("no log said why the member left")
	}
	waitOverrunEvent(t, events, id, cfg.Protocol, static)
	if got := m.Assigned(); len(got) != 0 {
		t.Errorf("still owns %v", got)
	}
	return m, id
}

// overrunComesBack checks a member that lost its partition by overrunning ProcessingTime
// (overrunLoses): a Commit has nothing to send, the group has nothing committed, and the
// next Poll brings the member back to read the partition again from offset 0.
func overrunComesBack(t *testing.T, m *Member, seeds []string, group string) {
	t.Helper()
	if err := m.Commit(ctxT(t)); err != nil {
		t.Errorf("Commit after the loss: %v, want nil (nothing owned)", err)
	}
	if got := committedOffsets(t, seeds, group); len(got) != 0 {
		t.Errorf("committed %v for a lost partition", got)
	}
	bs, err := m.Poll(ctxT(t))
	if err != nil || len(bs) == 0 || bs[0].Records[0].Offset != 0 {
		t.Fatalf("Poll after coming back: %v, %v; want the partition again from offset 0", bs, err)
	}
}

// TestMemberMaxPollRecords: with the consumer's MaxPollRecords, a member's Poll returns
// at most that many records, though each fetch brings all 40 of a partition, and what
// the member commits on Close is what earlier Polls returned (finished by the next
// Poll), not what was fetched: the split batch's NextOffset, not the fetch's.
func TestMemberMaxPollRecords(t *testing.T) {
	const limit = 3
	_, seeds := startKfake(t, 2)
	produceN(t, seeds, 2, 0, 40)
	c := newConsumerWith(t, seeds, func(c *consumer.Config) { c.MaxPollRecords = limit })
	m, err := Join(ctxT(t), c, testGroupConfig("gm"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	finished := map[int32]int64{}
	var inHand map[int32]int64
	for range 5 {
		bs, err := m.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(finished, inHand) // a Poll finishes what the previous one returned
		inHand = map[int32]int64{}
		n := 0
		for _, b := range bs {
			n += len(b.Records)
			inHand[b.Partition] = b.NextOffset
		}
		if n > limit {
			t.Fatalf("a poll returned %d records, above MaxPollRecords %d", n, limit)
		}
	}
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got := committedOffsets(t, seeds, "gm")
	if !maps.Equal(got, finished) {
		t.Fatalf("committed %v, want what earlier polls returned: %v", got, finished)
	}
}

// TestMemberRelease: a user who gives every batch back (Release) before polling again,
// or inside the Batches loop, commits what it finished as one who does not: what counts
// as finished is read when Poll returns the batches, not from the batches afterwards.
func TestMemberRelease(t *testing.T) {
	t.Run("Poll", func(t *testing.T) {
		_, seeds := startKfake(t, 2)
		m, err := Join(ctxT(t), newConsumer(t, seeds), testGroupConfig("gp"))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		finished, inHand := map[int32]int64{}, map[int32]int64{}
		for n := 0; n < 120; {
			if n%60 == 0 { // rounds of records, so that there are several polls
				produceN(t, seeds, 2, n/2, 30)
			}
			bs, err := m.Poll(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			maps.Copy(finished, inHand)
			inHand = map[int32]int64{}
			for _, b := range bs {
				n += len(b.Records)
				inHand[b.Partition] = b.NextOffset
			}
			m.Release(bs...)
		}
		if err := m.Close(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if got := committedOffsets(t, seeds, "gp"); !maps.Equal(got, finished) || len(finished) == 0 {
			t.Fatalf("committed %v, want what earlier polls returned: %v", got, finished)
		}
	})
	t.Run("Batches", func(t *testing.T) {
		_, seeds := startKfake(t, 2)
		produceN(t, seeds, 2, 0, 30)
		produceN(t, seeds, 2, 30, 30)
		m, err := Join(ctxT(t), newConsumer(t, seeds), testGroupConfig("gb"))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		finished := map[int32]int64{}
		n := 0
		for b, err := range m.Batches(ctxT(t)) {
			if err != nil {
				t.Fatal(err)
			}
			n += len(b.Records)
			next, p := b.NextOffset, b.Partition
			m.Release(b)
			if n >= 120 {
				break // this last batch's body did not finish: not marked
			}
			finished[p] = next
		}
		if err := m.Close(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if got := committedOffsets(t, seeds, "gb"); !maps.Equal(got, finished) || len(finished) == 0 {
			t.Fatalf("committed %v, want the batches whose loop body ran: %v", got, finished)
		}
	})
}
