package producer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// securities are the ways the security tests reach a cluster: each SASL mechanism over
// plaintext, TLS alone, mutual TLS alone, and SASL over TLS and over mutual TLS.
var securities = []kafkatest.Security{
	{Mechanism: "PLAIN"},
	{Mechanism: "SCRAM-SHA-256"},
	{Mechanism: "SCRAM-SHA-512"},
	{TLS: true},
	{Mutual: true},
	{Mechanism: "SCRAM-SHA-256", TLS: true},
	{Mechanism: "PLAIN", Mutual: true},
}

// TestProduceSecured produces over each security setting, configured once in the
// producer's cluster.Config.Broker, to a 3-broker cluster, and reads the records back
// with kgo given the same credentials.
func TestProduceSecured(t *testing.T) {
	const n = 30
	for _, s := range securities {
		t.Run(s.String(), func(t *testing.T) {
			sc := kafkatest.StartSecure(t, s, kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
			p, err := New(Config{Seeds: sc.Seeds, Cluster: cluster.Config{Broker: broker.Config{SASL: sc.SASL, TLS: sc.TLS}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := range n {
				if err := p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: fmt.Appendf(nil, "v%d", i)}); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(append(sc.Kgo, kgo.SeedBrokers(sc.Seeds...), kgo.ConsumeTopics("t"),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			seen := map[string]bool{}
			for len(seen) < n {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("kgo read %d of %d records", len(seen), n)
				}
				fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("kgo: %v", err) })
				fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
			}
		})
	}
}
