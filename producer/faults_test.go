package producer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// run produces n keyed records to topic (values "key:seq"), calling during(i) before
// record i, and waits for every outcome.
func run(t *testing.T, p *producer.Producer, topic string, n, keys int, during func(i int)) ([]*troupe.Record, *outcomes) {
	t.Helper()
	o := newOutcomes(n)
	recs := make([]*troupe.Record, n)
	for i := range recs {
		if during != nil {
			during(i)
		}
		k := i % keys
		recs[i] = &troupe.Record{Topic: topic, Key: []byte("key" + strconv.Itoa(k)), Value: []byte(fmt.Sprintf("key%d:%d", k, i))}
		p.Produce(context.Background(), recs[i], o.cb)
	}
	o.wait(t)
	return recs, o
}

// checkLog verifies, against the log as kgo reads it: every acknowledged record is at its
// reported offset; with dedup, no record appears twice; per key, first occurrences are in
// send order; and records that failed as not written are absent.
func checkLog(t *testing.T, seeds []string, topic string, recs []*troupe.Record, o *outcomes, dedup bool) map[int32][]*kgo.Record {
	t.Helper()
	log := kafkatest.ReadAll(t, seeds, topic)
	seen := map[string]int{}
	lastSeq := map[string]int{}
	for _, part := range log {
		for _, r := range part {
			v := string(r.Value)
			seen[v]++
			if dedup && seen[v] > 1 {
				t.Fatalf("%s appears %d times", v, seen[v])
			}
			if seen[v] > 1 {
				continue
			}
			var k, i int
			fmt.Sscanf(v, "key%d:%d", &k, &i)
			key := string(r.Key)
			if last, ok := lastSeq[key]; ok && i < last {
				t.Fatalf("%s: %s after seq %d", key, v, last)
			}
			lastSeq[key] = i
		}
	}
	for _, r := range recs {
		err := o.got[r]
		switch {
		case err == nil:
			lr := log[r.Partition]
			if r.Offset < 0 || int(r.Offset) >= len(lr) || !bytes.Equal(lr[r.Offset].Value, r.Value) {
				t.Fatalf("%s acknowledged at %d[%d], not there", r.Value, r.Partition, r.Offset)
			}
		case errors.Is(err, troupe.ErrNotWritten):
			if seen[string(r.Value)] > 0 {
				t.Fatalf("%s reported not written (%v) but is in the log", r.Value, err)
			}
		case errors.Is(err, troupe.ErrMaybeWritten):
		default:
			t.Fatalf("%s: unclassified error %v", r.Value, err)
		}
	}
	return log
}

func countOK(recs []*troupe.Record, o *outcomes) int {
	n := 0
	for _, r := range recs {
		if o.got[r] == nil {
			n++
		}
	}
	return n
}

func TestLeaderMovesKeepOrderWithoutDuplicates(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(4, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Millisecond, Backoff: supervisor.Backoff{Min: time.Millisecond}})
	recs, o := run(t, p, "t", 4000, 20, func(i int) {
		switch {
		case i%500 == 250:
			c.ShufflePartitionLeaders()
		case i%500 == 0 && i > 0:
			_ = c.MoveTopicPartition("t", int32(i/500)%4, int32(i/500)%3)
		}
	})
	if ok := countOK(recs, o); ok != len(recs) {
		for _, r := range recs {
			if o.got[r] != nil {
				t.Fatalf("%d of %d acknowledged; e.g. %s: %v", ok, len(recs), r.Value, o.got[r])
			}
		}
	}
	checkLog(t, seeds, "t", recs, o, true)
}

func TestTimeoutsAfterAppendDoNotDuplicate(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	c.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.RequestTimedOut, Count: 5},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicasAfterAppend, Count: 5},
	)
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Millisecond, Backoff: supervisor.Backoff{Min: time.Millisecond}})
	recs, o := run(t, p, "t", 2000, 10, nil)
	if ok := countOK(recs, o); ok != len(recs) {
		t.Fatalf("%d of %d acknowledged", ok, len(recs))
	}
	checkLog(t, seeds, "t", recs, o, true)
}

func TestDisabledIdempotenceMayDuplicateButKeepsOrder(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.RequestTimedOut, Count: 3})
	p := newProducer(t, producer.Config{Seeds: seeds, DisableIdempotence: true, Linger: time.Millisecond, Backoff: supervisor.Backoff{Min: time.Millisecond}})
	recs, o := run(t, p, "t", 500, 5, nil)
	if ok := countOK(recs, o); ok != len(recs) {
		t.Fatalf("%d of %d acknowledged", ok, len(recs))
	}
	log := checkLog(t, seeds, "t", recs, o, false)
	if len(log[0]) <= len(recs) {
		t.Fatalf("the log holds %d records for %d sent: timeouts after append must duplicate without idempotence (negative control)", len(log[0]), len(recs))
	}
}

