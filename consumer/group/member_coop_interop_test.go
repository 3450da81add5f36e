package group

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCooperativeWithAKgoMember: a troupe member and a franz-go member
// (kgo.CooperativeStickyBalancer) in one cooperative group, each leading in turn (the
// first in leads). The second one in takes half the partitions from the first, which
// revokes exactly those three (committing them) and keeps reading the others; the
// newcomer starts each at the first's commit, reading nothing again. When the kgo
// member leaves (committing on its revocation), the troupe member takes its partitions
// back at kgo's commits, without revoking anything of its own. Every record is read,
// once.
func TestCooperativeWithAKgoMember(t *testing.T) {
	t.Run("troupe leads", func(t *testing.T) { coopWithKgo(t, true) })
	t.Run("kgo leads", func(t *testing.T) { coopWithKgo(t, false) })
}

// kgoMember is a franz-go group member polling on a goroutine of the test, keeping what
// it read and its callbacks' counts.
type kgoMember struct {
	cl      *kgo.Client
	once    sync.Once
	cancel  context.CancelFunc
	polled  chan struct{}
	changed chan struct{}

	mu       sync.Mutex
	seen     map[consumer.About][]int64
	owns     map[int32]bool
	revoked  int
	assigned int
}

func startKgoMember(t *testing.T, seeds []string, group string) *kgoMember {
	t.Helper()
	k := &kgoMember{seen: make(map[consumer.About][]int64), owns: make(map[int32]bool), changed: make(chan struct{}, 1), polled: make(chan struct{})}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics("t"),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.HeartbeatInterval(50*time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			k.mu.Lock()
			for _, p := range m["t"] {
				k.owns[p] = true
				k.assigned++
			}
			k.mu.Unlock()
			signalCh(k.changed)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			// What was polled is processed (recorded before the next poll): commit it
			// before giving the partitions up, as kgo's documentation recommends.
			_ = cl.CommitUncommittedOffsets(ctx)
			k.mu.Lock()
			for _, p := range m["t"] {
				delete(k.owns, p)
				k.revoked++
			}
			k.mu.Unlock()
			signalCh(k.changed)
		}))
	if err != nil {
		t.Fatal(err)
	}
	k.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	go func() {
		defer close(k.polled)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			k.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				a := consumer.About{Topic: r.Topic, Partition: r.Partition}
				k.seen[a] = append(k.seen[a], r.Offset)
			})
			k.mu.Unlock()
			signalCh(k.changed)
		}
	}()
	t.Cleanup(k.close)
	return k
}

// close stops polling (so that everything polled is recorded) and closes the client,
// which revokes (committing) and leaves the group.
func (k *kgoMember) close() {
	k.once.Do(func() {
		k.cancel()
		<-k.polled
		k.cl.Close()
	})
}

// waitFor waits until cond holds (called with k.mu held), woken by k's changes or col's.
func (k *kgoMember) waitFor(t *testing.T, what string, col *collector, cond func() bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		col.mu.Lock()
		ch := col.change
		col.mu.Unlock()
		settled := col.m.settled()
		k.mu.Lock()
		ok := cond()
		k.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-k.changed:
		case <-ch:
		case <-settled:
		case <-deadline:
			t.Fatalf("no %s within %v", what, testTimeout)
		}
	}
}

func coopWithKgo(t *testing.T, troupeFirst bool) {
	const parts, n = 6, 20
	_, seeds := startKfake(t, parts)
	produceN(t, seeds, parts, 0, n)
	l := &handoffLog{}
	var m1 *collector
	var k *kgoMember
	if troupeFirst {
		m1 = joinCoop(t, seeds, l, "troupe")
		m1.waitReadThrough(t, "the first records", n-1)
		k = startKgoMember(t, seeds, "gcoop")
	} else {
		k = startKgoMember(t, seeds, "gcoop")
		k.waitForKgo(t, "kgo to read everything", func() bool { return len(k.owns) == parts && readThrough(k.seen, parts, n-1) })
		m1 = joinCoop(t, seeds, l, "troupe")
	}
	k.waitFor(t, "the split", m1, func() bool { return len(k.owns) == parts/2 && len(m1.m.Assigned()) == parts/2 })
	if troupeFirst {
		if got := l.count("troupe", "revoked"); got != parts/2 {
			t.Errorf("troupe revoked %d partitions when kgo joined, want the %d that moved", got, parts/2)
		}
	} else {
		k.mu.Lock()
		if k.revoked != parts/2 {
			t.Errorf("kgo revoked %d partitions when troupe joined, want the %d that moved", k.revoked, parts/2)
		}
		k.mu.Unlock()
	}
	produceN(t, seeds, parts, n, n)
	m1.waitReadThrough(t, "the second records", 2*n-1)
	k.waitFor(t, "kgo to read the second records", m1, func() bool { return readThroughOwned(k.seen, k.owns, 2*n-1) })
	kept := owned(m1)

	// kgo leaves; troupe takes its partitions back at kgo's commits.
	revokedBefore := l.count("troupe", "revoked")
	k.close()
	waitAssigned(t, parts, []int{parts}, m1)
	if got := l.count("troupe", "revoked"); got != revokedBefore {
		t.Errorf("troupe revoked %d more partitions when kgo left, want none", got-revokedBefore)
	}
	produceN(t, seeds, parts, 2*n, n)
	m1.waitReadThrough(t, "the third records", 3*n-1)
	if r := rereads(m1, kept); r != 0 {
		t.Errorf("troupe read %d records of the partitions it kept again", r)
	}

	// Every record read, exactly once, by troupe or kgo.
	got := union(m1)
	k.mu.Lock()
	for a, offs := range k.seen {
		if got[a] == nil {
			got[a] = make(map[int64]int)
		}
		for _, o := range offs {
			got[a][o]++
		}
	}
	k.mu.Unlock()
	if dups := checkAll(t, got, parts, 3*n); dups != 0 {
		t.Errorf("%d records read twice: a hand-off did not start at the commit of the one before", dups)
	}
	l.checkHandOffs(t)
}

// waitForKgo waits until cond holds (called with k.mu held), woken by k's changes.
func (k *kgoMember) waitForKgo(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		k.mu.Lock()
		ok := cond()
		k.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-k.changed:
		case <-deadline:
			t.Fatalf("no %s within %v", what, testTimeout)
		}
	}
}

// readThrough reports whether seen holds every partition of parts through offset last.
func readThrough(seen map[consumer.About][]int64, parts int, last int64) bool {
	for p := range int32(parts) {
		s := seen[consumer.About{Topic: "t", Partition: p}]
		if len(s) == 0 || s[len(s)-1] < last {
			return false
		}
	}
	return true
}

// readThroughOwned reports whether seen holds every partition of owns through last.
func readThroughOwned(seen map[consumer.About][]int64, owns map[int32]bool, last int64) bool {
	for p := range owns {
		s := seen[consumer.About{Topic: "t", Partition: p}]
		if len(s) == 0 || s[len(s)-1] < last {
			return false
		}
	}
	return true
}
