package interop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/internal/kafkatest"
)

// tally is what the members of a mixed group processed, safe for their goroutines; it
// signals every change.
type tally struct {
	mu      sync.Mutex
	s       seen
	changed chan struct{}
}

func newTally() *tally { return &tally{s: seen{}, changed: make(chan struct{}, 1)} }

func (t *tally) add(who string, p int32, off int64) {
	t.mu.Lock()
	t.s.add(who, p, off)
	t.mu.Unlock()
	t.poke()
}

func (t *tally) poke() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// waitFor waits, up to the deadline, until cond (called under the tally's lock) holds.
func (t *tally) waitFor(ctx context.Context, cond func(seen) bool) error {
	tick := time.NewTicker(50 * time.Millisecond) // also re-checks conditions on other state
	defer tick.Stop()
	for {
		t.mu.Lock()
		ok := cond(t.s)
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-t.changed:
		case <-tick.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// troupeMember is a troupe group member processing every record Poll returns; the
// member commits them before it gives their partitions up.
type troupeMember struct {
	m    *group.Member
	c    *consumer.Consumer
	done chan error
}

func startTroupeMember(ctx context.Context, t *testing.T, seeds []string, groupID, who string, tl *tally) *troupeMember {
	t.Helper()
	c, err := consumer.New(consumer.Config{Seeds: seeds, MaxWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m, err := group.Join(ctx, c, group.Config{
		Group: groupID, Topics: []string{groupTopic}, Assignors: []group.Assignor{group.Range()},
		HeartbeatInterval: 100 * time.Millisecond,
		OnAssigned:        func(context.Context, []consumer.About) { tl.poke() },
		OnRevoked:         func(context.Context, []consumer.About) { tl.poke() },
	})
	if err != nil {
		c.Close(ctx)
		t.Fatalf("%s: Join: %v", who, err)
	}
	tm := &troupeMember{m: m, c: c, done: make(chan error, 1)}
	go func() {
		for {
			bs, err := m.Poll(ctx)
			if err != nil {
				tm.done <- err
				return
			}
			for _, b := range bs {
				if b.Err != nil {
					tm.done <- b.Err
					return
				}
				for i := range b.Records {
					tl.add(who, b.Records[i].Partition, b.Records[i].Offset)
				}
			}
		}
	}()
	return tm
}

// close closes the member (its last commit, then LeaveGroup) and its consumer.
func (tm *troupeMember) close(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tm.m.Close(ctx); err != nil {
		t.Errorf("troupe member Close: %v", err)
	}
	if err := <-tm.done; err != nil && !errors.Is(err, group.ErrClosed) {
		t.Errorf("troupe member Poll: %v", err)
	}
	if err := tm.c.Close(ctx); err != nil {
		t.Errorf("consumer Close: %v", err)
	}
}

// kgoGroupMember is a kgo group member: BlockRebalanceOnPoll, so a rebalance waits until
// the records polled are processed, and a blocking commit of them in
// OnPartitionsRevoked, as the kgo documentation recommends.
type kgoGroupMember struct {
	cl   *kgo.Client
	done chan struct{}
	owns atomic.Int32 // partitions owned now
}

func startKgoMember(ctx context.Context, t *testing.T, seeds []string, groupID, who string, tl *tally) *kgoGroupMember {
	t.Helper()
	km := &kgoGroupMember{done: make(chan struct{})}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(groupTopic),
		kgo.Balancers(kgo.RangeBalancer()), kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			km.owns.Add(int32(len(a[groupTopic])))
			tl.poke()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				t.Errorf("%s: commit on revoke: %v", who, err)
			}
			km.owns.Add(-int32(len(r[groupTopic])))
			tl.poke()
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	km.cl = cl
	go func() {
		defer close(km.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) { tl.add(who, r.Partition, r.Offset) })
			cl.AllowRebalance()
		}
	}()
	return km
}

// close leaves the group: the revoke callback commits what was processed.
func (km *kgoGroupMember) close() {
	km.cl.Close()
	<-km.done
}

// processedUpTo reports whether every partition's records below n were processed.
func processedUpTo(partitions int32, n int64) func(seen) bool {
	return func(s seen) bool {
		for p := range partitions {
			for off := range n {
				if len(s[[2]int64{int64(p), off}]) == 0 {
					return false
				}
			}
		}
		return true
	}
}

// committedAt checks, with a troupe Committer, that the group committed want for every
// partition.
func committedAt(t *testing.T, seeds []string, groupID string, partitions int32, want int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	cm, err := group.NewCommitter(c, groupID, group.CommitterConfig{Reset: consumer.ResetNone, DisableAutoCommit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close(ctx)
	var parts []consumer.About
	for p := range partitions {
		parts = append(parts, consumer.About{Topic: groupTopic, Partition: p})
	}
	starts, err := cm.Starts(ctx, parts...)
	if err != nil {
		t.Fatalf("Starts: %v", err)
	}
	for _, p := range parts {
		if got := starts[p].String(); !strings.HasPrefix(got, strconv.FormatInt(want, 10)) {
			t.Errorf("the group committed %s for %s; want %d", got, p, want)
		}
	}
}

// TestGroupTroupeAndKgoMembers: troupe and kgo members in one group (range), through
// membership changes — a kgo member joins, then the first troupe member leaves, then
// a troupe member joins and the kgo members leave — with records written before and
// between the changes: every record is processed by exactly one member, because each
// commits what it processed before giving a partition up and the next owner, of either
// client, resumes there; at the end the group's committed offsets are the log ends.
func TestGroupTroupeAndKgoMembers(t *testing.T) {
	const partitions = 6
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(partitions, groupTopic))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const g = "mixed"
	tl := newTally()
	t1 := startTroupeMember(ctx, t, seeds, g, "troupe-1", tl)
	k1 := startKgoMember(ctx, t, seeds, g, "kgo-1", tl)
	produceEach(t, seeds, partitions, 40)
	if err := tl.waitFor(ctx, processedUpTo(partitions, 40)); err != nil {
		t.Fatalf("waiting for the first 40 records of each partition: %v", err)
	}
	k2 := startKgoMember(ctx, t, seeds, g, "kgo-2", tl)
	if err := tl.waitFor(ctx, func(seen) bool { return k2.owns.Load() > 0 }); err != nil {
		t.Fatalf("kgo-2 got no partitions: %v", err)
	}
	produceEach(t, seeds, partitions, 40)
	if err := tl.waitFor(ctx, processedUpTo(partitions, 80)); err != nil {
		t.Fatalf("after kgo-2 joined: %v", err)
	}
	t1.close(t)
	if err := tl.waitFor(ctx, func(seen) bool { return k1.owns.Load()+k2.owns.Load() == partitions }); err != nil {
		t.Fatalf("the kgo members did not take troupe-1's partitions: %v", err)
	}
	produceEach(t, seeds, partitions, 40)
	if err := tl.waitFor(ctx, processedUpTo(partitions, 120)); err != nil {
		t.Fatalf("after troupe-1 left: %v", err)
	}
	t2 := startTroupeMember(ctx, t, seeds, g, "troupe-2", tl)
	k1.close()
	k2.close()
	if err := tl.waitFor(ctx, func(seen) bool { return len(t2.m.Assigned()) == partitions }); err != nil {
		t.Fatalf("troupe-2 did not take the kgo members' partitions: %v", err)
	}
	produceEach(t, seeds, partitions, 40)
	if err := tl.waitFor(ctx, processedUpTo(partitions, 160)); err != nil {
		t.Fatalf("after the kgo members left: %v", err)
	}
	t2.close(t)
	tl.mu.Lock()
	tl.s.exactlyOnce(t, partitions, 160)
	who := map[string]int{}
	for _, by := range tl.s {
		for _, w := range by {
			who[w]++
		}
	}
	tl.mu.Unlock()
	for _, w := range []string{"troupe-1", "kgo-1", "kgo-2", "troupe-2"} {
		if who[w] == 0 {
			t.Errorf("%s processed nothing: the test did not hand partitions to it (%v)", w, who)
		}
	}
	committedAt(t, seeds, g, partitions, 160)
}

// TestGroupTroupeAndKcat: a troupe member and kcat's balanced consumer (librdkafka
// 2.0.2, range; eager) in one group against kfake: they split the partitions, every
// record is processed by one of them, and when kcat leaves (SIGTERM: it commits and
// leaves) the troupe member resumes kcat's partitions exactly where kcat committed.
func TestGroupTroupeAndKcat(t *testing.T) {
	path := kcat(t)
	const partitions = 4
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(partitions, groupTopic))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const g = "with-kcat"
	tl := newTally()
	tm := startTroupeMember(ctx, t, seeds, g, "troupe", tl)

	cmd := exec.CommandContext(ctx, path, "-b", seeds[0], "-G", g, "-X", "partition.assignment.strategy=range",
		"-X", "auto.offset.reset=earliest", "-X", "heartbeat.interval.ms=100", "-u", "-f", "%p %o\n", groupTopic)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr kafkatest.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			p, err1 := strconv.ParseInt(f[0], 10, 32)
			o, err2 := strconv.ParseInt(f[len(f)-1], 10, 64)
			if len(f) != 2 || err1 != nil || err2 != nil {
				read <- fmt.Errorf("kcat output %q", sc.Text())
				return
			}
			tl.add("kcat", int32(p), o)
		}
		read <- sc.Err()
	}()
	// Wait until the group has both: the troupe member owns half the partitions.
	if err := tl.waitFor(ctx, func(seen) bool { return len(tm.m.Assigned()) == partitions/2 }); err != nil {
		t.Fatalf("kcat did not join the group (troupe owns %v): %v\nkcat stderr:\n%s", tm.m.Assigned(), err, stderr.String())
	}
	produceEach(t, seeds, partitions, 50)
	if err := tl.waitFor(ctx, processedUpTo(partitions, 50)); err != nil {
		t.Fatalf("waiting for every record: %v\nkcat stderr:\n%s", err, stderr.String())
	}
	// kcat leaves: on SIGTERM it closes its consumer, committing what it printed.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	if err := tl.waitFor(ctx, func(seen) bool { return len(tm.m.Assigned()) == partitions }); err != nil {
		t.Fatalf("the troupe member did not take kcat's partitions: %v", err)
	}
	produceEach(t, seeds, partitions, 25)
	if err := tl.waitFor(ctx, processedUpTo(partitions, 75)); err != nil {
		t.Fatalf("after kcat left: %v", err)
	}
	tm.close(t)
	tl.mu.Lock()
	tl.s.exactlyOnce(t, partitions, 75)
	kcatRead := 0
	for _, by := range tl.s {
		if by[0] == "kcat" {
			kcatRead++
		}
	}
	tl.mu.Unlock()
	if kcatRead == 0 {
		t.Error("kcat processed nothing: it never shared the group")
	}
	committedAt(t, seeds, g, partitions, 75)
}
