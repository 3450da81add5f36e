package cluster_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// quick is a client config whose group retries wait milliseconds, not seconds.
func quick(seeds []string) cluster.Config {
	return cluster.Config{Seeds: seeds, Broker: broker.Config{Backoff: supervisor.Backoff{Min: 2 * time.Millisecond, Max: 10 * time.Millisecond}}}
}

// countKey counts the requests of key the cluster receives, without answering them.
func countKey(kc *kfake.Cluster, key kmsg.Key) func() int {
	var n atomic.Int64
	kc.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		n.Add(1)
		return nil, nil, false
	})
	return func() int { return int(n.Load()) }
}

func commitAll(t *testing.T, c *cluster.Client, group string, member *cluster.GroupMember, offs ...cluster.OffsetCommit) []cluster.OffsetCommitResult {
	t.Helper()
	got, err := c.CommitOffsets(ctxT(t), group, member, offs...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(offs) {
		t.Fatalf("%d results for %d offsets", len(got), len(offs))
	}
	for i, r := range got {
		if r.OffsetCommit != offs[i] {
			t.Fatalf("result %d is for %+v, sent %+v", i, r.OffsetCommit, offs[i])
		}
	}
	return got
}

func fetchAll(t *testing.T, c *cluster.Client, iso cluster.Isolation, group string, parts ...cluster.TopicPartition) []cluster.CommittedOffset {
	t.Helper()
	got, err := c.FetchOffsets(ctxT(t), iso, group, nil, parts...)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if g.TopicPartition != parts[i] {
			t.Fatalf("answer %d is for %+v, asked %+v", i, g.TopicPartition, parts[i])
		}
	}
	return got
}