func TestRejectedBatchAmongInflightFailsOnlyItsRecords(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	var produces atomic.Int32
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.InvalidRecord, When: func(kmsg.Request) bool {
		return produces.Add(1) == 3
	}})
	// Small batches and no linger: many batches in flight at once.
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: -1, MaxBatchRecords: 20, Backoff: supervisor.Backoff{Min: time.Millisecond}})
	recs, o := run(t, p, "t", 1000, 1, nil)
	var failed []*troupe.Record
	for _, r := range recs {
		if err := o.got[r]; err != nil {
			if !errors.Is(err, producer.ErrRejected) || !errors.Is(err, troupe.ErrNotWritten) {
				t.Fatalf("%s: %v", r.Value, err)
			}
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 || len(failed) > 20 {
		t.Fatalf("%d records failed; want exactly the rejected batch's (1..20)", len(failed))
	}
	log := checkLog(t, seeds, "t", recs, o, true)
	if len(log[0]) != len(recs)-len(failed) {
		t.Fatalf("log holds %d, want %d", len(log[0]), len(recs)-len(failed))
	}
}

func TestSplitsBatchesTheBrokerFindsTooLarge(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "2000"}))
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: 20 * time.Millisecond, Backoff: supervisor.Backoff{Min: time.Millisecond}})
	o := newOutcomes(41)
	var recs []*troupe.Record
	for i := range 40 {
		r := &troupe.Record{Topic: "t", Value: bytes.Repeat([]byte{byte('a' + i%26)}, 200)}
		recs = append(recs, r)
		p.Produce(context.Background(), r, o.cb)
	}
	big := &troupe.Record{Topic: "t", Value: make([]byte, 5000)} // too large on its own
	recs = append(recs, big)
	p.Produce(context.Background(), big, o.cb)
	o.wait(t)
	for _, r := range recs[:40] {
		if err := o.got[r]; err != nil {
			t.Fatalf("a record that fits alone failed: %v", err)
		}
	}
	if err := o.got[big]; !errors.Is(err, producer.ErrRecordTooLarge) || !errors.Is(err, troupe.ErrNotWritten) {
		t.Fatalf("the oversized record: %v", err)
	}
}

func TestBrokerGoneAndBackOnAnotherPort(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Millisecond, Backoff: supervisor.Backoff{Min: time.Millisecond}})
	leader := c.LeaderFor("t", 0)
	recs, o := run(t, p, "t", 3000, 30, func(i int) {
		switch i {
		case 1000:
			if err := c.RemoveNode(leader); err != nil {
				t.Fatal(err)
			}
		case 2000:
			if _, _, err := c.AddNode(leader, 0); err != nil {
				t.Fatal(err)
			}
			c.ShufflePartitionLeaders()
		}
	})
	if ok := countOK(recs, o); ok != len(recs) {
		t.Fatalf("%d of %d acknowledged", ok, len(recs))
	}
	checkLog(t, c.ListenAddrs(), "t", recs, o, true)
}

func TestUnknownTopicFailsAfterWaitAndAutoCreation(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
	p := newProducer(t, producer.Config{Seeds: seeds, UnknownTopicWait: 300 * time.Millisecond})
	err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "nope", Value: []byte("x")})
	if !errors.Is(err, producer.ErrUnknownTopic) || !errors.Is(err, troupe.ErrNotWritten) ||
		!errors.Is(err, errcode.UnknownTopicOrPartition) || errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("unknown topic: %v", err)
	}
	auto := newProducer(t, producer.Config{Seeds: seeds, Cluster: clusterAuto()})
	if err := auto.ProduceSync(context.Background(), &troupe.Record{Topic: "made", Value: []byte("x")}); err != nil {
		t.Fatalf("auto-created topic: %v", err)
	}
}

func TestAcksLeaderAndNone(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	for _, acks := range []producer.Acks{producer.AcksLeader, producer.AcksNone} {
		p := newProducer(t, producer.Config{Seeds: seeds, Acks: acks})
		recs, o := run(t, p, "t", 300, 3, nil)
		if ok := countOK(recs, o); ok != len(recs) {
			t.Fatalf("acks %v: %d of %d acknowledged", acks, ok, len(recs))
		}
		for _, r := range recs {
			if (acks == producer.AcksNone) != (r.Offset == -1) {
				t.Fatalf("acks %v: offset %d", acks, r.Offset)
			}
		}
	}
	// With acks=none a record's success means it left on the connection: the broker may
	// not have appended the last ones yet when the callbacks have run. Wait for them.
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for kafkatest.EndOffsets(t, seeds, "t")[0] < 600 {
		select {
		case <-deadline:
			t.Fatalf("log holds %d records, want 600", kafkatest.EndOffsets(t, seeds, "t")[0])
		case <-tick.C:
		}
	}
	if got := len(kafkatest.ReadAll(t, seeds, "t")[0]); got != 600 {
		t.Fatalf("log holds %d records, want 600", got)
	}
}

