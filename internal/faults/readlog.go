package faults

import (
	"context"
	"fmt"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReadLog reads topic's whole log, every partition from offset 0 to its high-water mark
// at the time of the call, with franz-go's kgo client: a reader independent of troupe.
// dial, if not nil, opens its connections (a VirtualNetwork's DialContext under
// testing/synctest). It returns the records by partition in offset order, and the
// high-water marks.
func ReadLog(ctx context.Context, seeds []string, dial DialFunc, topic string) (map[int32][]Stored, map[int32]int64, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.WithDecompressor(decompressor{kgo.DefaultDecompressor()})}
	if dial != nil {
		opts = append(opts, kgo.Dialer(dial))
	}
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	end, err := endOffsets(ctx, admin, topic)
	admin.Close()
	if err != nil {
		return nil, nil, err
	}
	log := make(map[int32][]Stored)
	start := make(map[int32]kgo.Offset)
	remaining := 0
	for p, e := range end {
		log[p] = nil
		if e > 0 {
			start[p] = kgo.NewOffset().At(0)
			remaining++
		}
	}
	if remaining == 0 {
		return log, end, nil
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}))...)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("faults: reading %s: %w (%d partitions short of their end)", topic, err, remaining)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			ferr = fmt.Errorf("faults: reading %s[%d]: %w", topic, p, err)
		})
		if ferr != nil {
			return nil, nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end[r.Partition] {
				return
			}
			log[r.Partition] = append(log[r.Partition], Stored{Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
			if r.Offset == end[r.Partition]-1 {
				remaining--
			}
		})
	}
	return log, end, nil
}

// EndOffsets returns the high-water mark of every partition of topic, asking the leaders
// through a kgo client on seeds (dialing with dial, if not nil).
func EndOffsets(ctx context.Context, seeds []string, dial DialFunc, topic string) (map[int32]int64, error) {
	var end map[int32]int64
	err := withClient(seeds, dial, func(cl *kgo.Client) error {
		var err error
		end, err = endOffsets(ctx, cl, topic)
		return err
	})
	return end, err
}

// endOffsets asks the leaders for the high-water mark of every partition of topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	resp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("faults: metadata of %s: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("faults: metadata of %s: %d topics", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("faults: metadata of %s: %w", topic, err)
	}
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range resp.Topics[0].Partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p.Partition, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	out := make(map[int32]int64)
	// kgo splits the request by partition leader and merges the answers.
	for _, sh := range cl.RequestSharded(ctx, req) {
		if sh.Err != nil {
			return nil, fmt.Errorf("faults: end offsets of %s: %w", topic, sh.Err)
		}
		for _, t := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("faults: end offset of %s[%d]: %w", topic, p.Partition, err)
				}
				out[p.Partition] = p.Offset
			}
		}
	}
	if len(out) != len(resp.Topics[0].Partitions) {
		return nil, fmt.Errorf("faults: end offsets of %s: %d of %d partitions answered", topic, len(out), len(resp.Topics[0].Partitions))
	}
	return out, nil
}

// decompressor is kgo's, but for zstd, where kgo pools decoders and closes them from a
// finalizer: a decoder made inside a testing/synctest bubble and closed by the runtime
// outside it crashes the test binary ("close of synctest channel from outside bubble").
// This one makes a decoder per batch and closes it at once.
type decompressor struct{ kgo.Decompressor }

func (d decompressor) Decompress(src []byte, codec kgo.CompressionCodecType) ([]byte, error) {
	if codec != kgo.CodecZstd {
		return d.Decompressor.Decompress(src, codec)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer dec.Close()
	return dec.DecodeAll(src, nil)
}