// TestGroupCoordinatorCachedAndRefound: the coordinator is the one kfake says, asked once
// and then cached; after the coordinators move, a commit answered NOT_COORDINATOR finds
// the new one and lands there.
func TestGroupCoordinatorCachedAndRefound(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
	c := open(t, quick(seeds))
	finds := countKey(kc, kmsg.FindCoordinator)
	n, err := c.GroupCoordinator(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	if n.ID != kc.CoordinatorFor("g") {
		t.Fatalf("coordinator %v, kfake says %d", n, kc.CoordinatorFor("g"))
	}
	if again, err := c.GroupCoordinator(ctxT(t), "g"); err != nil || again != n || finds() != 1 {
		t.Fatalf("second lookup %v %v after %d FindCoordinator requests", again, err, finds())
	}

	// Move the coordinators until this group's is elsewhere.
	for kc.CoordinatorFor("g") == n.ID {
		kc.RehashCoordinators()
	}
	commits := countKey(kc, kmsg.OffsetCommit)
	res := commitAll(t, c, "g", nil, cluster.OffsetCommit{Topic: "t", Partition: 1, Offset: 5})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if commits() != 2 || finds() != 2 {
		t.Fatalf("%d commits and %d lookups: want the refused one, one lookup, and the one that landed", commits(), finds())
	}
	if now, _ := c.GroupCoordinator(ctxT(t), "g"); now.ID != kc.CoordinatorFor("g") {
		t.Fatalf("cached %v, kfake says %d", now, kc.CoordinatorFor("g"))
	}
	if got := fetchAll(t, c, cluster.ReadUncommitted, "g", cluster.TopicPartition{Topic: "t", Partition: 1}); got[0].Offset != 5 {
		t.Fatalf("fetched %+v", got[0])
	}
}

// TestNoteCoordinator: a coordinator found by a lookup of the caller's own (a group
// member's) is the one GroupCoordinator answers, with no FindCoordinator of the client's;
// one it cannot use (no group, no address) is ignored; a commit refused by a noted
// coordinator that moved finds the new one as before.
func TestNoteCoordinator(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(1, "t"))
	c := open(t, quick(seeds))
	finds := countKey(kc, kmsg.FindCoordinator)
	snap, err := c.Refresh(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var noted broker.Node
	for _, n := range snap.Nodes() {
		if n.ID == kc.CoordinatorFor("g") {
			noted = n
		}
	}
	admin, err := c.Conn(noted, broker.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if admin.Versions() != nil {
		t.Fatal("the admin connection to the coordinator shook hands before anything used it")
	}
	c.NoteCoordinator("", noted)
	c.NoteCoordinator("g", broker.Node{ID: noted.ID})
	c.NoteCoordinator("g", noted)
	// Noting the coordinator warms the admin connection the offset requests will take.
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for admin.Versions() == nil {
		select {
		case <-deadline:
			t.Fatal("noting the coordinator did not open the admin connection to it")
		case <-tick.C:
		}
	}
	c.NoteCoordinator("g", noted) // warm already: nothing sent
	if got, err := c.GroupCoordinator(ctxT(t), "g"); err != nil || got != noted || finds() != 0 {
		t.Fatalf("GroupCoordinator %v %v after %d FindCoordinator requests; noted %v", got, err, finds(), noted)
	}
	for kc.CoordinatorFor("g") == noted.ID {
		kc.RehashCoordinators()
	}
	if res := commitAll(t, c, "g", nil, cluster.OffsetCommit{Topic: "t", Partition: 0, Offset: 3}); res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if now, _ := c.GroupCoordinator(ctxT(t), "g"); now.ID != kc.CoordinatorFor("g") || finds() != 1 {
		t.Fatalf("after the move: cached %v, kfake says %d, %d lookups", now, kc.CoordinatorFor("g"), finds())
	}
}

// TestCommitFetchEveryVersion commits offsets with leader epochs and metadata at every
// OffsetCommit version troupe speaks (capped by the broker) and reads them back with
// OffsetFetch at the matching version, and with franz-go's OffsetFetch as a witness.
func TestCommitFetchEveryVersion(t *testing.T) {
	for _, v := range []int16{10, 9, 8, 7, 6, 5, 2} {
		t.Run("v"+string(rune('0'+v/10))+string(rune('0'+v%10)), func(t *testing.T) {
			vs := kversion.Stable()
			vs.SetMaxKeyVersion(int16(kmsg.OffsetCommit), v)
			vs.SetMaxKeyVersion(int16(kmsg.OffsetFetch), v)
			if v < 4 {
				vs.SetMaxKeyVersion(int16(kmsg.FindCoordinator), 3)
			}
			_, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(3, "t", "u"), kfake.MaxVersions(vs))
			c := open(t, quick(seeds))
			offs := []cluster.OffsetCommit{
				cluster.OffsetCommit{Topic: "t", Partition: 0, Offset: 10, Metadata: "m0"}.WithLeaderEpoch(2),
				{Topic: "t", Partition: 2, Offset: 12}, // no epoch
				cluster.OffsetCommit{Topic: "u", Partition: 1, Offset: 31, Metadata: "u1"}.WithLeaderEpoch(0),
			}
			for _, r := range commitAll(t, c, "g", nil, offs...) {
				if r.Err != nil {
					t.Fatalf("%+v", r)
				}
			}
			parts := []cluster.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}, {Topic: "t", Partition: 2}, {Topic: "u", Partition: 1}}
			got := fetchAll(t, c, cluster.ReadCommitted, "g", parts...)
			wantEpoch := func(e int32) int32 {
				if v < 6 {
					return -1 // not sent below v6
				}
				return e
			}
			want := []cluster.CommittedOffset{
				{TopicPartition: parts[0], Offset: 10, LeaderEpoch: wantEpoch(2), Metadata: "m0"},
				{TopicPartition: parts[1], Offset: -1, LeaderEpoch: -1},
				{TopicPartition: parts[2], Offset: 12, LeaderEpoch: -1},
				{TopicPartition: parts[3], Offset: 31, LeaderEpoch: wantEpoch(0), Metadata: "u1"},
			}
			for i := range want {
				g := got[i]
				if g.Err != nil || g.Offset != want[i].Offset || g.Metadata != want[i].Metadata || (v >= 5 && g.LeaderEpoch != want[i].LeaderEpoch) {
					t.Fatalf("%s[%d]: got %+v, want %+v", parts[i].Topic, parts[i].Partition, g, want[i])
				}
			}

			// A witness: franz-go reads what troupe committed.
			req := kmsg.NewOffsetFetchRequest()
			req.Group = "g"
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic, rt.Partitions = "t", []int32{0}
			req.Topics = append(req.Topics, rt)
			coord, err := c.GroupCoordinator(ctxT(t), "g")
			if err != nil {
				t.Fatal(err)
			}
			resp := kafkatest.Admin(t, coord.Addr, &req).(*kmsg.OffsetFetchResponse)
			if off := resp.Topics[0].Partitions[0].Offset; off != 10 {
				t.Fatalf("franz-go reads t[0] at %d", off)
			}
		})
	}
}

