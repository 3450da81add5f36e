package group

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsumerProtocolWithAKgoMember: a troupe member and a franz-go member (its
// ServerSideBalancer, KIP-848) share one consumer-protocol group. They split the topic
// and read every record between them, neither the other's partitions; when the troupe
// member closes, franz-go takes its partitions and starts each exactly at the offset the
// troupe member committed (with its member epoch) on the way out.
func TestConsumerProtocolWithAKgoMember(t *testing.T) {
	const parts, n = 6, 20
	_, seeds := kfake848(t, parts)
	m1 := join(t, seeds, consumerConfig("ci"), "troupe")

	var mu sync.Mutex
	kgoRead := make(map[consumer.About][]int64)
	kgoOwns := make(map[int32]bool)
	changed := make(chan struct{}, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup("ci"), kgo.ConsumeTopics("t"),
		kgo.ServerSideBalancer(), kgo.Balancers(kgo.StickyBalancer()), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			for _, p := range m["t"] {
				kgoOwns[p] = true
			}
			mu.Unlock()
			signalCh(changed)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			for _, p := range m["t"] {
				delete(kgoOwns, p)
			}
			mu.Unlock()
			signalCh(changed)
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				a := consumer.About{Topic: r.Topic, Partition: r.Partition}
				kgoRead[a] = append(kgoRead[a], r.Offset)
			})
			mu.Unlock()
			signalCh(changed)
		}
	}()
	defer func() {
		cancel()
		<-polled
		cl.Close()
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.After(testTimeout)
		for {
			// The channels first, then the look: a change in between wakes the wait.
			m1.mu.Lock()
			ch := m1.change
			m1.mu.Unlock()
			settled := m1.m.settled()
			if cond() {
				return
			}
			select {
			case <-changed:
			case <-ch:
			case <-settled:
			case <-deadline:
				t.Fatalf("%s: not within %v (troupe owns %v)", what, testTimeout, m1.m.Assigned())
			}
		}
	}
	wait("the group split three and three", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(kgoOwns) == parts/2 && len(m1.m.Assigned()) == parts/2
	})
	produceN(t, seeds, parts, 0, n)
	readAll := func(upTo int64) func() bool {
		return func() bool {
			got := union(m1)
			mu.Lock()
			defer mu.Unlock()
			for p := range int32(parts) {
				a := consumer.About{Topic: "t", Partition: p}
				for o := range upTo {
					if got[a][o] == 0 && !containsOffset(kgoRead[a], o) {
						return false
					}
				}
			}
			return true
		}
	}
	wait("every record read", readAll(n))
	troupeHad := m1.m.Assigned()
	for _, a := range troupeHad {
		mu.Lock()
		if len(kgoRead[a]) > 0 {
			t.Errorf("%s read by both", a)
		}
		mu.Unlock()
	}

	// The troupe member leaves: franz-go takes its partitions from its commits.
	closeMember(t, m1)
	committed := committedOffsets(t, seeds, "ci")
	wait("franz-go owns everything", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(kgoOwns) == parts
	})
	produceN(t, seeds, parts, n, n)
	wait("every record read after the move", readAll(2*n))
	mu.Lock()
	defer mu.Unlock()
	for _, a := range troupeHad {
		c, ok := committed[a.Partition]
		if !ok || c <= 0 {
			t.Errorf("%s: the troupe member committed nothing (%v)", a, committed)
			continue
		}
		if first := kgoRead[a][0]; first != c {
			t.Errorf("%s: franz-go started at %d, the troupe member committed %d", a, first, c)
		}
	}
}

func containsOffset(offs []int64, o int64) bool {
	for _, x := range offs {
		if x == o {
			return true
		}
	}
	return false
}
