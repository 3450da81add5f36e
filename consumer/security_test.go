package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
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

			c, err := New(Config{Seeds: sc.Seeds, Cluster: cluster.Config{Broker: broker.Config{SASL: sc.SASL, TLS: sc.TLS}}})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := c.Close(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			pc, err := c.ConsumePartition(ctx, "t", 0, Oldest())
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

// TestCredentialsStayHidden runs a consumer over SCRAM-SHA-256 and TLS, once with the
// right password and once with a wrong one, then over OAUTHBEARER (kfake behind
// kafkatest.OAuthBearer), once with the right token and once with a wrong one,
// capturing its debug logs and its client's, its events and the client's supervisor
// events, Actors(), the errors it returns, and the configs printed with %v, %+v and
// %#v. In each run with the right credentials the broker consumer, an actor whose state
// holds the consumer and so the mechanism, panics once on the fetched records (the
// faults seam): the panic's "actor failed" log record, with its stack, and its events
// are captured too. Neither password nor either token appears in any of them.
func TestCredentialsStayHidden(t *testing.T) {
	const (
		wrong      = "Wr0ng-consumer-pa55word"
		token      = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0cm91cGUifQ.good-consumer-token"
		wrongToken = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0cm91cGUifQ.wrong-consumer-token"
	)
	sc := kafkatest.StartSecure(t, kafkatest.Security{Mechanism: "SCRAM-SHA-256", TLS: true}, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	_, oauthSeeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kafkatest.OAuthBearer(token))
	for _, opts := range [][]kgo.Opt{
		append(sc.Kgo, kgo.SeedBrokers(sc.Seeds...)),
		{kgo.SeedBrokers(oauthSeeds...), kgo.SASL(oauth.Auth{Token: token}.AsMechanism())},
	} {
		cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic("t"))...)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	var out kafkatest.LockedBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	type run struct {
		seeds []string
		sec   broker.Config
		wrong bool
	}
	runs := []run{
		{sc.Seeds, broker.Config{TLS: sc.TLS, SASL: sasl.SCRAMSHA256{User: kafkatest.SecureUser, Password: kafkatest.SecurePassword}}, false},
		{sc.Seeds, broker.Config{TLS: sc.TLS, SASL: sasl.SCRAMSHA256{User: kafkatest.SecureUser, Password: wrong}}, true},
	}
	for _, tok := range []string{token, wrongToken} {
		runs = append(runs, run{oauthSeeds, broker.Config{SASL: sasl.OAuthBearer{TokenSource: func(context.Context) (sasl.Token, error) {
			return sasl.Token{Value: tok, Extensions: map[string]string{"logicalCluster": "lkc-" + kafkatest.SecureUser}}, nil
		}}}, tok == wrongToken})
	}
	for _, r := range runs {
		cfg := Config{
			Seeds:   r.seeds,
			Logger:  logger,
			OnEvent: func(e troupe.Event) { fmt.Fprintf(&out, "event %v %+v\n", e, e) },
			Cluster: cluster.Config{
				Logger:  logger,
				OnEvent: func(e troupe.Event) { fmt.Fprintf(&out, "event %v %+v\n", e, e) },
				Broker:  r.sec,
			},
		}
		fmt.Fprintf(&out, "config %v\n%+v\n%#v\n", cfg, cfg, cfg)
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.faults.brokerConsumer.Store(1)
		wait := 10 * time.Second
		if r.wrong {
			wait = 2 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		pc, err := c.ConsumePartition(ctx, "t", 0, Oldest())
		if err == nil {
			var b *Batch
			if b, err = pc.Next(ctx); err == nil {
				fmt.Fprintf(&out, "batch of %d records: %+v\n", len(b.Records), b.Records)
			}
		}
		if r.wrong != (err != nil) {
			t.Fatalf("%v, wrong credentials %v: %v", r.sec.SASL, r.wrong, err)
		}
		if !r.wrong && c.faults.brokerConsumer.Load() != 0 {
			t.Fatal("the broker consumer did not panic")
		}
		fmt.Fprintf(&out, "consume: %v %+v\nactors %+v\n", err, err, c.Actors())
		fmt.Fprintf(&out, "close: %v\n", c.Close(ctx))
		cancel()
	}
	all := out.String()
	wants := []string{"authentication failed", kafkatest.SecureUser, "OAUTHBEARER: SASL_AUTHENTICATION_FAILED", "SCRAM-SHA-256"}
	if faultsOn { // the injected panic exists only where the fault seams do
		wants = append(wants, "injected broker consumer failure", `"stack":"goroutine`)
	}
	for _, want := range wants {
		if !strings.Contains(all, want) {
			t.Fatalf("the outputs lack %q, so they prove nothing:\n%s", want, all)
		}
	}
	for _, secret := range []string{kafkatest.SecurePassword, wrong, token, wrongToken} {
		if i := strings.Index(all, secret); i >= 0 {
			t.Fatalf("%q appears in the outputs: …%s…", secret, all[max(0, i-200):min(len(all), i+100)])
		}
	}
}