// TestCommitCoordinatorErrorsRetried: COORDINATOR_LOAD_IN_PROGRESS is asked again of the
// same coordinator; NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE make the client find
// the coordinator again; a connection the broker drops mid-commit too.
func TestCommitCoordinatorErrorsRetried(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(2, "t"))
	c := open(t, quick(seeds))
	finds := countKey(kc, kmsg.FindCoordinator)
	off := cluster.OffsetCommit{Topic: "t", Partition: 0, Offset: 1}

	load := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "g", Err: kerr.CoordinatorLoadInProgress, Count: 3})
	if r := commitAll(t, c, "g", nil, off)[0]; r.Err != nil {
		t.Fatal(r.Err)
	}
	if load.Hits() != 3 || finds() != 1 {
		t.Fatalf("%d loading answers, %d lookups: want 3 and 1 (the same coordinator asked again)", load.Hits(), finds())
	}

	for i, code := range []*kerr.Error{kerr.NotCoordinator, kerr.CoordinatorNotAvailable} {
		f := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "g", Err: code, Count: 2})
		off.Offset++
		if r := commitAll(t, c, "g", nil, off)[0]; r.Err != nil {
			t.Fatalf("%v: %v", code, r.Err)
		}
		if f.Hits() != 2 || finds() != 1+2*(i+1) {
			t.Fatalf("%v: %d faulted, %d lookups in all", code, f.Hits(), finds())
		}
	}

	// The coordinator drops the connection on the next commit.
	dropped := make(chan struct{}, 1)
	kc.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		dropped <- struct{}{}
		return nil, errors.New("dropped"), true
	})
	off.Offset++
	if r := commitAll(t, c, "g", nil, off)[0]; r.Err != nil {
		t.Fatalf("after a dropped connection: %v", r.Err)
	}
	<-dropped
	if got := fetchAll(t, c, cluster.ReadUncommitted, "g", cluster.TopicPartition{Topic: "t"}); got[0].Offset != off.Offset {
		t.Fatalf("committed %d, want %d", got[0].Offset, off.Offset)
	}
}

