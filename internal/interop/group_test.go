package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/internal/kafkatest"
)

// The group interop tests: troupe, kgo and kcat (librdkafka) reading one topic as one
// consumer group, handing it over between them through committed offsets.

const groupTopic = "orders"

// seen counts how often each record (partition, offset) was processed, by whom.
type seen map[[2]int64][]string

func (s seen) add(who string, p int32, off int64) {
	s[[2]int64{int64(p), off}] = append(s[[2]int64{int64(p), off}], who)
}

// exactlyOnce fails unless every record of partitions × perPartition was processed once.
func (s seen) exactlyOnce(t *testing.T, partitions int32, perPartition int64) {
	t.Helper()
	for p := range partitions {
		for off := range perPartition {
			if by := s[[2]int64{int64(p), off}]; len(by) != 1 {
				t.Errorf("%s[%d] offset %d processed %d times (by %v); want once", groupTopic, p, off, len(by), by)
			}
		}
	}
	if want := int(partitions) * int(perPartition); len(s) != want {
		t.Errorf("%d records processed; want %d", len(s), want)
	}
}

// produceEach writes n records to each partition with kgo.
func produceEach(t *testing.T, seeds []string, partitions int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range partitions {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: groupTopic, Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// kgoBalancer is franz-go's balancer named as troupe and Kafka name the assignor.
func kgoBalancer(assignor string) kgo.GroupBalancer {
	if assignor == "range" {
		return kgo.RangeBalancer()
	}
	return kgo.CooperativeStickyBalancer()
}

// kgoMember joins groupID with kgo and processes (and commits, synchronously, after each
// poll) the records below upTo of every partition, until every partition has reached it;
// it then leaves the group. It fails the test if a partition starts anywhere but want.
func kgoMember(t *testing.T, seeds []string, groupID, assignor string, partitions int32, want map[int32]int64, upTo int64, s seen) {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(groupTopic),
		kgo.Balancers(kgoBalancer(assignor)),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close() // leaves the group
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := map[int32]int64{}
	done := map[int32]bool{}
	for int32(len(done)) < partitions {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("kgo member: %d of %d partitions processed up to %d before the deadline", len(done), partitions, upTo)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("kgo member: %v", errs[0].Err)
		}
		var processed []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
			}
			if r.Offset < upTo {
				s.add("kgo", r.Partition, r.Offset)
				processed = append(processed, r)
			}
			if r.Offset >= upTo-1 {
				done[r.Partition] = true
			}
		})
		if len(processed) > 0 {
			if err := cl.CommitRecords(ctx, processed...); err != nil {
				t.Fatalf("kgo commit: %v", err)
			}
		}
	}
	for p, off := range want {
		if first[p] != off {
			t.Errorf("kgo member: %s[%d] started at %d; want %d (the group's committed offset)", groupTopic, p, first[p], off)
		}
	}
}

// troupeResumes checks that a troupe Committer of groupID finds want as the group's
// committed offsets, with leader epoch epoch (-1: none committed), then reads every partition from there, processes the records
// below upTo, marks them and commits them by closing.
func troupeResumes(t *testing.T, seeds []string, groupID string, partitions int32, want map[int32]int64, epoch int32, upTo int64, s seen) {
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
	var parts []consumer.About
	for p := range partitions {
		parts = append(parts, consumer.About{Topic: groupTopic, Partition: p})
	}
	starts, err := cm.Starts(ctx, parts...)
	if err != nil {
		t.Fatalf("troupe Starts: %v", err)
	}
	for _, p := range parts {
		if got, w := starts[p].String(), consumer.AtEpoch(want[p.Partition], epoch).String(); got != w {
			t.Errorf("troupe: %s resumes at %s; want %s", p, got, w)
		}
	}
	r, err := c.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if err := cm.Assign(ctx, r, parts...); err != nil {
		t.Fatal(err)
	}
	done := map[int32]bool{}
	for rec, err := range r.Records(ctx) {
		if err != nil {
			t.Fatalf("troupe reader: %v", err)
		}
		if rec.Offset < upTo {
			s.add("troupe", rec.Partition, rec.Offset)
			if err := cm.MarkRecords(rec); err != nil {
				t.Fatal(err)
			}
		}
		if rec.Offset >= upTo-1 {
			done[rec.Partition] = true
		}
		if int32(len(done)) == partitions {
			break
		}
	}
	if err := cm.Close(ctx); err != nil {
		t.Fatalf("troupe's last commit: %v", err)
	}
}

