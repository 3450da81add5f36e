package group

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestWithAKgoMember: a troupe member and a franz-go member share one group (range),
// each leading in turn (the first in leads): the leader reads the other's subscription
// and writes the assignment the other reads, in the versions of the consumer protocol
// each writes; together they read every record, neither the other's partitions.
func TestWithAKgoMember(t *testing.T) {
	t.Run("troupe leads", func(t *testing.T) { withKgo(t, true) })
	t.Run("kgo leads", func(t *testing.T) { withKgo(t, false) })
}

func withKgo(t *testing.T, troupeFirst bool) {
	const parts, n = 6, 20
	_, seeds := startKfake(t, parts)
	var m1 *collector
	if troupeFirst {
		m1 = join(t, seeds, testGroupConfig("gi"), "troupe")
	}

	var mu sync.Mutex
	kgoSeen := make(map[consumer.About]map[int64]int)
	kgoOwns := 0
	changed := make(chan struct{}, 1)
	var klog kafkatest.LockedBuffer
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.WithLogger(kgo.BasicLogger(&klog, kgo.LogLevelInfo, nil)), kgo.ConsumerGroup("gi"), kgo.ConsumeTopics("t"),
		kgo.Balancers(kgo.RangeBalancer()), kgo.DisableAutoCommit(), kgo.HeartbeatInterval(50*time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			kgoOwns += len(m["t"])
			mu.Unlock()
			signalCh(changed)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			kgoOwns -= len(m["t"])
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
				if kgoSeen[a] == nil {
					kgoSeen[a] = make(map[int64]int)
				}
				kgoSeen[a][r.Offset]++
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
	if !troupeFirst {
		for {
			mu.Lock()
			owns := kgoOwns
			mu.Unlock()
			if owns == parts {
				break
			}
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatal("kgo alone never owned every partition")
			}
		}
		m1 = join(t, seeds, testGroupConfig("gi"), "troupe")
	}
	settled := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return kgoOwns == parts/2 && len(m1.m.Assigned()) == parts/2
	}
	for {
		// The channel first, then the look: a change in between wakes the wait.
		ch := m1.m.settled()
		if settled() {
			break
		}
		select {
		case <-changed:
		case <-ch:
		case <-ctx.Done():
			mu.Lock()
			owns := kgoOwns
			mu.Unlock()
			m1.mu.Lock()
			events := m1.events
			m1.mu.Unlock()
			t.Fatalf("the group did not settle: troupe owns %v, kgo %d; troupe's callbacks: %v\nkgo's log:\n%s", m1.m.Assigned(), owns, events, klog.String())
		}
	}
	produceN(t, seeds, parts, 0, n)
	read := func() bool {
		got := union(m1)
		mu.Lock()
		defer mu.Unlock()
		for p := range int32(parts) {
			a := consumer.About{Topic: "t", Partition: p}
			for o := range int64(n) {
				if got[a][o] == 0 && kgoSeen[a][o] == 0 {
					return false
				}
			}
		}
		return true
	}
	for {
		m1.mu.Lock()
		ch := m1.change
		m1.mu.Unlock()
		if read() {
			break
		}
		select {
		case <-changed:
		case <-ch:
		case <-ctx.Done():
			got := union(m1)
			mu.Lock()
			var b strings.Builder
			for p := range int32(parts) {
				a := consumer.About{Topic: "t", Partition: p}
				fmt.Fprintf(&b, "\n  %s: troupe read %d, kgo read %d", a, len(got[a]), len(kgoSeen[a]))
			}
			fmt.Fprintf(&b, "\n  kgo owns %d; troupe owns %v", kgoOwns, m1.m.Assigned())
			mu.Unlock()
			m1.mu.Lock()
			fmt.Fprintf(&b, "\n  troupe's callbacks: %v", m1.events)
			m1.mu.Unlock()
			t.Fatalf("not every record was read:%s", b.String())
		}
	}
	// And neither read the other's partitions.
	for a := range union(m1) {
		mu.Lock()
		if len(kgoSeen[a]) > 0 {
			t.Errorf("%s read by both", a)
		}
		mu.Unlock()
	}
}

func signalCh(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