// TestCommitPartitionErrors: each partition gets its own answer, matchable with
// errors.Is; a commit under a generation the group does not have is refused on every
// partition (ILLEGAL_GENERATION) and not retried.
func TestCommitPartitionErrors(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(3, "t"))
	c := open(t, quick(seeds))
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Topic: "t", Partitions: []int32{1}, Err: kerr.OffsetMetadataTooLarge})
	offs := []cluster.OffsetCommit{{Topic: "t", Partition: 0, Offset: 3}, {Topic: "t", Partition: 1, Offset: 4}, {Topic: "t", Partition: 2, Offset: 5}, {Topic: "t", Partition: 7, Offset: 1}}
	got := commitAll(t, c, "g", nil, offs...)
	if got[0].Err != nil || got[2].Err != nil {
		t.Fatalf("healthy partitions: %v, %v", got[0].Err, got[2].Err)
	}
	if !errors.Is(got[1].Err, errcode.OffsetMetadataTooLarge) {
		t.Fatalf("t[1]: %v", got[1].Err)
	}
	if !errors.Is(got[3].Err, errcode.UnknownTopicOrPartition) {
		t.Fatalf("t[7]: %v", got[3].Err)
	}

	commits := countKey(kc, kmsg.OffsetCommit)
	got = commitAll(t, c, "g", &cluster.GroupMember{Generation: 4, MemberID: "gone"}, offs[0])
	if !errors.Is(got[0].Err, errcode.IllegalGeneration) || commits() != 1 {
		t.Fatalf("a stale generation: %v after %d requests", got[0].Err, commits())
	}
}

// TestGroupAuthorizationNotRetried: a refused group fails at once, as permanent.
func TestGroupAuthorizationNotRetried(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := open(t, quick(seeds))
	f := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.FindCoordinator}, Group: "g", Err: kerr.GroupAuthorizationFailed, Count: -1})
	_, err := c.GroupCoordinator(ctxT(t), "g")
	if !errors.Is(err, errcode.GroupAuthorizationFailed) || !errors.Is(err, broker.ErrPermanent) || f.Hits() != 1 {
		t.Fatalf("%v after %d requests", err, f.Hits())
	}
	got, err := c.CommitOffsets(ctxT(t), "g", nil, cluster.OffsetCommit{Topic: "t", Offset: 1})
	if err != nil || !errors.Is(got[0].Err, broker.ErrPermanent) {
		t.Fatalf("commit: %v %v", err, got)
	}
	f.Remove()

	f = kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "g", Err: kerr.GroupAuthorizationFailed, Count: -1})
	fetched := fetchAll(t, c, cluster.ReadUncommitted, "g", cluster.TopicPartition{Topic: "t"})
	if !errors.Is(fetched[0].Err, errcode.GroupAuthorizationFailed) || !errors.Is(fetched[0].Err, broker.ErrPermanent) || f.Hits() != 1 {
		t.Fatalf("fetch: %v after %d requests", fetched[0].Err, f.Hits())
	}
}

// TestFindCoordinatorRetriesThenGivesUp: COORDINATOR_NOT_AVAILABLE is asked again; an
// answer that never changes ends as ErrUnavailable wrapping it; a context that ends
// first ends the call with its cause.
func TestFindCoordinatorRetriesThenGivesUp(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(2))
	c := open(t, quick(seeds))
	f := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.FindCoordinator}, Group: "a", Err: kerr.CoordinatorNotAvailable, Count: 3})
	if _, err := c.GroupCoordinator(ctxT(t), "a"); err != nil || f.Hits() != 3 {
		t.Fatalf("%v after %d faults", err, f.Hits())
	}
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.FindCoordinator}, Group: "b", Err: kerr.CoordinatorLoadInProgress, Count: -1})
	_, err := c.GroupCoordinator(ctxT(t), "b")
	if !errors.Is(err, cluster.ErrUnavailable) || !errors.Is(err, errcode.CoordinatorLoadInProgress) {
		t.Fatalf("never available: %v", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("caller gave up")
	cancel(cause)
	if _, err := c.GroupCoordinator(ctx, "b"); !errors.Is(err, cause) {
		t.Fatalf("ended context: %v", err)
	}
	if _, err := c.GroupCoordinator(ctxT(t), ""); !errors.Is(err, cluster.ErrInvalidQuery) {
		t.Fatalf("empty group: %v", err)
	}
}

// TestFetchOffsetsUnstableRetried: under ReadCommitted a partition answered
// UNSTABLE_OFFSET_COMMIT is asked again until it is stable; a group nobody committed for
// has no offsets.
func TestFetchOffsetsUnstableRetried(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"))
	c := open(t, quick(seeds))
	if got := fetchAll(t, c, cluster.ReadCommitted, "new", cluster.TopicPartition{Topic: "t"}); got[0].Offset != -1 || got[0].Err != nil {
		t.Fatalf("a group without commits: %+v", got[0])
	}
	commitAll(t, c, "g", nil, cluster.OffsetCommit{Topic: "t", Partition: 1, Offset: 8})
	f := kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Topic: "t", Partitions: []int32{1}, Err: kerr.UnstableOffsetCommit, Count: 2})
	got := fetchAll(t, c, cluster.ReadCommitted, "g", cluster.TopicPartition{Topic: "t", Partition: 0}, cluster.TopicPartition{Topic: "t", Partition: 1})
	if got[0].Offset != -1 || got[1].Offset != 8 || got[1].Err != nil || f.Hits() != 2 {
		t.Fatalf("%+v after %d unstable answers", got, f.Hits())
	}
}

