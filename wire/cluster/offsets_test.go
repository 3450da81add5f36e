package cluster_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// writeAt writes n records to topic/partition with franz-go, stamped at ts (if not zero).
func writeAt(t *testing.T, cl *kgo.Client, topic string, partition int32, n int, ts time.Time) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte("v"), Timestamp: ts}
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func kgoClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// list asks at for every partition of topic, and fails the test on any error.
func list(t *testing.T, c *cluster.Client, iso cluster.Isolation, topic string, partitions int32, at int64) []int64 {
	t.Helper()
	var qs []cluster.OffsetQuery
	for p := range partitions {
		qs = append(qs, cluster.OffsetQuery{Topic: topic, Partition: p, At: at})
	}
	got, err := c.ListOffsets(ctxT(t), iso, qs...)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(got))
	for i, g := range got {
		if g.Err != nil {
			t.Fatalf("%s[%d] at %d: %v", g.Topic, g.Partition, g.At, g.Err)
		}
		if g.OffsetQuery != qs[i] {
			t.Fatalf("answer %d is for %+v, asked %+v", i, g.OffsetQuery, qs[i])
		}
		out[i] = g.Offset
	}
	return out
}

// TestListOffsetsEndsAndTimes asks the oldest and newest offsets of every partition of a
// topic spread over three brokers, empty and after writes, and the offsets by timestamp.
func TestListOffsetsEndsAndTimes(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(6, "t"))
	c := open(t, cluster.Config{Seeds: seeds})
	snap, err := c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]int{}
	for p := range int32(6) {
		b, _, err := snap.Leader("t", p)
		if err != nil {
			t.Fatal(err)
		}
		leaders[b.ID] = 1
	}
	// One call for six partitions: one request per leader.
	asked := make(chan int32, 16)
	kc.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case asked <- kc.CurrentNode():
			kc.KeepControl()
		default: // enough seen: stop watching rather than block the broker
		}
		return nil, nil, false
	})
	list(t, c, cluster.ReadUncommitted, "t", 6, cluster.Newest)
	nodes := map[int32]int{}
	for len(asked) > 0 {
		nodes[<-asked]++
	}
	if !maps.Equal(nodes, leaders) {
		t.Fatalf("requests per broker %v, want one to each leader %v", nodes, leaders)
	}
	for _, at := range []int64{cluster.Oldest, cluster.Newest} {
		for p, off := range list(t, c, cluster.ReadUncommitted, "t", 6, at) {
			if off != 0 {
				t.Fatalf("empty partition %d at %d: offset %d", p, at, off)
			}
		}
	}
	cl := kgoClient(t, seeds)
	base := time.UnixMilli(1_700_000_000_000)
	for p := range int32(6) {
		// Partition p holds p+1 records at base, then p+1 records an hour later.
		writeAt(t, cl, "t", p, int(p)+1, base)
		writeAt(t, cl, "t", p, int(p)+1, base.Add(time.Hour))
	}
	oldest := list(t, c, cluster.ReadUncommitted, "t", 6, cluster.Oldest)
	newest := list(t, c, cluster.ReadUncommitted, "t", 6, cluster.Newest)
	lso := list(t, c, cluster.ReadCommitted, "t", 6, cluster.Newest)
	atBase := list(t, c, cluster.ReadUncommitted, "t", 6, cluster.AtTime(base))
	later := list(t, c, cluster.ReadUncommitted, "t", 6, cluster.AtTime(base.Add(time.Minute)))
	after := list(t, c, cluster.ReadUncommitted, "t", 6, cluster.AtTime(base.Add(2*time.Hour)))
	for p := range 6 {
		n := int64(p + 1)
		if oldest[p] != 0 || newest[p] != 2*n || lso[p] != 2*n {
			t.Errorf("partition %d: oldest %d newest %d stable %d, want 0 %d %d", p, oldest[p], newest[p], lso[p], 2*n, 2*n)
		}
		if atBase[p] != 0 || later[p] != n || after[p] != -1 {
			t.Errorf("partition %d by time: %d %d %d, want 0 %d -1", p, atBase[p], later[p], after[p], n)
		}
	}
}

// TestListOffsetsAfterDeleteRecords: deleting records moves the oldest offset.
func TestListOffsetsAfterDeleteRecords(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := open(t, cluster.Config{Seeds: seeds})
	writeAt(t, kgoClient(t, seeds), "t", 0, 10, time.Time{})
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 4
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := kafkatest.Admin(t, seeds[0], req).(*kmsg.DeleteRecordsResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("delete records: %v", errcode.ForCode(code))
	}
	if o := list(t, c, cluster.ReadUncommitted, "t", 1, cluster.Oldest); o[0] != 4 {
		t.Fatalf("oldest %d after deleting up to 4", o[0])
	}
	if o := list(t, c, cluster.ReadUncommitted, "t", 1, cluster.Newest); o[0] != 10 {
		t.Fatalf("newest %d", o[0])
	}
}

