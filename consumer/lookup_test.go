package consumer

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
)

// TestLookupRequestsAndAnswers drives newLookup and lookup.answers without a network:
// one request names every member, grouped by topic, with the epochs each was asked
// under; the answers are filed per member, whatever the response's order; a partition's
// error code is that member's error alone; a partition the response leaves out is a
// protocol error; a failed call fails every member.
func TestLookupRequestsAndAnswers(t *testing.T) {
	node := broker.Node{ID: 2, Addr: "b:9092"}
	members := []lookupMember{
		{id: 1, a: About{"a", 0}, q: query{kind: lookEpoch, node: node, epoch: 4, last: 1}},
		{id: 2, a: About{"b", 3}, q: query{kind: lookEpoch, node: node, epoch: 5, last: 2}},
		{id: 3, a: About{"a", 1}, q: query{kind: lookEpoch, node: node, epoch: 4, last: 3}},
		{id: 4, a: About{"a", 2}, q: query{kind: lookEpoch, node: node, epoch: 4, last: 3}},
	}
	deadline := time.Now().Add(time.Second)
	l := newLookup(members[0].q.key(), members, ReadUncommitted, deadline)
	req := l.call.Request.(*api.OffsetForLeaderEpochRequest)
	if len(req.Topics) != 2 || req.Topics[0].Topic != "a" || len(req.Topics[0].Partitions) != 3 || req.Topics[1].Topic != "b" ||
		req.Topics[1].Partitions[0].Partition != 3 || req.Topics[1].Partitions[0].CurrentLeaderEpoch != 5 || req.Topics[1].Partitions[0].LeaderEpoch != 2 ||
		req.ReplicaID != -1 || !l.call.Deadline.Equal(deadline) {
		t.Fatalf("request %+v", req)
	}
	resp := &api.OffsetForLeaderEpochResponse{Topics: []api.OffsetForLeaderEpochResponseOffsetForLeaderTopicResult{
		{Topic: "b", Partitions: []api.OffsetForLeaderEpochResponseEpochEndOffset{{Partition: 3, LeaderEpoch: 2, EndOffset: 70}}},
		{Topic: "a", Partitions: []api.OffsetForLeaderEpochResponseEpochEndOffset{
			{Partition: 1, ErrorCode: errcode.FencedLeaderEpoch.Code},
			{Partition: 0, LeaderEpoch: 1, EndOffset: 10},
		}},
	}}
	l.call.Response = resp
	got := l.answers()
	if got[0].off != 10 || got[0].epoch != 1 || got[0].err != nil || got[0].q != members[0].q ||
		got[1].off != 70 || got[1].epoch != 2 || got[1].err != nil ||
		!errors.Is(got[2].err, errcode.FencedLeaderEpoch) ||
		!errors.Is(got[3].err, broker.ErrProtocol) {
		t.Fatalf("answers %+v", got)
	}
	l.call.Err = &broker.Error{Broker: "b", Err: broker.ErrNetwork}
	for i, a := range l.answers() {
		if !errors.Is(a.err, broker.ErrNetwork) {
			t.Fatalf("answer %d after a failed call: %+v", i, a)
		}
	}

	list := []lookupMember{
		{id: 5, a: About{"a", 0}, q: query{kind: lookList, node: node, epoch: 4, at: listOldest}},
		{id: 6, a: About{"a", 1}, q: query{kind: lookList, node: node, epoch: 4, at: 1234}},
	}
	l = newLookup(list[0].q.key(), list, ReadCommitted, deadline)
	lreq := l.call.Request.(*api.ListOffsetsRequest)
	if len(lreq.Topics) != 1 || len(lreq.Topics[0].Partitions) != 2 || lreq.IsolationLevel != 1 || lreq.ReplicaID != -1 ||
		lreq.Topics[0].Partitions[1].Timestamp != 1234 || lreq.Topics[0].Partitions[0].CurrentLeaderEpoch != 4 || lreq.TimeoutMs <= 0 {
		t.Fatalf("request %+v", lreq)
	}
	l.call.Response = &api.ListOffsetsResponse{Topics: []api.ListOffsetsResponseTopicResponse{{Name: "a", Partitions: []api.ListOffsetsResponsePartitionResponse{
		{PartitionIndex: 1, Offset: -1, LeaderEpoch: -1}, {PartitionIndex: 0, Offset: 3, LeaderEpoch: 4},
	}}}}
	if got := l.answers(); got[0].off != 3 || got[0].epoch != 4 || got[1].off != -1 || got[0].err != nil || got[1].err != nil {
		t.Fatalf("answers %+v", got)
	}

	meta := newLookup(query{kind: lookMetadata}.key(), []lookupMember{{id: 7, a: About{"x", 0}}, {id: 8, a: About{"x", 1}}, {id: 9, a: About{"y", 0}}}, ReadUncommitted, deadline)
	if !slices.Equal(meta.topics, []string{"x", "y"}) {
		t.Fatalf("metadata topics %v", meta.topics)
	}
	meta.err = errors.New("no")
	if got := meta.answers(); got[2].err != meta.err {
		t.Fatalf("metadata answers %+v", got)
	}
}