func offsetsOf(partitions int32, off int64) map[int32]int64 {
	m := map[int32]int64{}
	for p := range partitions {
		m[p] = off
	}
	return m
}

// TestGroupOffsetsKgoTroupeKgo: a kgo member of the group processes and commits the first
// records and leaves; troupe resumes exactly at kgo's commits (leader epoch included),
// processes the next ones and commits; kgo rejoins and resumes exactly at troupe's. Every
// record is processed once across the three.
func TestGroupOffsetsKgoTroupeKgo(t *testing.T) {
	const partitions, perPartition = 4, 50
	for _, assignor := range []string{"range", "cooperative-sticky"} {
		t.Run(assignor, func(t *testing.T) {
			_, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(partitions, groupTopic))
			produceEach(t, seeds, partitions, perPartition)
			s := seen{}
			g := "interop-" + assignor
			kgoMember(t, seeds, g, assignor, partitions, offsetsOf(partitions, 0), 20, s)
			// kgo commits the leader epoch of the last record processed: kfake's, 0.
			troupeResumes(t, seeds, g, partitions, offsetsOf(partitions, 20), 0, 35, s)
			kgoMember(t, seeds, g, assignor, partitions, offsetsOf(partitions, 35), perPartition, s)
			s.exactlyOnce(t, partitions, perPartition)
		})
	}
}

// kcatGroup runs kcat's balanced consumer (librdkafka 2.0.2, range assignor) in group
// groupID until every partition's end, with offsets committed on close; it returns the
// records it read as (partition, offset).
func kcatGroup(t *testing.T, seed, groupID string) [][2]int64 {
	t.Helper()
	out := runKcat(t, "", "-b", seed, "-G", groupID, "-X", "partition.assignment.strategy=range",
		"-X", "auto.offset.reset=earliest", "-X", "enable.auto.commit=true", "-e", "-q", "-f", "%p %o\n", groupTopic)
	var recs [][2]int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			t.Fatalf("kcat output %q", sc.Text())
		}
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kcat output %q", sc.Text())
		}
		recs = append(recs, [2]int64{p, o})
	}
	return recs
}

// TestGroupOffsetsKcatTroupeKcat: kcat's balanced consumer (-G, librdkafka's group
// member, range assignor) joins the group against kfake, reads every record and commits
// as it leaves; troupe resumes at kcat's commits, processes part of the records written
// since and commits; kcat rejoins and reads exactly the rest.
func TestGroupOffsetsKcatTroupeKcat(t *testing.T) {
	kcat(t)
	const partitions = 3
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(partitions, groupTopic))
	produceEach(t, seeds, partitions, 30)
	s := seen{}
	const g = "interop-kcat"
	for _, r := range kcatGroup(t, seeds[0], g) {
		s.add("kcat", int32(r[0]), r[1])
	}
	produceEach(t, seeds, partitions, 20)
	// librdkafka 2.0.2 commits no leader epoch (KIP-320 commits came in 2.1.0).
	troupeResumes(t, seeds, g, partitions, offsetsOf(partitions, 30), -1, 40, s)
	rest := kcatGroup(t, seeds[0], g)
	for _, r := range rest {
		s.add("kcat", int32(r[0]), r[1])
	}
	if len(rest) != partitions*10 {
		t.Errorf("kcat read %d records after troupe's commit; want %d (offsets 40 to 49 of each partition)", len(rest), partitions*10)
	}
	s.exactlyOnce(t, partitions, 50)
}
