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

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestEveryRecordOnceInOrderUnderChaos interleaves, at random (the seed is in the test's
// name), what the other tests do one at a time — writes, leader moves, leader elections,
// pauses and resumes, injected failures of broker consumers and feeders — while users of
// different speeds read every partition, most of them slower than MaxProcessingTime.
// Every record must arrive once, in order, and no loss may be reported.
func TestEveryRecordOnceInOrderUnderChaos(t *testing.T) {
	requireFaults(t)
	for seed := range uint64(chaosSeeds) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { chaos(t, seed) })
	}
}

// chaosSeeds is how many seeds the chaos test runs; chaosLogLevel, when set, keeps the
// consumer's log records at that level for the failure report.
var (
	chaosSeeds    = 5
	chaosLogLevel *slog.Level
)

func chaos(t *testing.T, seed uint64) {
	const parts, rounds, per = 4, 20, 25
	rng := rand.New(rand.NewPCG(seed, 1))
	kc, seeds := startKfake(t, kfake.NumBrokers(3), kfake.SeedTopics(parts, "t"))
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	logs := &logTail{}
	if chaosLogLevel != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: *chaosLogLevel}))
	}
	cfg.MaxPartitionBytes = 1 << 10
	cfg.MaxProcessingTime = 10 * time.Millisecond
	cfg.MaxWait = 20 * time.Millisecond
	// A fetch that never returns fails after this, long before the readers' deadline:
	// it is then reported as such, below, rather than as a partition that stopped.
	cfg.RequestTimeout = 5 * time.Second
	c := newConsumer(t, cfg)
	cl := kgoClient(t, seeds)

	var wg sync.WaitGroup
	var rs []*reader
	for p := range int32(parts) {
		r := newReader(t, consume(t, c, "t", p, Oldest()), 0)
		rs = append(rs, r)
		delay := time.Duration(p) * 5 * time.Millisecond // partition 0 fast, 3 the slowest
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			for len(r.got) < rounds*per {
				b, err := r.pc.Next(ctx)
				if err != nil {
					t.Errorf("%s[%d] after %d records (position %d, high-water mark %d, held %d, slow %v, paused %v): %v\nevents:\n%s\nactors:\n%s",
						r.pc.Topic(), r.pc.Partition(), len(r.got), r.pc.Position(), r.pc.HighWaterMark(),
						r.pc.p.held.Load(), r.pc.p.slow.Load(), r.pc.p.paused.Load(), err, rec.dump(), dumpActors(c.Actors())+"\nlog tail:\n"+logs.tail(60))
					return
				}
				if !r.check(b) {
					return
				}
				if delay > 0 {
					<-time.After(delay) // the user processing the batch
				}
			}
		}()
	}

	paused := make([]bool, parts)
	for round := range rounds {
		for p := range int32(parts) {
			produceWith(t, cl, "t", p, round*per, per)
		}
		switch rng.IntN(6) {
		case 0:
			if err := kc.MoveTopicPartition("t", int32(rng.IntN(parts)), int32(rng.IntN(3))); err != nil {
				t.Fatal(err)
			}
		case 1:
			kc.ShufflePartitionLeaders()
		case 2:
			p := rng.IntN(parts)
			if paused[p] {
				rs[p].pc.Resume()
			} else {
				rs[p].pc.Pause()
			}
			paused[p] = !paused[p]
		case 3:
			c.faults.brokerConsumer.Add(1)
		case 4:
			c.faults.feeder.Add(1)
		}
	}
	for _, r := range rs {
		r.pc.Resume()
	}
	wg.Wait()
	if n := rec.count(isA[OffsetReset]) + rec.count(isA[LogTruncation]); n > 0 {
		t.Errorf("loss reported:\n%s", rec.dump())
	}
	t.Logf("%d hand-backs, %d slow-partition events, %d actor events",
		rec.count(isA[Unsubscribed]), rec.count(isA[SlowPartition]), rec.count(isA[supervisor.Restarted]))
	if n := rec.count(func(e troupe.Event) bool {
		u, ok := e.(Unsubscribed)
		return ok && errors.Is(u.Err, broker.ErrRequestTimeout)
	}); n > 0 {
		t.Errorf("%d fetches timed out:\n%s\nlog tail:\n%s", n, rec.dump(), logs.tail(100))
	}
}

// logTail keeps the consumer's log lines, for the tail of them when a test fails.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, string(p))
	l.mu.Unlock()
	return len(p), nil
}

func (l *logTail) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "")
}
