package consumer

import (
	"errors"
	"strings"
	"testing"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumeAll starts a reader on every partition of topic, from the oldest record.
func consumeAll(t *testing.T, c *Consumer, topic string, partitions int) []*reader {
	t.Helper()
	var rs []*reader
	for p := range int32(partitions) {
		rs = append(rs, newReader(t, consume(t, c, topic, p, Oldest()), 0))
	}
	return rs
}

func produceAll(t *testing.T, seeds []string, topic string, partitions, first, n int) {
	t.Helper()
	cl := kgoClient(t, seeds)
	for p := range int32(partitions) {
		produceWith(t, cl, topic, p, first, n)
	}
}

func TestLeaderMovesLoseNothing(t *testing.T) {
	const parts, per = 4, 60
	kc, seeds := startKfake(t, kfake.NumBrokers(3), kfake.SeedTopics(parts, "t"))
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	rs := consumeAll(t, c, "t", parts)
	for round := range 6 {
		produceAll(t, seeds, "t", parts, round*per, per)
		// Move leaders while the batches are being read.
		done := make(chan struct{})
		go func() {
			defer close(done)
			readAll(t, rs, per)
		}()
		if round%2 == 0 {
			for p := range int32(parts) {
				to := (kc.LeaderFor("t", p) + 1) % 3
				if err := kc.MoveTopicPartition("t", p, to); err != nil {
					t.Error(err)
				}
			}
		} else {
			kc.ShufflePartitionLeaders()
		}
		<-done
		if t.Failed() {
			t.FailNow()
		}
	}
	rec.waitFor(t, "Unsubscribed", isA[Unsubscribed])
	if n := rec.count(isA[LogTruncation]) + rec.count(isA[OffsetReset]); n > 0 {
		t.Fatalf("a leader move without loss reported loss:\n%s", rec.dump())
	}
}

func TestBrokerRemovedAndBack(t *testing.T) {
	const parts, per = 3, 40
	kc, seeds := startKfake(t, kfake.NumBrokers(3), kfake.SeedTopics(parts, "t"))
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	rs := consumeAll(t, c, "t", parts)
	produceAll(t, seeds, "t", parts, 0, per)
	readAll(t, rs, per)

	// Take away the broker leading partition 0 (kfake then elects new leaders for
	// everything), with more data on the way.
	gone := kc.LeaderFor("t", 0)
	if err := kc.RemoveNode(gone); err != nil {
		t.Fatal(err)
	}
	live := seeds[:0:0]
	for i, s := range seeds {
		if int32(i) != gone {
			live = append(live, s)
		}
	}
	produceAll(t, live, "t", parts, per, per)
	readAll(t, rs, per)

	// It comes back, probably on another port, and leads everything.
	_, port, err := kc.AddNode(gone, 0)
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(parts) {
		if err := kc.MoveTopicPartition("t", p, gone); err != nil {
			t.Fatal(err)
		}
	}
	produceAll(t, live, "t", parts, 2*per, per)
	readAll(t, rs, per)
	rec.waitFor(t, "subscription at the returned broker", func(e troupe.Event) bool {
		s, ok := e.(Subscribed)
		return ok && s.Broker == gone && s.Offset >= per
	})
	t.Logf("broker %d came back on port %d", gone, port)
}

func TestActorFailuresLoseNothing(t *testing.T) {
	requireFaults(t)
	const parts, per = 2, 80
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(parts, "t"))
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	cfg.MaxPartitionBytes = 2 << 10 // many fetches
	c := newConsumer(t, cfg)
	rs := consumeAll(t, c, "t", parts)
	produceAll(t, seeds, "t", parts, 0, per)
	c.faults.brokerConsumer.Store(3)
	c.faults.feeder.Store(3)
	readAll(t, rs, per)
	produceAll(t, seeds, "t", parts, per, per)
	readAll(t, rs, per)
	if c.faults.brokerConsumer.Load() != 0 || c.faults.feeder.Load() != 0 {
		t.Fatalf("faults left: broker consumer %d, feeder %d", c.faults.brokerConsumer.Load(), c.faults.feeder.Load())
	}
	// Every feeder that failed is back before the test ends: one still down at Close (in
	// its restart backoff) could not drain its mailbox, and Close would rightly say so.
	rec.waitCount(t, "feeder restarts", 3, func(e troupe.Event) bool {
		r, ok := e.(supervisor.Restarted)
		return ok && strings.HasPrefix(r.Child, "feeder ")
	})
	// A failed broker consumer hands its partitions back, saying why.
	rec.waitFor(t, "hand-back after a broker consumer failure", func(e troupe.Event) bool {
		u, ok := e.(Unsubscribed)
		return ok && errors.Is(u.Err, actor.ErrPanic)
	})
}

// TestTransientFetchErrorsAreRetried: partition errors Kafka lets a consumer retry
// (injected with kfake faults) hand the partition back and resubscribe it, losing nothing.
func TestTransientFetchErrorsAreRetried(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 30)
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	for _, e := range []*kerr.Error{kerr.NotLeaderForPartition, kerr.FencedLeaderEpoch, kerr.UnknownLeaderEpoch, kerr.KafkaStorageError, kerr.UnknownServerError} {
		kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "t", Err: e, Count: 2})
	}
	r := newReader(t, consume(t, c, "t", 0, Oldest()), 0)
	r.mustRead(30)
	produce(t, seeds, "t", 0, 30, 10)
	r.mustRead(10)
	if n := rec.count(isA[Unsubscribed]); n < 10 {
		t.Fatalf("%d hand-backs for 10 injected errors:\n%s", n, rec.dump())
	}
}