func TestEveryCodecIsReadBackByKgo(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "z"))
	var all []*troupe.Record
	for _, codec := range codecs() {
		p := newProducer(t, producer.Config{Seeds: seeds, Compression: codec})
		ts := time.UnixMilli(time.Now().UnixMilli())
		for i := range 100 {
			r := &troupe.Record{Topic: "z", Key: []byte(fmt.Sprintf("%v-%d", codec.Codec, i)), Value: bytes.Repeat([]byte("payload "), i),
				Headers: []troupe.Header{{Key: "codec", Value: []byte(codec.Codec.String())}, {Key: "null"}}, Timestamp: ts}
			if err := p.ProduceSync(context.Background(), r); err != nil {
				t.Fatalf("%v: %v", codec.Codec, err)
			}
			all = append(all, r)
		}
	}
	log := kafkatest.ReadAll(t, seeds, "z")[0]
	if len(log) != len(all) {
		t.Fatalf("read %d, wrote %d", len(log), len(all))
	}
	for i, r := range all {
		g := log[i]
		if !bytes.Equal(g.Key, r.Key) || !bytes.Equal(g.Value, r.Value) || !g.Timestamp.Equal(r.Timestamp) ||
			len(g.Headers) != 2 || g.Headers[0].Key != "codec" || !bytes.Equal(g.Headers[0].Value, r.Headers[0].Value) || g.Headers[1].Value != nil {
			t.Fatalf("record %d: kgo read %+v, wrote %+v", i, g, r)
		}
	}
}

func TestBudgetBlocksAndHonoursContext(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	release := make(chan struct{})
	var held atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if held.CompareAndSwap(false, true) {
			c.SleepControl(func() { <-release }) // hold the first produce until released
		}
		return nil, nil, false
	})
	p := newProducer(t, producer.Config{Seeds: seeds, MaxBufferedRecords: 5, Linger: -1})
	o := newOutcomes(5)
	for i := range 5 {
		p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte{byte(i)}}, o.cb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("sixth")})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, troupe.ErrNotWritten) {
		t.Fatalf("sixth record with a spent budget: %v", err)
	}
	close(release)
	o.wait(t)
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("after")}); err != nil {
		t.Fatalf("after the budget returned: %v", err)
	}
}

func TestCloseDrainsAndCloseExpiredFailsTheRest(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	p, err := producer.New(producer.Config{Seeds: seeds, Linger: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	o := newOutcomes(200)
	for i := range 200 {
		p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte{byte(i)}}, o.cb)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	o.wait(t)
	for r, err := range o.got {
		if err != nil {
			t.Fatalf("%v: %v", r.Value, err)
		}
	}

	// A broker that never answers: Close past its deadline fails everything.
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true // swallow
	})
	p2, err := producer.New(producer.Config{Seeds: seeds, Linger: -1})
	if err != nil {
		t.Fatal(err)
	}
	o2 := newOutcomes(100)
	for i := range 100 {
		p2.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte{byte(i)}}, o2.cb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if err := p2.Close(ctx); err == nil {
		t.Fatal("Close past its deadline reported success")
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Fatalf("Close took %v", d)
	}
	select {
	case <-o2.done:
	default:
		t.Fatal("Close returned before every record had its outcome")
	}
	var maybe, not int
	for _, err := range o2.got {
		switch {
		case errors.Is(err, troupe.ErrMaybeWritten):
			maybe++
		case errors.Is(err, troupe.ErrNotWritten):
			not++
		default:
			t.Fatalf("after Close past deadline: %v", err)
		}
	}
	if maybe == 0 {
		t.Fatalf("no record in flight was reported as maybe written (%d not written)", not)
	}
}

func TestDeliveryTimeout(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotLeaderForPartition, Count: -1})
	p := newProducer(t, producer.Config{Seeds: seeds, DeliveryTimeout: 300 * time.Millisecond, Backoff: supervisor.Backoff{Min: 10 * time.Millisecond}})
	err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("x")})
	if !errors.Is(err, producer.ErrDeliveryTimeout) || !errors.Is(err, troupe.ErrNotWritten) {
		t.Fatalf("delivery timeout: %v", err)
	}
}

func TestFlushSendsLingeringBatches(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Hour})
	o := newOutcomes(30)
	for i := range 30 {
		p.Produce(context.Background(), &troupe.Record{Topic: "t", Value: []byte{byte(i)}}, o.cb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	n := len(o.got)
	o.mu.Unlock()
	if n != 30 {
		t.Fatalf("Flush returned with %d of 30 outcomes", n)
	}
}

func TestManualPartitionerValidates(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	p := newProducer(t, producer.Config{Seeds: seeds, Partitioner: producer.ManualPartitioner()})
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Partition: 2, Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Partition: 7, Value: []byte("x")})
	if !errors.Is(err, producer.ErrInvalidPartition) || !errors.Is(err, troupe.ErrNotWritten) {
		t.Fatalf("partition out of range: %v", err)
	}
	parts := make([]int, 0)
	for part := range kafkatest.ReadAll(t, seeds, "t") {
		parts = append(parts, int(part))
	}
	sort.Ints(parts)
	if len(parts) != 1 || parts[0] != 2 {
		t.Fatalf("records landed in %v", parts)
	}
}