// requestLog records, per broker, the partitions of each request of one kind that kfake
// receives.
type requestLog struct {
	mu   sync.Mutex
	reqs map[int32][][]int32
}

func (l *requestLog) add(node int32, parts []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reqs == nil {
		l.reqs = make(map[int32][][]int32)
	}
	l.reqs[node] = append(l.reqs[node], parts)
}

// of returns the requests node received, and every partition they named, sorted.
func (l *requestLog) of(node int32) ([][]int32, []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []int32
	for _, r := range l.reqs[node] {
		all = append(all, r...)
	}
	slices.Sort(all)
	return slices.Clone(l.reqs[node]), all
}

// TestReaderValidatesStartsTogether: a reader given 20 partitions at once with committed
// starts from an earlier leader epoch validates them with one OffsetForLeaderEpoch
// request per leader (Add hands them to the dispatcher in one batch), and one leader's
// slow answer does not hold back the partitions of the other. The old dispatcher asked
// for one partition at a time and waited for each answer.
func TestReaderValidatesStartsTogether(t *testing.T) {
	const n = 20
	kc, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(n, "t"))
	cl := kgoClient(t, seeds)
	for p := range int32(n) {
		produceWith(t, cl, "t", p, 0, 10)
	}
	leaders := map[int32][]int32{} // node -> partitions
	for p := range int32(n) {
		to := 1 - kc.LeaderFor("t", p)
		if err := kc.MoveTopicPartition("t", p, to); err != nil {
			t.Fatal(err)
		}
		leaders[to] = append(leaders[to], p)
	}
	for p := range int32(n) {
		produceWith(t, cl, "t", p, 10, 5) // in epoch 1: epoch 0 ends at 10
	}
	if len(leaders[0]) == 0 || len(leaders[1]) == 0 {
		t.Fatalf("leaders %v: want both brokers to lead some", leaders)
	}

	var log requestLog
	release := map[int32]chan struct{}{0: make(chan struct{}), 1: make(chan struct{})}
	kc.ControlKey(int16(kmsg.OffsetForLeaderEpoch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		node := kc.CurrentNode()
		var parts []int32
		for _, rt := range req.(*kmsg.OffsetForLeaderEpochRequest).Topics {
			for _, rp := range rt.Partitions {
				parts = append(parts, rp.Partition)
			}
		}
		log.add(node, parts)
		if ch := release[node]; ch != nil {
			kc.SleepControl(func() { <-ch })
		}
		return nil, nil, false // kfake answers from its log
	})
	defer func() { // a failed test must not leave kfake asleep
		for _, ch := range release {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	}()

	c := newConsumer(t, testConfig(seeds, newRecorder()))
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]About, n)
	for p := range parts {
		parts[p] = About{Topic: "t", Partition: int32(p)}
	}
	if err := r.Add(ctxT(t), AtEpoch(5, 0), parts...); err != nil {
		t.Fatal(err)
	}
	// Every partition is in the dispatcher's hands now: broker 1 may answer. Broker 0
	// holds its answer until broker 1's partitions have all been read.
	close(release[1])
	check := newReaderCheck(t)
	for _, a := range parts {
		check.next[a] = 5
	}
	want := func(node int32) map[int32]int {
		m := map[int32]int{}
		for _, p := range leaders[node] {
			m[p] = 10 // 5..14
		}
		return m
	}
	readAll := func(node int32) {
		t.Helper()
		left := want(node)
		ctx := ctxT(t)
		for len(left) > 0 {
			bs, err := r.Poll(ctx)
			if err != nil {
				t.Fatalf("Poll, still to read of broker %d's partitions %v: %v", node, left, err)
			}
			for _, b := range bs {
				check.batch(b)
				if len(b.Records) > 0 && b.Records[0].Offset < 5 {
					t.Fatalf("%s[%d] read from %d, before the start", b.Topic, b.Partition, b.Records[0].Offset)
				}
				if _, ok := left[b.Partition]; !ok {
					t.Fatalf("%s[%d]: records of a partition not expected yet (%d records)", b.Topic, b.Partition, len(b.Records))
				}
				if left[b.Partition] -= len(b.Records); left[b.Partition] <= 0 {
					delete(left, b.Partition)
				}
			}
		}
	}
	readAll(1)
	close(release[0])
	readAll(0)

	for node, ps := range leaders {
		reqs, asked := log.of(node)
		slices.Sort(ps)
		if len(reqs) != 1 || !slices.Equal(asked, ps) {
			t.Errorf("broker %d leads %v; OffsetForLeaderEpoch requests %v: want one, naming each partition once", node, ps, reqs)
		}
	}
}