// TestListOffsetsLastStable: under ReadCommitted, newest is the last stable offset, which
// stays at the first record of an open transaction until it commits.
func TestListOffsetsLastStable(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := open(t, cluster.Config{Seeds: seeds})
	writeAt(t, kgoClient(t, seeds), "t", 0, 3, time.Time{})
	tx := kgoClient(t, seeds, kgo.TransactionalID("troupe-offsets"))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	writeAt(t, tx, "t", 0, 5, time.Time{})
	if hwm := list(t, c, cluster.ReadUncommitted, "t", 1, cluster.Newest); hwm[0] != 8 {
		t.Fatalf("high-water mark %d in the open transaction", hwm[0])
	}
	if lso := list(t, c, cluster.ReadCommitted, "t", 1, cluster.Newest); lso[0] != 3 {
		t.Fatalf("last stable offset %d with a transaction open from 3", lso[0])
	}
	if err := tx.EndTransaction(ctxT(t), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// The commit marker takes offset 8.
	if lso := list(t, c, cluster.ReadCommitted, "t", 1, cluster.Newest); lso[0] != 9 {
		t.Fatalf("last stable offset %d after the commit", lso[0])
	}
}

// TestListOffsetsUnknownTopic: a topic or partition that does not exist fails its own
// query with UNKNOWN_TOPIC_OR_PARTITION; the other queries are answered.
func TestListOffsetsUnknownTopic(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"))
	c := open(t, cluster.Config{Seeds: seeds, MinRefreshInterval: time.Millisecond, TopicRetries: 1})
	got, err := c.ListOffsets(ctxT(t), cluster.ReadUncommitted,
		cluster.OffsetQuery{Topic: "t", Partition: 1, At: cluster.Newest},
		cluster.OffsetQuery{Topic: "missing", Partition: 0, At: cluster.Newest},
		cluster.OffsetQuery{Topic: "t", Partition: 7, At: cluster.Oldest},
	)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Err != nil || got[0].Offset != 0 {
		t.Fatalf("known partition: %+v", got[0])
	}
	for _, g := range got[1:] {
		if !errors.Is(g.Err, errcode.UnknownTopicOrPartition) {
			t.Fatalf("%s[%d]: %v, want UNKNOWN_TOPIC_OR_PARTITION", g.Topic, g.Partition, g.Err)
		}
	}
}

// TestListOffsetsInvalidQuery: queries that cannot be sent are refused as a whole.
func TestListOffsetsInvalidQuery(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c := open(t, cluster.Config{Seeds: seeds})
	for _, q := range []cluster.OffsetQuery{{Topic: ""}, {Topic: "t", Partition: -1}, {Topic: "t", At: -3}} {
		if _, err := c.ListOffsets(ctxT(t), cluster.ReadUncommitted, q); !errors.Is(err, cluster.ErrInvalidQuery) {
			t.Fatalf("%+v: %v", q, err)
		}
	}
	if _, err := c.ListOffsets(ctxT(t), 2, cluster.OffsetQuery{Topic: "t"}); !errors.Is(err, cluster.ErrInvalidQuery) {
		t.Fatalf("isolation 2: %v", err)
	}
}

// TestListOffsetsLeaderMoved: a partition whose leader moved after the client's snapshot
// is asked at the old leader (NOT_LEADER_OR_FOLLOWER), then, after a refresh, at the new.
func TestListOffsetsLeaderMoved(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(1, "t"))
	c := open(t, cluster.Config{Seeds: seeds, MinRefreshInterval: time.Millisecond})
	writeAt(t, kgoClient(t, seeds), "t", 0, 4, time.Time{})
	snap, err := c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := snap.Leader("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	to := (old.ID + 1) % 3
	// Count the ListOffsets requests each broker answers.
	asked := make(chan int32, 16)
	kc.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case asked <- kc.CurrentNode():
			kc.KeepControl()
		default: // enough seen: stop watching rather than block the broker
		}
		return nil, nil, false
	})
	if err := kc.MoveTopicPartition("t", 0, to); err != nil {
		t.Fatal(err)
	}
	if o := list(t, c, cluster.ReadUncommitted, "t", 1, cluster.Newest); o[0] != 4 {
		t.Fatalf("newest %d after the move", o[0])
	}
	if first, second := <-asked, <-asked; first != old.ID || second != to {
		t.Fatalf("asked node %d then %d; the leader moved from %d to %d", first, second, old.ID, to)
	}
}

// TestListOffsetsContextEnds: a broker that never answers holds a query only until the
// context ends, and the query fails with the context's error.
func TestListOffsetsContextEnds(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	// The connections' own deadline is far away: only the context can end the wait.
	c := open(t, cluster.Config{Seeds: seeds, Broker: broker.Config{RequestTimeout: time.Hour}})
	if _, err := c.Refresh(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	kc.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		return nil, nil, true // no answer
	})
	ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
	defer cancel()
	done := make(chan []cluster.ListedOffset, 1)
	go func() {
		got, err := c.ListOffsets(ctx, cluster.ReadUncommitted, cluster.OffsetQuery{Topic: "t", At: cluster.Newest})
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	select {
	case got := <-done:
		if got != nil && !errors.Is(got[0].Err, context.DeadlineExceeded) {
			t.Fatalf("%v, want the context's deadline", got[0].Err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ListOffsets still waiting 20s after its context ended")
	}
}
