package faults

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CreateTopic creates topic with partitions partitions (replication factor 1), through a
// kgo client on seeds (dialing with dial, if not nil).
func CreateTopic(ctx context.Context, seeds []string, dial DialFunc, topic string, partitions int32) error {
	return withClient(seeds, dial, func(cl *kgo.Client) error {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("faults: creating %s: %w", topic, err)
		}
		if len(resp.Topics) != 1 {
			return fmt.Errorf("faults: creating %s: %d topics in the answer", topic, len(resp.Topics))
		}
		if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
			return fmt.Errorf("faults: creating %s: %w", topic, err)
		}
		return nil
	})
}

// DeleteTopic deletes topic, through a kgo client on seeds (dialing with dial, if not
// nil).
func DeleteTopic(ctx context.Context, seeds []string, dial DialFunc, topic string) error {
	return withClient(seeds, dial, func(cl *kgo.Client) error {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TopicNames = []string{topic}
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("faults: deleting %s: %w", topic, err)
		}
		for _, t := range resp.Topics {
			if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
				return fmt.Errorf("faults: deleting %s: %w", topic, err)
			}
		}
		return nil
	})
}

func withClient(seeds []string, dial DialFunc, fn func(*kgo.Client) error) error {
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...)}
	if dial != nil {
		opts = append(opts, kgo.Dialer(dial))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(cl)
}
