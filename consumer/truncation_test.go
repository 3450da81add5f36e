package consumer

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLogTruncationAfterALeaderChange provokes what an unclean leader election does:
// the new leader's log for the epoch the consumer fetched under ends before the position
// it reached. kfake keeps one log per partition, so it never truncates; its answer to
// OffsetForLeaderEpoch is replaced by one that says the epoch ends at 60 while the
// consumer is at 100. The consumer must report the truncation (event and error on the
// partition) and carry on from 60.
func TestLogTruncationAfterALeaderChange(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "t"))
	produceBatches(t, seeds, "t", 0, 0, 100, 10)
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	pc := consume(t, c, "t", 0, Oldest())
	r := newReader(t, pc, 0)
	r.mustRead(100)
	epoch := r.got[99].LeaderEpoch

	kc.ControlKey(int16(kmsg.OffsetForLeaderEpoch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		q := req.(*kmsg.OffsetForLeaderEpochRequest)
		resp := q.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
		for _, rt := range q.Topics {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				if rp.LeaderEpoch != epoch {
					t.Errorf("validated epoch %d, want %d (the last fetched)", rp.LeaderEpoch, epoch)
				}
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, epoch, 60
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true // handled once, then kfake answers again
	})
	if err := kc.MoveTopicPartition("t", 0, 1-kc.LeaderFor("t", 0)); err != nil {
		t.Fatal(err)
	}
	produce(t, seeds, "t", 0, 100, 10)

	_, err := pc.Next(ctxT(t))
	var te *TruncationError
	if !errors.Is(err, ErrLogTruncated) || !errors.As(err, &te) || te.Offset != 100 || te.EndOffset != 60 || te.Epoch != epoch {
		t.Fatalf("Next after the truncation: %v", err)
	}
	ev := rec.waitFor(t, "LogTruncation", isA[LogTruncation]).(LogTruncation)
	if *ev.Err != *te {
		t.Fatalf("event %+v, error %+v", ev.Err, te)
	}
	// The partition goes on from where the leader's log diverged: here the same records
	// again, since kfake did not really lose them, then the new ones.
	r = newReader(t, pc, 60)
	r.mustRead(50)
	if r.got[0].Offset != 60 {
		t.Fatalf("first offset after the truncation %d", r.got[0].Offset)
	}
	if pc.Err() != nil {
		t.Fatalf("a truncation is not terminal: %v", pc.Err())
	}
}

// TestAtEpochValidatesTheStart: a start with its leader epoch (a committed offset, as
// AtEpoch takes it) is checked with the leader before the first fetch when the leader has
// moved on to a later epoch since. Here the partitions were written in epoch 0, then
// partitions 0 and 1 moved to the other broker (epoch 1), which wrote 10 more records
// from offset 100: in its log epoch 0 ends at 100. A start at 80 in epoch 0 lies within
// it, and reading starts there; a start at 105 in epoch 0 is what a consumer of the old
// leader committed before an unclean election cut that leader's records 100..104 away —
// the partition reports a *TruncationError and starts at 100, where the log diverges.
// kfake answers OffsetForLeaderEpoch from its own log, nothing injected.
//
// A start in the leader's current epoch (partition 2, never moved) is not asked about: the
// leader of that epoch cannot have truncated its own log under it. At(n) is not checked.
func TestAtEpochValidatesTheStart(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(4, "t"))
	for p := range int32(4) {
		produce(t, seeds, "t", p, 0, 100)
	}
	for p := range int32(2) {
		if err := kc.MoveTopicPartition("t", p, 1-kc.LeaderFor("t", p)); err != nil {
			t.Fatal(err)
		}
		produce(t, seeds, "t", p, 100, 10)
	}
	asked := make(chan int32, 16)
	kc.ControlKey(int16(kmsg.OffsetForLeaderEpoch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		for _, rt := range req.(*kmsg.OffsetForLeaderEpochRequest).Topics {
			for _, rp := range rt.Partitions {
				asked <- rp.Partition
			}
		}
		return nil, nil, false // kfake answers from its log
	})
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	// A deadline, so that a start no longer validated fails the test instead of hanging it.
	nextAsked := func() int32 {
		t.Helper()
		select {
		case p := <-asked:
			return p
		case <-ctxT(t).Done():
			t.Fatal("no OffsetForLeaderEpoch request: the start was not validated")
			return -1
		}
	}

	// Partition 0: epoch 0 ends at 100, after the start; reading starts at it.
	pc := consume(t, c, "t", 0, AtEpoch(80, 0))
	r := newReader(t, pc, 80)
	r.mustRead(30)
	if got := nextAsked(); got != 0 {
		t.Fatalf("validated partition %d", got)
	}

	// Partition 1: epoch 0 ends at 100, before the start: truncated.
	pc = consume(t, c, "t", 1, AtEpoch(105, 0))
	_, err := pc.Next(ctxT(t))
	var te *TruncationError
	if !errors.Is(err, ErrLogTruncated) || !errors.As(err, &te) || te.Offset != 105 || te.EndOffset != 100 || te.Epoch != 0 || te.EndEpoch != 0 {
		t.Fatalf("Next after a start past the epoch's end: %v", err)
	}
	r = newReader(t, pc, 100)
	r.mustRead(10)
	if got := nextAsked(); got != 1 {
		t.Fatalf("validated partition %d", got)
	}

	// Partition 2: the start is in the leader's current epoch; partition 3: At carries no
	// epoch. Neither is validated.
	pc = consume(t, c, "t", 2, AtEpoch(90, 0))
	newReader(t, pc, 90).mustRead(10)
	pc = consume(t, c, "t", 3, At(90))
	newReader(t, pc, 90).mustRead(10)
	select {
	case p := <-asked:
		t.Fatalf("partition %d validated, though its start is in the leader's epoch or has none", p)
	default:
	}
	if s := AtEpoch(5, 3).String(); s != "5 (epoch 3)" || AtEpoch(5, -7) != At(5) {
		t.Fatalf("AtEpoch: %q, %v", s, AtEpoch(5, -7))
	}
}
