package consumer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestConsumeSecured writes records with kgo over each security setting and reads them
// back with a consumer configured once, in its cluster.Config.Broker, with the same
// credentials: each SASL mechanism, TLS, mutual TLS, and SASL over both.
func TestConsumeSecured(t *testing.T) {
	const n = 30
	for _, s := range []kafkatest.Security{
		{Mechanism: "PLAIN"},
		{Mechanism: "SCRAM-SHA-256"},
		{Mechanism: "SCRAM-SHA-512"},
		{TLS: true},
		{Mutual: true},
		{Mechanism: "SCRAM-SHA-512", TLS: true},
		{Mechanism: "SCRAM-SHA-256", Mutual: true},
	} {
		t.Run(s.String(), func(t *testing.T) {
			sc := kafkatest.StartSecure(t, s, kfake.NumBrokers(2), kfake.SeedTopics(1, "t"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cl, err := kgo.NewClient(append(sc.Kgo, kgo.SeedBrokers(sc.Seeds...), kgo.DefaultProduceTopic("t"))...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			cl.Close()

			c, err := New(Config{Brokers: sc.Seeds, Cluster: cluster.Config{Broker: broker.Config{SASL: sc.SASL, TLS: sc.TLS}}})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := c.Close(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			pc, err := c.ConsumePartition(ctx, "t", 0, Oldest)
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for r, err := range pc.Records(ctx) {
				if err != nil {
					t.Fatalf("after %d records: %v", i, err)
				}
				if want := fmt.Sprintf("v%d", i); string(r.Value) != want {
					t.Fatalf("record %d is %q, want %q", i, r.Value, want)
				}
				if i++; i == n {
					break
				}
			}
		})
	}
}
