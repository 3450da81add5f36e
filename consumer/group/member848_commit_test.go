package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// waitHeartbeat848 reads heartbeats off hbs (observeHeartbeats848) until one of member
// id with epoch, failing the test at its deadline.
func waitHeartbeat848(t *testing.T, hbs <-chan [2]string, id, epoch, what string) {
	t.Helper()
	for {
		select {
		case hb := <-hbs:
			if hb[0] == id && hb[1] == epoch {
				return
			}
		case <-ctxT(t).Done():
			t.Fatalf("no heartbeat of member %s with epoch %s: %s", id, epoch, what)
		}
	}
}

// newConsumerEvents is newConsumer whose events go to the channel it returns (dropped
// when it is full).
func newConsumerEvents(t *testing.T, seeds []string) (*consumer.Consumer, <-chan troupe.Event) {
	t.Helper()
	ch := make(chan troupe.Event, 64)
	backoff := supervisor.Backoff{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}
	c, err := consumer.New(consumer.Config{
		Seeds:   seeds,
		Cluster: cluster.Config{MinRefreshInterval: 10 * time.Millisecond, Broker: broker.Config{Backoff: backoff}},
		MaxWait: 50 * time.Millisecond, Backoff: backoff,
		OnEvent: func(e troupe.Event) {
			select {
			case ch <- e:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("consumer close: %v", err)
		}
	})
	return c, ch
}

// waitOverrunEvent waits for the ProcessingTimeExceeded event of member id, which lost
// partition 0 of "t".
func waitOverrunEvent(t *testing.T, events <-chan troupe.Event, id string, p Protocol, static bool) {
	t.Helper()
	for {
		select {
		case e := <-events:
			pe, ok := e.(ProcessingTimeExceeded)
			if !ok {
				continue
			}
			want := ProcessingTimeExceeded{Group: pe.Group, MemberID: id, Protocol: p, Static: static,
				ProcessingTime: 300 * time.Millisecond, Lost: []consumer.About{{Topic: "t", Partition: 0}}}
			if !reflect.DeepEqual(pe, want) || pe.Source() != "member "+pe.Group || !strings.Contains(pe.String(), "ProcessingTime") {
				t.Fatalf("event %+v (%s), want %+v", pe, pe, want)
			}
			return
		case <-ctxT(t).Done():
			t.Fatal("no ProcessingTimeExceeded event")
		}
	}
}

// TestConsumerProtocolProcessingTimeOverrun: a KIP-848 member whose user holds batches
// past ProcessingTime without polling leaves the group as Java's consumer does — a leave
// heartbeat with member epoch -1, or -2 for a static member — its partitions lost (OnLost
// runs, nothing of theirs is committed though marked), and a log says why; the next Poll
// rejoins with epoch 0 and the same member ID and reads them again from the group's
// committed offset. A ProcessingTimeExceeded event says why.
func TestConsumerProtocolProcessingTimeOverrun(t *testing.T) {
	for _, static := range []bool{false, true} {
		t.Run(map[bool]string{false: "dynamic", true: "static"}[static], func(t *testing.T) {
			kc, seeds := kfake848(t, 1)
			produceN(t, seeds, 1, 0, 10)
			cfg := consumerConfig("cpt")
			leaveEpoch := "-1"
			if static {
				cfg.InstanceID, leaveEpoch = "i1", "-2"
			}
			hbs := observeHeartbeats848(kc)
			m, id := overrunLoses(t, seeds, cfg, static)
			waitHeartbeat848(t, hbs, id, leaveEpoch, "the leave after ProcessingTime")
			if g := m.Generation(); g != -1 {
				t.Errorf("member epoch %d while out of the group, want -1", g)
			}
			// Back: the member rejoins with epoch 0 and its own ID.
			overrunComesBack(t, m, seeds, "cpt")
			waitHeartbeat848(t, hbs, id, "0", "the rejoin")
			if m.MemberID() != id || m.Generation() < 1 {
				t.Errorf("member %s epoch %d after rejoining, want %s and an epoch", m.MemberID(), m.Generation(), id)
			}
		})
	}
}

// TestConsumerProtocolAutoCommit: a KIP-848 member commits what its user finished on its
// interval, without being asked, as a classic one does.
func TestConsumerProtocolAutoCommit(t *testing.T) {
	const parts, n = 2, 10
	_, seeds := kfake848(t, parts)
	produceN(t, seeds, parts, 0, n)
	cfg := consumerConfig("cac")
	cfg.DisableAutoCommit, cfg.AutoCommitInterval = false, 20*time.Millisecond
	watch := &logWatch{word: "automatic commit done", ch: make(chan struct{}, 1)}
	cfg.Logger = slog.New(watch)
	col := join(t, seeds, cfg, "m1")
	col.waitFor(t, "every record", func() bool {
		return len(col.seen[consumer.About{Topic: "t", Partition: 0}]) == n && len(col.seen[consumer.About{Topic: "t", Partition: 1}]) == n
	})
	// The collector polls again at once, which finishes the last batches; an automatic
	// commit after that commits them, while the member still owns them.
	deadline := time.After(testTimeout)
	for {
		select {
		case <-watch.ch:
		case <-deadline:
			t.Fatal("no automatic commit of every record")
		}
		offs := committedOffsets(t, seeds, "cac")
		if offs[0] == n && offs[1] == n {
			break
		}
	}
	if got := len(col.m.Assigned()); got != parts {
		t.Errorf("owns %d partitions after committing, want %d", got, parts)
	}
}

// TestConsumerProtocolAutoCommitOff: with DisableAutoCommit a KIP-848 member commits
// nothing on its own: what was finished is committed by Close.
func TestConsumerProtocolAutoCommitOff(t *testing.T) {
	kc, seeds := kfake848(t, 1)
	produceN(t, seeds, 1, 0, 10)
	cfg := consumerConfig("cao")
	cfg.AutoCommitInterval = 10 * time.Millisecond // DisableAutoCommit wins
	commits := countCommits(kc)
	m, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	end := pollFinished(t, m, 10)
	// Heartbeats go on meanwhile; at 10ms an automatic commit would have gone many times
	// over by the time a few dozen of them are answered.
	hbs := observeHeartbeats848(kc)
	for range 20 {
		waitHeartbeat848(t, hbs, m.MemberID(), fmt.Sprint(m.Generation()), "heartbeats while the user is done")
	}
	if c := commits(); c != 0 {
		t.Fatalf("%d commits with DisableAutoCommit", c)
	}
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := committedOffsets(t, seeds, "cao")[0]; got != end {
		t.Fatalf("committed %d on Close, want %d", got, end)
	}
}

// TestConsumerProtocolCommitStaleMemberEpoch: a commit the coordinator refuses with
// STALE_MEMBER_EPOCH is sent again with the member's current epoch for the partitions it
// kept, and stored: Commit succeeds. Refused again, it is reported (a *CommitError
// matching the code) and what it carried stays finished for the next commit.
func TestConsumerProtocolCommitStaleMemberEpoch(t *testing.T) {
	kc, seeds := kfake848(t, 1)
	produceN(t, seeds, 1, 0, 10)
	m, err := Join(ctxT(t), newConsumer(t, seeds), consumerConfig("cse"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	end := pollFinished(t, m, 10)
	commits := countCommits(kc)
	refuseCommits(kc, errcode.StaleMemberEpoch.Code, 1)
	if err := m.Commit(ctxT(t)); err != nil {
		t.Fatalf("Commit after one STALE_MEMBER_EPOCH: %v, want it sent again and stored", err)
	}
	if got := committedOffsets(t, seeds, "cse")[0]; got != end {
		t.Fatalf("committed %d, want %d", got, end)
	}
	if c := commits(); c != 2 {
		t.Errorf("%d OffsetCommit requests, want 2 (the refused one and the one sent again)", c)
	}

	m.Mark(recordAt(end)) // one more finished (beyond the log: a mark is the user's word)
	refuseCommits(kc, errcode.StaleMemberEpoch.Code, 2)
	err = m.Commit(ctxT(t))
	var ce *CommitError
	if !errors.Is(err, errcode.StaleMemberEpoch) || !errors.As(err, &ce) || len(ce.Failed) != 1 {
		t.Fatalf("Commit refused twice: %v, want a *CommitError matching STALE_MEMBER_EPOCH", err)
	}
	if err := m.Commit(ctxT(t)); err != nil {
		t.Fatalf("the next Commit: %v", err)
	}
	if got := committedOffsets(t, seeds, "cse")[0]; got != end+1 {
		t.Fatalf("committed %d, want %d", got, end+1)
	}
}

// TestConsumerProtocolFetchesOffsetsAsItself: a KIP-848 member asks for its partitions'
// committed offsets as itself — OffsetFetch v9+ with its member ID and epoch, and
// RequireStable — waits out UNSTABLE_OFFSET_COMMIT, and after STALE_MEMBER_EPOCH asks
// again with its current epoch; it starts at the committed offset.
func TestConsumerProtocolFetchesOffsetsAsItself(t *testing.T) {
	kc, seeds := kfake848(t, 1)
	produceN(t, seeds, 1, 0, 10)
	// A first member commits 4 (records 0 to 3 finished) and leaves.
	first, err := Join(ctxT(t), newConsumer(t, seeds), consumerConfig("cfo"))
	if err != nil {
		t.Fatal(err)
	}
	if bs, err := first.Poll(ctxT(t)); err != nil || len(bs) == 0 {
		t.Fatalf("Poll: %v", err)
	}
	first.Mark(recordAt(3))
	if err := first.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	type seen struct {
		version int16
		id      *string
		epoch   int32
		stable  bool
	}
	var mu sync.Mutex
	var fetches []seen
	var n atomic.Int32
	kc.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		q := req.(*kmsg.OffsetFetchRequest)
		if len(q.Groups) != 1 {
			return nil, nil, false
		}
		mu.Lock()
		fetches = append(fetches, seen{q.Version, q.Groups[0].MemberID, q.Groups[0].MemberEpoch, q.RequireStable})
		mu.Unlock()
		code := map[int32]int16{1: errcode.UnstableOffsetCommit.Code, 2: errcode.StaleMemberEpoch.Code}[n.Add(1)]
		if code == 0 {
			return nil, nil, false
		}
		resp := q.ResponseKind().(*kmsg.OffsetFetchResponse)
		g := kmsg.OffsetFetchResponseGroup{Group: q.Groups[0].Group}
		if code == errcode.StaleMemberEpoch.Code {
			g.ErrorCode = code
		} else {
			for _, tt := range q.Groups[0].Topics {
				rt := kmsg.OffsetFetchResponseGroupTopic{Topic: tt.Topic, TopicID: tt.TopicID}
				for _, p := range tt.Partitions {
					rt.Partitions = append(rt.Partitions, kmsg.OffsetFetchResponseGroupTopicPartition{Partition: p, Offset: -1, LeaderEpoch: -1, ErrorCode: code})
				}
				g.Topics = append(g.Topics, rt)
			}
		}
		resp.Groups = append(resp.Groups, g)
		return resp, nil, true
	})
	m, err := Join(ctxT(t), newConsumer(t, seeds), consumerConfig("cfo"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	bs, err := m.Poll(ctxT(t))
	if err != nil || len(bs) == 0 || bs[0].Records[0].Offset != 4 {
		t.Fatalf("Poll: %v, %v; want the partition from its committed offset 4", bs, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(fetches) < 3 {
		t.Fatalf("%d OffsetFetch requests, want one refused as unstable, one as stale, one answered", len(fetches))
	}
	for i, f := range fetches {
		if f.version < 9 || f.id == nil || *f.id != m.MemberID() || f.epoch < 1 || !f.stable {
			t.Errorf("OffsetFetch %d: v%d member %v epoch %d stable %v; want v9+, member %s, its epoch, RequireStable",
				i, f.version, f.id, f.epoch, f.stable, m.MemberID())
		}
	}
}

// TestConsumerProtocolFetchesOffsetsUntilTheMemberIsGone: a KIP-848 member whose
// OffsetFetch keeps being refused as stale while it is fenced gives the assignment up
// (it does not take the partitions, nor ask for ever) and, joined again, reads them.
func TestConsumerProtocolFetchesOffsetsUntilTheMemberIsGone(t *testing.T) {
	kc, seeds := kfake848(t, 1)
	produceN(t, seeds, 1, 0, 10)
	var refusing, fencedOnce, gaveUp atomic.Bool
	refusing.Store(true)
	fenced := make(chan struct{})
	var once sync.Once
	kc.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		q := req.(*kmsg.OffsetFetchRequest)
		if !refusing.Load() || len(q.Groups) != 1 || q.Groups[0].MemberID == nil {
			return nil, nil, false
		}
		once.Do(func() { close(fenced) })
		resp := q.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.Groups = append(resp.Groups, kmsg.OffsetFetchResponseGroup{Group: q.Groups[0].Group, ErrorCode: errcode.StaleMemberEpoch.Code})
		return resp, nil, true
	})
	watch := &logWatch{word: "the assignment ended before its committed offsets came", ch: make(chan struct{}, 1)}
	// The heartbeat after the first refused fetch is fenced: the member loses its
	// assignment, which the hand-off has not taken yet. Its rejoin is held off (a
	// coordinator still loading) until the hand-off has given that assignment up; then
	// the fetches are answered.
	kc.ControlKey(int16(kmsg.ConsumerGroupHeartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		select {
		case <-fenced:
		default:
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.MemberEpoch = -1
		if !fencedOnce.Swap(true) {
			resp.ErrorCode = errcode.FencedMemberEpoch.Code
			return resp, nil, true
		}
		select {
		case <-watch.ch:
			gaveUp.Store(true)
			refusing.Store(false)
		default:
		}
		if gaveUp.Load() {
			return nil, nil, false
		}
		resp.ErrorCode = errcode.CoordinatorLoadInProgress.Code
		return resp, nil, true
	})
	var assigned, lostN atomic.Int32
	cfg := consumerConfig("cfg")
	cfg.OnAssigned = func(context.Context, []consumer.About) { assigned.Add(1) }
	cfg.OnLost = func(context.Context, []consumer.About) { lostN.Add(1) }
	cfg.Logger = slog.New(watch)
	m, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	bs, err := m.Poll(ctxT(t))
	if err != nil || len(bs) == 0 || bs[0].Records[0].Offset != 0 {
		t.Fatalf("Poll: %v, %v", bs, err)
	}
	if a, l := assigned.Load(), lostN.Load(); a != 1 || l != 0 {
		t.Errorf("OnAssigned %d times, OnLost %d times; want the partition taken once, by the second assignment", a, l)
	}
}

// TestSendAgainAs: who a commit refused because the generation or member epoch moved on
// is sent again as. Nothing when nothing was refused so, or when the member is out of
// the group; a classic member only with a generation that moved (the same one would be
// refused again); a KIP-848 member refused with STALE_MEMBER_EPOCH while its epoch has
// not moved waits for its next epoch — woken as soon as it is published — and, if none
// comes within two heartbeat intervals, sends again with the epoch it has.
func TestSendAgainAs(t *testing.T) {
	res := func(err error) []cluster.OffsetCommitResult {
		return []cluster.OffsetCommitResult{{OffsetCommit: cluster.OffsetCommit{Topic: "t", Offset: 1}, Err: err}}
	}
	e3 := &memberInfo{memberID: "m", generation: 3}
	newM := func(p Protocol, interval time.Duration) *Member {
		m := &Member{cfg: Config{Protocol: p, HeartbeatInterval: interval}}
		m.setInfo(e3)
		return m
	}
	m := newM(Classic, time.Hour)
	if got := m.sendAgainAs(ctxT(t), e3, res(errcode.OffsetMetadataTooLarge)); got != nil {
		t.Errorf("another refusal sent again as %+v", got)
	}
	if got := m.sendAgainAs(ctxT(t), e3, res(errcode.IllegalGeneration)); got != nil {
		t.Errorf("classic, generation unchanged: sent again as %+v", got)
	}
	m.setInfo(&memberInfo{memberID: "m", generation: 4})
	if got := m.sendAgainAs(ctxT(t), e3, res(errcode.IllegalGeneration)); got == nil || got.generation != 4 {
		t.Errorf("classic, generation moved: sent again as %+v, want generation 4", got)
	}
	m.setInfo(&memberInfo{generation: -1})
	if got := m.sendAgainAs(ctxT(t), e3, res(errcode.IllegalGeneration)); got != nil {
		t.Errorf("out of the group: sent again as %+v", got)
	}

	// KIP-848, the epoch published while the commit waits (an hour's interval: only the
	// wake-up can end the wait in time).
	m = newM(Consumer, time.Hour)
	out := make(chan *memberInfo, 1)
	w := &infoWaiter{m: m, was: e3, results: res(errcode.StaleMemberEpoch), out: out}
	go w.run(ctxT(t))
	m.setInfo(&memberInfo{memberID: "m", generation: 3, interval: time.Hour}) // not a change: no wake-up
	m.setInfo(&memberInfo{memberID: "m", generation: 5})
	select {
	case got := <-out:
		if got == nil || got.generation != 5 {
			t.Errorf("KIP-848, epoch moved while waiting: sent again as %+v, want epoch 5", got)
		}
	case <-ctxT(t).Done():
		t.Fatal("the commit waiting for a new epoch was not woken")
	}
	// No new epoch within two intervals: sent again with the same.
	m = newM(Consumer, time.Millisecond)
	if got := m.sendAgainAs(ctxT(t), e3, res(errcode.StaleMemberEpoch)); got == nil || got.generation != 3 {
		t.Errorf("KIP-848, no new epoch: sent again as %+v, want epoch 3", got)
	}
	// Fenced meanwhile: not sent again.
	m = newM(Consumer, time.Hour)
	m.setInfo(&memberInfo{generation: -1})
	if got := m.sendAgainAs(ctxT(t), e3, res(errcode.StaleMemberEpoch)); got != nil {
		t.Errorf("KIP-848, fenced: sent again as %+v", got)
	}
}

// infoWaiter runs sendAgainAs on its own goroutine for TestSendAgainAs.
type infoWaiter struct {
	m       *Member
	was     *memberInfo
	results []cluster.OffsetCommitResult
	out     chan<- *memberInfo
}

func (w *infoWaiter) run(ctx context.Context) { w.out <- w.m.sendAgainAs(ctx, w.was, w.results) }
