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
