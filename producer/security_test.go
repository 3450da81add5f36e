package producer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/kafkatest"
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

// TestCredentialsStayHidden runs a producer over SCRAM-SHA-512 and TLS, once with the
// right password and once with a wrong one, then over OAUTHBEARER (a two-broker kfake
// behind kafkatest.OAuthBearer), once with the right token and once with a wrong one,
// with every output captured: debug logs of the producer and its client, supervisor
// events, Actors(), the records' errors, and the configs printed with %v, %+v and %#v.
// Then the panics: an actor whose state holds each config panics with the config (its
// *PanicError, the "actor failed" log record with its stack, and the error's text are
// captured), and a panic(fmt.Sprint(cfg)) is recovered and printed. Neither password nor
// either token appears in any of them.
func TestCredentialsStayHidden(t *testing.T) {
	const (
		wrong      = "Wr0ng-pa55word-for-the-test"
		token      = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0cm91cGUifQ.good-producer-token"
		wrongToken = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0cm91cGUifQ.wrong-producer-token"
	)
	sc := kafkatest.StartSecure(t, kafkatest.Security{Mechanism: "SCRAM-SHA-512", TLS: true}, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	_, oauthSeeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"), kafkatest.OAuthBearer(token))
	var out kafkatest.LockedBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	onEvent := func(e troupe.Event) { fmt.Fprintf(&out, "event %v %+v\n", e, e) }
	type run struct {
		seeds []string
		sec   broker.Config
		wrong bool
	}
	runs := []run{
		{sc.Seeds, broker.Config{TLS: sc.TLS, SASL: sasl.SCRAMSHA512{User: kafkatest.SecureUser, Password: kafkatest.SecurePassword}}, false},
		{sc.Seeds, broker.Config{TLS: sc.TLS, SASL: sasl.SCRAMSHA512{User: kafkatest.SecureUser, Password: wrong}}, true},
	}
	for _, tok := range []string{token, wrongToken} {
		runs = append(runs, run{oauthSeeds, broker.Config{SASL: sasl.OAuthBearer{TokenSource: func(context.Context) (sasl.Token, error) {
			return sasl.Token{Value: tok, Extensions: map[string]string{"logicalCluster": "lkc-" + kafkatest.SecureUser}}, nil
		}}}, tok == wrongToken})
	}
	for _, r := range runs {
		cfg := Config{
			Seeds: r.seeds,
			// Long enough for a TLS and SASL handshake on a loaded machine (500 ms
			// failed the right credentials under -race at load 20); wrong ones fail at
			// once whatever it is (a permanent cause).
			UnknownTopicWait: 30 * time.Second,
			Logger:           logger,
			OnEvent:          onEvent,
			Cluster:          cluster.Config{Logger: logger, OnEvent: onEvent, Broker: r.sec},
		}
		fmt.Fprintf(&out, "config %v\n%+v\n%#v\n", cfg, cfg, cfg)
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for i := range 4 { // both partitions, so both brokers, of the OAUTHBEARER cluster
			err = p.ProduceSync(ctx, &troupe.Record{Topic: "t", Key: fmt.Append(nil, i), Value: []byte("v")})
			if r.wrong != (err != nil) {
				t.Fatalf("%v, wrong credentials %v: %v", r.sec.SASL, r.wrong, err)
			}
			fmt.Fprintf(&out, "produce: %v %+v\n", err, err)
		}
		fmt.Fprintf(&out, "actors %+v\n", p.Actors())
		fmt.Fprintf(&out, "close: %v\n", p.Close(ctx))
		cancel()
		panicsWith(t, &out, logger, cfg)
	}
	all := out.String()
	for _, want := range []string{"authentication failed", kafkatest.SecureUser, "OAUTHBEARER: SASL_AUTHENTICATION_FAILED", "SCRAM-SHA-512", `"holds-config" panicked`, `"msg":"actor failed"`, "recovered: {"} {
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

// panicsWith writes to out what a panic holding cfg shows: an actor, whose state is cfg,
// panics with it under logger, and its *PanicError is printed every way; then a
// panic(fmt.Sprint(cfg)) is recovered and printed.
func panicsWith(t *testing.T, out io.Writer, logger *slog.Logger, cfg Config) {
	t.Helper()
	type state struct{ Cfg Config }
	st := state{cfg}
	_, proc := actor.Start(context.Background(), "holds-config", actor.Func[int](func(context.Context, *actor.Inbox[int]) error {
		panic(st)
	}), actor.Options[int]{Logger: logger})
	select {
	case <-proc.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the panicking actor did not end")
	}
	var pe *actor.PanicError
	if !errors.As(proc.Err(), &pe) {
		t.Fatalf("the actor ended with %v, not a panic", proc.Err())
	}
	fmt.Fprintf(out, "actor: %v\n%+v\n%#v\nvalue %v %+v %#v\nstack %s\n", pe, pe, pe, pe.Value, pe.Value, pe.Value, pe.Stack)
	func() {
		defer func() { fmt.Fprintf(out, "recovered: %v\n", recover()) }()
		panic(fmt.Sprint(cfg))
	}()
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