// TestGroupOffsetsInvalidInput: what cannot be sent is refused as a whole.
func TestGroupOffsetsInvalidInput(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := open(t, quick(seeds))
	for _, offs := range [][]cluster.OffsetCommit{
		{{Topic: "", Offset: 1}}, {{Topic: "t", Partition: -1}}, {{Topic: "t", Offset: -1}},
		{{Topic: "t", Offset: 1}, {Topic: "t", Offset: 2}},
	} {
		if _, err := c.CommitOffsets(ctxT(t), "g", nil, offs...); !errors.Is(err, cluster.ErrInvalidQuery) {
			t.Fatalf("%+v: %v", offs, err)
		}
	}
	if _, err := c.CommitOffsets(ctxT(t), "", nil, cluster.OffsetCommit{Topic: "t"}); !errors.Is(err, cluster.ErrInvalidQuery) {
		t.Fatalf("empty group: %v", err)
	}
	for _, parts := range [][]cluster.TopicPartition{{{Topic: ""}}, {{Topic: "t", Partition: -2}}, {{Topic: "t"}, {Topic: "t"}}} {
		if _, err := c.FetchOffsets(ctxT(t), cluster.ReadUncommitted, "g", nil, parts...); !errors.Is(err, cluster.ErrInvalidQuery) {
			t.Fatalf("%+v: %v", parts, err)
		}
	}
	if _, err := c.FetchOffsets(ctxT(t), 3, "g", nil, cluster.TopicPartition{Topic: "t"}); !errors.Is(err, cluster.ErrInvalidQuery) {
		t.Fatalf("isolation 3: %v", err)
	}
}

// TestCommitResendsOnlyWhatTheCoordinatorRefused: an answer in which one partition says
// NOT_COORDINATOR and the other was stored makes the client find the coordinator again
// and resend that one partition alone.
func TestCommitResendsOnlyWhatTheCoordinatorRefused(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"))
	c := open(t, quick(seeds))
	finds := countKey(kc, kmsg.FindCoordinator)
	sent := make(chan []int32, 4)
	first := true
	kc.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		r := req.(*kmsg.OffsetCommitRequest)
		var parts []int32
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, p.Partition)
			}
		}
		sent <- parts
		if !first {
			return nil, nil, false
		}
		first = false
		// Store partition 0 for real, then answer partition 1 NOT_COORDINATOR.
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				if p.Partition == 1 {
					rp.ErrorCode = kerr.NotCoordinator.Code
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	got := commitAll(t, c, "g", nil, cluster.OffsetCommit{Topic: "t", Partition: 0, Offset: 3}, cluster.OffsetCommit{Topic: "t", Partition: 1, Offset: 4})
	if got[0].Err != nil || got[1].Err != nil {
		t.Fatalf("%v, %v", got[0].Err, got[1].Err)
	}
	if a, b := <-sent, <-sent; len(a) != 2 || len(b) != 1 || b[0] != 1 {
		t.Fatalf("sent %v then %v: want both, then partition 1 alone", a, b)
	}
	if finds() != 2 {
		t.Fatalf("%d lookups: want the first and one after NOT_COORDINATOR", finds())
	}
}

