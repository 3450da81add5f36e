package consumer

import (
	"errors"
	"slices"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteRecords deletes the records of topic/partition below offset, through troupe's
// own wire layer (DeleteRecords at the partition's leader).
func deleteRecords(t *testing.T, c *Consumer, topic string, partition int32, offset int64) {
	t.Helper()
	ctx := ctxT(t)
	snap, err := c.client.Refresh(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	leader, _, err := snap.Leader(topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.client.Conn(leader.Node(), broker.Admin)
	if err != nil {
		t.Fatal(err)
	}
	req := &api.DeleteRecordsRequest{}
	req.Default()
	req.TimeoutMs = 10000
	req.Topics = []api.DeleteRecordsRequestTopic{{Name: topic, Partitions: []api.DeleteRecordsRequestPartition{{PartitionIndex: partition, Offset: offset}}}}
	resp, err := h.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.(*api.DeleteRecordsResponse).Topics {
		for _, rp := range rt.Partitions {
			if err := errcode.ForCode(rp.ErrorCode); err != nil || rp.LowWatermark != offset {
				t.Fatalf("delete records below %d: %v, low watermark %d", offset, err, rp.LowWatermark)
			}
		}
	}
}

func resetTo(rec *recorder, t *testing.T, from, to int64, policy ResetPolicy) {
	t.Helper()
	e := rec.waitFor(t, "OffsetReset", isA[OffsetReset]).(OffsetReset)
	if e.From != from || e.To != to || e.Policy != policy || !errors.Is(e.Cause, errcode.OffsetOutOfRange) {
		t.Fatalf("reset %+v, want %d -> %d by %v", e, from, to, policy)
	}
}

func TestOffsetOutOfRangeResetPolicies(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	for p := range int32(3) {
		produceBatches(t, seeds, "t", p, 0, 100, 10)
	}
	for _, tc := range []struct {
		policy    ResetPolicy
		partition int32
	}{{ResetEarliest, 0}, {ResetLatest, 1}, {ResetNone, 2}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			rec := newRecorder()
			cfg := testConfig(seeds, rec)
			cfg.OffsetReset = tc.policy
			c := newConsumer(t, cfg)
			deleteRecords(t, c, "t", tc.partition, 50)
			pc := consume(t, c, "t", tc.partition, At(5)) // below the log start now
			switch tc.policy {
			case ResetEarliest:
				resetTo(rec, t, 5, 50, tc.policy)
				newReader(t, pc, 50).mustRead(50)
			case ResetLatest:
				resetTo(rec, t, 5, 100, tc.policy)
				produce(t, seeds, "t", tc.partition, 100, 5)
				r := newReader(t, pc, 100)
				r.mustRead(5)
				if r.got[0].Offset != 100 {
					t.Fatalf("first offset after the reset %d", r.got[0].Offset)
				}
			case ResetNone:
				_, err := pc.Next(ctxT(t))
				var oor *OutOfRangeError
				if !errors.Is(err, ErrOffsetOutOfRange) || !errors.Is(err, errcode.OffsetOutOfRange) || !errors.As(err, &oor) || oor.Offset != 5 {
					t.Fatalf("Next: %v", err)
				}
				<-pc.Done()
				if _, again := pc.Next(ctxT(t)); again != err || pc.Err() != err {
					t.Fatalf("terminal error not kept: %v, %v", again, pc.Err())
				}
				rec.waitFor(t, "PartitionFailed", isA[PartitionFailed])
				if rec.count(isA[OffsetReset]) != 0 {
					t.Fatal("a reset under ResetNone")
				}
			}
		})
	}
}

func TestOffsetOutOfRangeWhileConsuming(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produceBatches(t, seeds, "t", 0, 0, 300, 10)
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	cfg.MaxPartitionBytes = 1 << 10 // a few batches per fetch, and at most two fetched ahead
	c := newConsumer(t, cfg)
	pc := consume(t, c, "t", 0, Oldest())
	b, err := pc.Next(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	deleteRecords(t, c, "t", 0, 250)
	// What was fetched before the deletion is still delivered; then the position is out
	// of range and moves to the new log start, which is reported.
	var offsets []int64
	for {
		for _, r := range b.Records {
			offsets = append(offsets, r.Offset)
		}
		if offsets[len(offsets)-1] == 299 {
			break
		}
		if b, err = pc.Next(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	e := rec.waitFor(t, "OffsetReset", isA[OffsetReset]).(OffsetReset)
	if e.To != 250 || e.From >= 250 || e.Policy != ResetEarliest {
		t.Fatalf("reset %+v", e)
	}
	var want []int64
	for o := range e.From {
		want = append(want, o)
	}
	for o := int64(250); o < 300; o++ {
		want = append(want, o)
	}
	if !slices.Equal(offsets, want) {
		t.Fatalf("delivered %v\nwant %v", offsets, want)
	}
}

func TestOffsetBeyondTheEndResets(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 20)
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	pc := consume(t, c, "t", 0, At(1000))
	resetTo(rec, t, 1000, 0, ResetEarliest)
	newReader(t, pc, 0).mustRead(20)
}

// TestAuthorizationFailureIsTerminal: a fetch refused for good (TOPIC_AUTHORIZATION_FAILED,
// injected with a kfake fault) ends the partition with that error, matchable with
// errors.Is, and leaves the other partition alone.
func TestAuthorizationFailureIsTerminal(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	produceAll(t, seeds, "t", 2, 0, 10)
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "t", Partitions: []int32{1}, Err: kerr.TopicAuthorizationFailed, Count: -1})
	ok := newReader(t, consume(t, c, "t", 0, Oldest()), 0)
	denied := consume(t, c, "t", 1, Oldest())
	if _, err := denied.Next(ctxT(t)); !errors.Is(err, errcode.TopicAuthorizationFailed) {
		t.Fatalf("Next on a partition the broker refuses: %v", err)
	}
	<-denied.Done()
	ok.mustRead(10)
}
