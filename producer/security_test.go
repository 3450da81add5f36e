package producer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/sasl"
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

// syncBuffer is a bytes.Buffer that slog handlers on several goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCredentialsStayHidden runs a producer over SCRAM-SHA-512 and TLS, once with the
// right password and once with a wrong one, with every output captured: debug logs of
// the producer and its client, supervisor events, Actors(), the records' errors, and the
// configs printed with %v, %+v and %#v. Neither password appears in any of them.
func TestCredentialsStayHidden(t *testing.T) {
	const wrong = "Wr0ng-pa55word-for-the-test"
	sc := kafkatest.StartSecure(t, kafkatest.Security{Mechanism: "SCRAM-SHA-512", TLS: true}, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	var out syncBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	onEvent := func(e supervisor.Event) { fmt.Fprintf(&out, "event %v %+v\n", e, e) }
	for _, password := range []string{kafkatest.SecurePassword, wrong} {
		cfg := Config{
			Seeds:            sc.Seeds,
			UnknownTopicWait: 500 * time.Millisecond,
			Logger:           logger,
			OnEvent:          onEvent,
			Cluster: cluster.Config{Logger: logger, OnEvent: onEvent, Broker: broker.Config{
				TLS:  sc.TLS,
				SASL: sasl.SCRAMSHA512{User: kafkatest.SecureUser, Password: password},
			}},
		}
		fmt.Fprintf(&out, "config %v\n%+v\n%#v\n", cfg, cfg, cfg)
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("v")})
		if password == wrong && err == nil {
			t.Fatal("a wrong password produced a record")
		}
		fmt.Fprintf(&out, "produce: %v %+v\nactors %+v\n", err, err, p.Actors())
		fmt.Fprintf(&out, "close: %v\n", p.Close(ctx))
		cancel()
	}
	all := out.String()
	if !strings.Contains(all, "authentication failed") || !strings.Contains(all, kafkatest.SecureUser) {
		t.Fatalf("the outputs lack the authentication failure or the user name, so they prove nothing:\n%s", all)
	}
	for _, secret := range []string{kafkatest.SecurePassword, wrong} {
		if i := strings.Index(all, secret); i >= 0 {
			t.Fatalf("a password appears in the outputs: …%s…", all[max(0, i-200):min(len(all), i+100)])
		}
	}
}

// TestSecurityFailuresFailRecordsAtOnce: a wrong password and an untrusted certificate do
// not go away by waiting, so the records waiting on them fail as not written with the
// cause, long before UnknownTopicWait (set far beyond the test's deadline here), and the
// error names the broker's address.
func TestSecurityFailuresFailRecordsAtOnce(t *testing.T) {
	cases := []struct {
		name  string
		sec   kafkatest.Security
		cfg   func(sc *kafkatest.Secured) broker.Config
		cause error
	}{
		{"wrong password", kafkatest.Security{Mechanism: "SCRAM-SHA-256"}, func(sc *kafkatest.Secured) broker.Config {
			return broker.Config{SASL: sasl.SCRAMSHA256{User: kafkatest.SecureUser, Password: "not-the-password"}}
		}, broker.ErrAuthentication},
		{"untrusted certificate", kafkatest.Security{TLS: true}, func(sc *kafkatest.Secured) broker.Config {
			return broker.Config{TLS: &tls.Config{MinVersion: tls.VersionTLS12}} // the system roots do not know the test CA
		}, broker.ErrTLS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := kafkatest.StartSecure(t, c.sec, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
			p, err := New(Config{Seeds: sc.Seeds, UnknownTopicWait: time.Hour,
				Cluster: cluster.Config{Broker: c.cfg(sc)}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("v")})
			switch {
			case err == nil:
				t.Fatal("the record was written")
			case ctx.Err() != nil:
				t.Fatalf("the record waited for the test's deadline: %v", err)
			case !errors.Is(err, troupe.ErrNotWritten), !errors.Is(err, c.cause), !errors.Is(err, broker.ErrPermanent):
				t.Fatalf("err = %v; want not written, %v and permanent", err, c.cause)
			case !strings.Contains(err.Error(), sc.Seeds[0]):
				t.Fatalf("err = %v; it does not name the broker %s", err, sc.Seeds[0])
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