// TestGroupCoordinatorsBatchedFromV4: from FindCoordinator v4 the groups not cached are
// asked in one request; below v4, one request per group. Either way each group gets the
// coordinator kfake says, and the cached ones cost nothing.
func TestGroupCoordinatorsBatchedFromV4(t *testing.T) {
	for _, c := range []struct {
		max      int16
		requests int
	}{{6, 1}, {4, 1}, {3, 3}} {
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(int16(kmsg.FindCoordinator), c.max)
		kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.MaxVersions(vs))
		cl := open(t, quick(seeds))
		if _, err := cl.GroupCoordinator(ctxT(t), "cached"); err != nil {
			t.Fatal(err)
		}
		finds := countKey(kc, kmsg.FindCoordinator)
		groups := []string{"a", "cached", "b", "c", "a"}
		got, err := cl.GroupCoordinators(ctxT(t), groups...)
		if err != nil {
			t.Fatal(err)
		}
		for i, g := range got {
			if g.Group != groups[i] || g.Err != nil || g.Node.ID != kc.CoordinatorFor(groups[i]) {
				t.Fatalf("v%d: %+v, kfake says %d", c.max, g, kc.CoordinatorFor(groups[i]))
			}
		}
		if finds() != c.requests {
			t.Fatalf("v%d: %d FindCoordinator requests, want %d", c.max, finds(), c.requests)
		}
	}
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	cl := open(t, quick(seeds))
	if _, err := cl.GroupCoordinators(ctxT(t), "a", ""); !errors.Is(err, cluster.ErrInvalidQuery) {
		t.Fatalf("empty group: %v", err)
	}
	// One refused group in a batch fails alone.
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.FindCoordinator}, Group: "denied", Err: kerr.GroupAuthorizationFailed, Count: -1})
	got, err := cl.GroupCoordinators(ctxT(t), "ok", "denied")
	if err != nil || got[0].Err != nil || !errors.Is(got[1].Err, broker.ErrPermanent) {
		t.Fatalf("%v %+v", err, got)
	}
}

// TestFetchGroupsOffsetsBatched: groups that share a coordinator are asked in one
// OffsetFetch from v8, one by one below; a group whose answer must be asked again (its
// coordinator says NOT_COORDINATOR) is asked alone, and every group gets its own offsets.
func TestFetchGroupsOffsetsBatched(t *testing.T) {
	for _, c := range []struct {
		max   int16
		fault bool
	}{{10, false}, {8, false}, {7, false}, {10, true}} {
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(int16(kmsg.OffsetFetch), c.max)
		kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"), kfake.MaxVersions(vs))
		cl := open(t, quick(seeds))
		groups := []string{"a", "b", "c"}
		var queries []cluster.GroupOffsetsQuery
		for i, g := range groups {
			commitAll(t, cl, g, nil, cluster.OffsetCommit{Topic: "t", Partition: 1, Offset: int64(10 + i)})
			queries = append(queries, cluster.GroupOffsetsQuery{Group: g, Partitions: []cluster.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}})
		}
		queries = append(queries, cluster.GroupOffsetsQuery{Group: "none", Partitions: []cluster.TopicPartition{{Topic: "t", Partition: 1}}})
		if c.fault {
			kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "b", Err: kerr.NotCoordinator})
		}
		fetches := countKey(kc, kmsg.OffsetFetch)
		got, err := cl.FetchGroupsOffsets(ctxT(t), cluster.ReadCommitted, queries...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range groups {
			if g := got[i]; len(g) != 2 || g[0].Offset != -1 || g[0].Err != nil || g[1].Offset != int64(10+i) || g[1].Err != nil || g[1].TopicPartition != queries[i].Partitions[1] {
				t.Fatalf("v%d fault %v: group %s: %+v", c.max, c.fault, groups[i], g)
			}
		}
		if g := got[3]; g[0].Offset != -1 || g[0].Err != nil {
			t.Fatalf("v%d: a group without commits: %+v", c.max, g)
		}
		// The batch holds a, b, c and none; below v8 each is asked alone; a faulted b is
		// asked again alone (after finding its coordinator).
		want := map[bool]int{true: 2, false: 1}[c.fault]
		if c.max < 8 {
			want = 4
		}
		if fetches() != want {
			t.Fatalf("v%d fault %v: %d OffsetFetch requests, want %d", c.max, c.fault, fetches(), want)
		}
	}
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	cl := open(t, quick(seeds))
	for _, qs := range [][]cluster.GroupOffsetsQuery{{{Group: ""}}, {{Group: "a"}, {Group: "a"}}, {{Group: "a", Partitions: []cluster.TopicPartition{{Topic: ""}}}}} {
		if _, err := cl.FetchGroupsOffsets(ctxT(t), cluster.ReadUncommitted, qs...); !errors.Is(err, cluster.ErrInvalidQuery) {
			t.Fatalf("%+v: %v", qs, err)
		}
	}
}

