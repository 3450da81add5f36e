package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/troupe-go/troupe/internal/kafkatest"
)

const startPartitions = 3000

// BenchmarkValidatedStart measures what a group member's start costs when every
// partition must be validated: 3000 partitions over 3 kfake brokers, each with a record
// written in leader epoch 0 and one in epoch 1 (every partition's leadership moved in
// between), read from offset 1 with leader epoch 0 — a committed offset taken under the
// old leader, which both clients check with OffsetForLeaderEpoch before fetching. An
// iteration is from handing the partitions over (Reader.Add; kgo's ConsumePartitions at
// client creation) to the first record of every partition reaching the caller. troupe and
// kgo run in the same invocation; kfake is in the same process and serves both alike.
//
//	go test -run '^$' -bench ValidatedStart -benchtime 5x -count 5 ./consumer/
func BenchmarkValidatedStart(b *testing.B) {
	kc, seeds := kafkatest.Start(b, kfake.NumBrokers(3), kfake.SeedTopics(startPartitions, "start"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	write := func() {
		recs := make([]*kgo.Record, startPartitions)
		for p := range recs {
			recs[p] = &kgo.Record{Topic: "start", Partition: int32(p), Value: []byte("v")}
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	write()
	for p := range int32(startPartitions) {
		if err := kc.MoveTopicPartition("start", p, (kc.LeaderFor("start", p)+1)%3); err != nil {
			b.Fatal(err)
		}
	}
	write()
	parts := make([]About, startPartitions)
	for p := range parts {
		parts[p] = About{Topic: "start", Partition: int32(p)}
	}

	b.Run("troupe", func(b *testing.B) {
		for b.Loop() {
			c, err := New(Config{Seeds: seeds})
			if err != nil {
				b.Fatal(err)
			}
			r, err := c.NewReader()
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if err := r.Add(ctx, AtEpoch(1, 0), parts...); err != nil {
				b.Fatal(err)
			}
			seen := make(map[int32]bool, startPartitions)
			for len(seen) < startPartitions {
				bs, err := r.Poll(ctx)
				if err != nil {
					b.Fatalf("poll with %d partitions started: %v", len(seen), err)
				}
				for _, bt := range bs {
					if bt.Err != nil {
						b.Fatalf("%s[%d]: %v", bt.Topic, bt.Partition, bt.Err)
					}
					seen[bt.Partition] = true
				}
			}
			cancel()
			b.StopTimer()
			_ = c.Close(context.Background())
			b.StartTimer()
		}
	})
	b.Run("kgo", func(b *testing.B) {
		offsets := make(map[int32]kgo.Offset, startPartitions)
		for p := range int32(startPartitions) {
			offsets[p] = kgo.NewOffset().At(1).WithEpoch(0)
		}
		for b.Loop() {
			kcl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"start": offsets}))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			seen := make(map[int32]bool, startPartitions)
			for len(seen) < startPartitions {
				fs := kcl.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					b.Fatalf("poll with %d partitions started: %v", len(seen), err)
				}
				fs.EachError(func(t string, p int32, err error) { b.Fatalf("%s[%d]: %v", t, p, err) })
				fs.EachPartition(func(p kgo.FetchTopicPartition) {
					if len(p.Records) > 0 {
						seen[p.Partition] = true
					}
				})
			}
			cancel()
			b.StopTimer()
			kcl.Close()
			b.StartTimer()
		}
	})
}
