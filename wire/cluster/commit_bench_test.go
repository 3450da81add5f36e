package cluster_test

import (
	"context"
	"testing"

	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkCommitOffsets commits 1000 partitions of one topic to a kfake coordinator in
// the same process: troupe's CommitOffsets against the same OffsetCommit request sent
// raw through kgo (its transport alone, without a group client's bookkeeping: the floor a
// peer pays). A group member commits this much when it gives up a third of 3000
// partitions (docs/benchmarks.md, "Commits of a thousand partitions").
func BenchmarkCommitOffsets(b *testing.B) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3000, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	seeds := kc.ListenAddrs()
	ctx := context.Background()
	c, err := cluster.Open(ctx, quick(seeds))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	b.Run("troupe", func(b *testing.B) {
		var offs []cluster.OffsetCommit
		for p := range int32(1000) {
			offs = append(offs, cluster.OffsetCommit{Topic: "bench", Partition: p, Offset: 10})
		}
		for i := 0; b.Loop(); i++ {
			for j := range offs {
				offs[j].Offset = int64(10 + i)
			}
			if _, err := c.CommitOffsets(ctx, "g1", nil, offs...); err != nil {
				b.Fatal(err)
			}
		}
	})
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	name := "bench"
	mt.Topic = &name
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		b.Fatal(err)
	}
	topicID := mresp.Topics[0].TopicID
	b.Run("kgo-raw", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Group = "g2"
			req.Generation = -1
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic = "bench"
			t.TopicID = topicID
			for p := range int32(1000) {
				pp := kmsg.NewOffsetCommitRequestTopicPartition()
				pp.Partition = p
				pp.Offset = int64(10 + i)
				t.Partitions = append(t.Partitions, pp)
			}
			req.Topics = append(req.Topics, t)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				b.Fatal(err)
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 {
						b.Fatalf("kgo commit: %d", p.ErrorCode)
					}
				}
			}
		}
	})
}