// TestFetchOffsetsAsAConsumerGroupMember: a member of a KIP-848 consumer group fetches
// its group's offsets as itself (OffsetFetch v9+: member ID and epoch), which the
// coordinator answers when they are the member's current ones, and refuses for every
// partition, without a resend, with STALE_MEMBER_EPOCH for another epoch and
// UNKNOWN_MEMBER_ID for a member it does not know; an admin's fetch (nil) is answered.
func TestFetchOffsetsAsAConsumerGroupMember(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	c := open(t, quick(seeds))
	commitAll(t, c, "g848", nil, cluster.OffsetCommit{Topic: "t", Partition: 1, Offset: 7})
	// One member joins the consumer group (epoch 0 in, its epoch out).
	kg, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer kg.Close()
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.MemberEpoch, hb.RebalanceTimeoutMillis = "g848", "member-1-0123456789abc", 0, 30000
	hb.SubscribedTopicNames, hb.Topics = []string{"t"}, []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	resp, err := hb.RequestWith(ctxT(t), kg)
	if err != nil || resp.ErrorCode != 0 || resp.MemberEpoch < 1 {
		t.Fatalf("join: %+v, %v", resp, err)
	}
	parts := []cluster.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}
	fetches := countKey(kc, kmsg.OffsetFetch)
	for _, tc := range []struct {
		name   string
		member *cluster.GroupMember
		want   error
	}{
		{"the member", &cluster.GroupMember{MemberID: hb.MemberID, Generation: resp.MemberEpoch}, nil},
		{"an admin", nil, nil},
		{"a stale epoch", &cluster.GroupMember{MemberID: hb.MemberID, Generation: resp.MemberEpoch + 1}, errcode.StaleMemberEpoch},
		{"an unknown member", &cluster.GroupMember{MemberID: "nobody", Generation: resp.MemberEpoch}, errcode.UnknownMemberID},
	} {
		before := fetches()
		got, err := c.FetchOffsets(ctxT(t), cluster.ReadCommitted, "g848", tc.member, parts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i, g := range got {
			switch {
			case tc.want != nil && !errors.Is(g.Err, tc.want):
				t.Errorf("%s: partition %d: %v, want %v", tc.name, i, g.Err, tc.want)
			case tc.want == nil && (g.Err != nil || g.Offset != map[int]int64{0: -1, 1: 7}[i]):
				t.Errorf("%s: partition %d: %+v, want offset %d", tc.name, i, g, map[int]int64{0: -1, 1: 7}[i])
			}
		}
		if n := fetches() - before; n != 1 {
			t.Errorf("%s: %d OffsetFetch requests, want 1 (no resend)", tc.name, n)
		}
	}
}