// TestReaderResetsTogether: partitions whose positions are all out of range are reset
// with one ListOffsets request per leader once they are handed back, not one each.
func TestReaderResetsTogether(t *testing.T) {
	const n = 20
	kc, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(n, "t"))
	cl := kgoClient(t, seeds)
	for p := range int32(n) {
		produceWith(t, cl, "t", p, 0, 10)
	}
	var log requestLog
	release := make(chan struct{})
	kc.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		var parts []int32
		for _, rt := range req.(*kmsg.ListOffsetsRequest).Topics {
			for _, rp := range rt.Partitions {
				parts = append(parts, rp.Partition)
			}
		}
		log.add(kc.CurrentNode(), parts)
		kc.SleepControl(func() { <-release })
		return nil, nil, false
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]About, n)
	for p := range parts {
		parts[p] = About{Topic: "t", Partition: int32(p)}
	}
	if err := r.Add(ctxT(t), At(1000), parts...); err != nil { // At needs no lookup to add
		t.Fatal(err)
	}
	// Every partition handed back out of range before any reset is answered.
	rec.waitCount(t, "Unsubscribed", n, func(e troupe.Event) bool {
		u, ok := e.(Unsubscribed)
		return ok && errors.Is(u.Err, errcode.OffsetOutOfRange)
	})
	close(release)
	rec.waitCount(t, "OffsetReset", n, isA[OffsetReset])
	check := newReaderCheck(t)
	check.pollUntil(ctxT(t), r, n*10)

	for node := range int32(2) {
		var ps []int32
		for p := range int32(n) {
			if kc.LeaderFor("t", p) == node {
				ps = append(ps, p)
			}
		}
		reqs, asked := log.of(node)
		if len(reqs) > 2 || !slices.Equal(asked, ps) {
			t.Errorf("broker %d leads %v; ListOffsets requests %v: want at most 2, naming each partition once", node, ps, reqs)
		}
	}
}

// TestReaderAddOffsets: each partition starts where its own Offset says — with its epoch,
// exact, oldest, newest, by time — looked up together; bad input adds nothing.
func TestReaderAddOffsets(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(5, "t"))
	cl := kgoClient(t, seeds)
	for p := range int32(5) {
		produceWith(t, cl, "t", p, 0, 10)
	}
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	bad := map[About]Offset{{"t", 0}: At(3), {"t", 1}: At(-2)}
	if err := r.AddOffsets(ctxT(t), bad); !errors.Is(err, ErrInvalidOffset) {
		t.Fatalf("AddOffsets with a negative offset: %v", err)
	}
	if err := r.AddOffsets(ctxT(t), map[About]Offset{{"t", 0}: At(3), {"t", 9}: At(1)}); !errors.Is(err, ErrUnknownPartition) {
		t.Fatalf("AddOffsets of a partition the topic lacks: %v", err)
	}
	if got := r.Partitions(); len(got) != 0 {
		t.Fatalf("bad input added %v", got)
	}
	starts := map[About]Offset{
		{"t", 0}: AtEpoch(4, 0), {"t", 1}: At(7), {"t", 2}: Oldest(), {"t", 3}: AtTime(time.Now().Add(time.Hour)), {"t", 4}: Newest(),
	}
	if err := r.AddOffsets(ctxT(t), starts); err != nil {
		t.Fatal(err)
	}
	produceWith(t, cl, "t", 3, 10, 1)
	produceWith(t, cl, "t", 4, 10, 1)
	check := newReaderCheck(t)
	check.next[About{"t", 0}], check.next[About{"t", 1}], check.next[About{"t", 3}], check.next[About{"t", 4}] = 4, 7, 10, 10
	check.pollUntil(ctxT(t), r, 6+3+10+1+1)
}
