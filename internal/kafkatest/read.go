package kafkatest

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReadAll reads every record of topic, from offset 0 to each partition's high watermark
// at the time of the call, with franz-go's kgo client: an independent reader to check
// what troupe wrote. It returns the records by partition, in offset order.
func ReadAll(t testing.TB, seeds []string, topic string) map[int32][]*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := EndOffsets(t, seeds, topic)
	parts := map[int32]kgo.Offset{}
	for p := range want {
		parts[p] = kgo.NewOffset().AtStart()
	}
	out := map[int32][]*kgo.Record{}
	remaining := 0
	for _, end := range want {
		if end > 0 {
			remaining++
		}
	}
	if remaining == 0 {
		return out
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("kafkatest: reading %s: %v (%d partitions not at their end)", topic, ctx.Err(), remaining)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("kafkatest: reading %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= want[r.Partition] {
				return
			}
			out[r.Partition] = append(out[r.Partition], r)
			if r.Offset == want[r.Partition]-1 {
				remaining--
			}
		})
	}
	return out
}

// EndOffsets returns the high watermark of every partition of topic, asking each
// partition's leader with kmsg-encoded requests (independent of troupe's codec).
func EndOffsets(t testing.TB, seeds []string, topic string) map[int32]int64 {
	t.Helper()
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.SetVersion(12)
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	md := Admin(t, seeds[0], mreq).(*kmsg.MetadataResponse)
	addrs := map[int32]string{}
	for _, b := range md.Brokers {
		addrs[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 {
		t.Fatalf("kafkatest: metadata of %s: %+v", topic, md.Topics)
	}
	out := map[int32]int64{}
	for _, p := range md.Topics[0].Partitions {
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(7)
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p.Partition, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := Admin(t, addrs[p.Leader], req).(*kmsg.ListOffsetsResponse)
		lp := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(lp.ErrorCode); err != nil {
			t.Fatalf("kafkatest: end offset of %s[%d]: %v", topic, p.Partition, err)
		}
		out[p.Partition] = lp.Offset
	}
	return out
}
