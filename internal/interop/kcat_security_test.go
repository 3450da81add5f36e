package interop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// kcatSecurity is the librdkafka properties that reach the cluster sc the way s does.
func kcatSecurity(t *testing.T, s kafkatest.Security, sc *kafkatest.Secured) []string {
	protocol := map[[2]bool]string{{false, false}: "PLAINTEXT", {true, false}: "SSL", {false, true}: "SASL_PLAINTEXT", {true, true}: "SASL_SSL"}[[2]bool{s.TLS || s.Mutual, s.Mechanism != ""}]
	args := []string{"-X", "security.protocol=" + protocol}
	if s.Mechanism != "" {
		args = append(args, "-X", "sasl.mechanisms="+s.Mechanism, "-X", "sasl.username="+kafkatest.SecureUser, "-X", "sasl.password="+kafkatest.SecurePassword)
	}
	if s.TLS || s.Mutual {
		ca, cert, key := sc.Certs.WritePEM(t, t.TempDir())
		args = append(args, "-X", "ssl.ca.location="+ca)
		if s.Mutual {
			args = append(args, "-X", "ssl.certificate.location="+cert, "-X", "ssl.key.location="+key)
		}
	}
	return args
}

// TestKcatSecured: over TLS and mutual TLS, kcat (librdkafka) reads what troupe writes
// and troupe reads what kcat writes, on the same kfake cluster.
//
// SASL is TestKcatSASL's: it needs a shim between kcat and kfake (see handshakeV0Listener).
func TestKcatSecured(t *testing.T) {
	kcat(t)
	for _, s := range []kafkatest.Security{
		{TLS: true},
		{Mutual: true},
	} {
		t.Run(s.String(), func(t *testing.T) {
			sc := kafkatest.StartSecure(t, s, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
			sec := cluster.Config{Broker: broker.Config{SASL: sc.SASL, TLS: sc.TLS}}
			props := kcatSecurity(t, s, sc)
			const n = 20

			p, err := producer.New(producer.Config{Seeds: sc.Seeds, Cluster: sec})
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "troupe %d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			out := runKcat(t, "", append([]string{"-b", sc.Seeds[0], "-C", "-t", "t", "-e", "-q", "-f", "%k=%s\n", "-o", "beginning"}, props...)...)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != n {
				t.Fatalf("kcat read %d records, want %d: %q", len(lines), n, out)
			}
			for i, l := range lines {
				if want := fmt.Sprintf("k%d=troupe %d", i, i); l != want {
					t.Fatalf("kcat record %d is %q, want %q", i, l, want)
				}
			}

			var in strings.Builder
			for i := range n {
				fmt.Fprintf(&in, "kcat %d\n", i)
			}
			runKcat(t, in.String(), append([]string{"-b", sc.Seeds[0], "-P", "-t", "t", "-p", "0"}, props...)...)
			c, err := consumer.New(consumer.Config{Seeds: sc.Seeds, Cluster: sec})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pc, err := c.ConsumePartition(ctx, "t", 0, consumer.At(n))
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for r, err := range pc.Records(ctx) {
				if err != nil {
					t.Fatalf("after %d records: %v", i, err)
				}
				if want := fmt.Sprintf("kcat %d", i); string(r.Value) != want {
					t.Fatalf("record %d is %q, want %q", i, r.Value, want)
				}
				if i++; i == n {
					break
				}
			}
		})
	}
}
