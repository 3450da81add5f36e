package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/twmb/franz-go/pkg/kfake"
)

// produceBatches writes n records to topic/partition as batches of size records each.
func produceBatches(t *testing.T, seeds []string, topic string, partition int32, first, n, size int) {
	t.Helper()
	cl := kgoClient(t, seeds)
	for i := 0; i < n; i += size {
		produceWith(t, cl, topic, partition, first+i, min(size, n-i))
	}
}

func TestSlowPartitionDoesNotHoldOthersBack(t *testing.T) {
	const n = 300
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	produceBatches(t, seeds, "t", 0, 0, n, 10)
	produceBatches(t, seeds, "t", 1, 0, n, 10)
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	cfg.MaxProcessingTime = 20 * time.Millisecond
	cfg.MaxPartitionBytes = 1 << 10 // a few batches per fetch: many fetch rounds
	c := newConsumer(t, cfg)
	slow := newReader(t, consume(t, c, "t", 0, Oldest()), 0)
	fast := newReader(t, consume(t, c, "t", 1, Oldest()), 0)

	// The slow partition takes one batch and then nothing for a while: its feeder holds
	// the next one, and after MaxProcessingTime gives the partition's place back.
	b, err := slow.pc.Next(ctxT(t))
	if err != nil || !slow.check(b) {
		t.Fatalf("first batch: %v", err)
	}
	fastDone := make(chan bool, 1)
	go func() { fastDone <- fast.readTo(n) }()
	rec.waitFor(t, "SlowPartition", func(e troupe.Event) bool {
		s, ok := e.(SlowPartition)
		return ok && s.Partition == 0 && s.Waited >= cfg.MaxProcessingTime
	})
	// The other partition on the same broker is served to its end meanwhile.
	if !<-fastDone {
		t.FailNow()
	}
	if slow.pc.Position() != b.NextOffset {
		t.Fatalf("the slow partition moved on: position %d", slow.pc.Position())
	}
	// The broker consumer now counts only the fast partition.
	waitFor(t, func() bool { return sum(c.brokers.Counts()) == 1 })
	// The slow partition catches up: nothing lost, repeated or reordered.
	if !slow.readTo(n) {
		t.FailNow()
	}
	if rec.count(isA[OffsetReset])+rec.count(isA[LogTruncation]) > 0 {
		t.Fatalf("loss reported:\n%s", rec.dump())
	}
}

func sum[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestPauseKeepsFetchedDataAndResumesInOrder(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	produceBatches(t, seeds, "t", 0, 0, 100, 10)
	produceBatches(t, seeds, "t", 1, 0, 100, 10)
	cfg := testConfig(seeds, newRecorder())
	cfg.MaxPartitionBytes = 1 << 10
	c := newConsumer(t, cfg)
	a := newReader(t, consume(t, c, "t", 0, Oldest()), 0)
	b := newReader(t, consume(t, c, "t", 1, Oldest()), 0)
	if !a.read(10) {
		t.FailNow()
	}
	a.pc.Pause()
	if !a.pc.Paused() {
		t.Fatal("not paused")
	}
	pos := a.pc.Position()

	// A reader waiting on the paused partition gets nothing...
	done := make(chan bool, 1)
	go func() { done <- a.readTo(150) }()
	// ...while the other partition on the same broker goes through many fetch rounds,
	// including records written after the pause.
	produceBatches(t, seeds, "t", 0, 100, 50, 10)
	produceBatches(t, seeds, "t", 1, 100, 50, 10)
	if !b.readTo(150) {
		t.FailNow()
	}
	select {
	case <-done:
		t.Fatal("a paused partition delivered")
	default:
	}
	if a.pc.Position() != pos {
		t.Fatalf("position moved while paused: %d -> %d", pos, a.pc.Position())
	}
	// While paused the partition gave up its place at the broker consumer.
	waitFor(t, func() bool { return sum(c.brokers.Counts()) == 1 })

	a.pc.Resume()
	if ok := <-done; !ok {
		t.FailNow()
	}
	if a.pc.Lag() != 0 {
		t.Fatalf("lag %d after reading everything", a.pc.Lag())
	}
}

func TestNextHonoursItsContextWhilePaused(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 10)
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	pc := consume(t, c, "t", 0, Oldest())
	pc.Pause()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pc.Next(ctx); err != context.Canceled {
		t.Fatalf("Next on a paused partition with a cancelled context: %v", err)
	}
	pc.Resume()
	newReader(t, pc, 0).mustRead(10)
}
