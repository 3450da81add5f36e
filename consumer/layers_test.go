package consumer

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestOneLoggerAndOnEventReachEveryLayer sets Logger and OnEvent once, on the
// consumer.Config of a consumer that opens its own client, and checks that both receive
// what every layer reports: the consumer's own events, its actors, the cluster client's
// metadata actor and the broker connections under it. Actors() shows the client's tree.
func TestOneLoggerAndOnEventReachEveryLayer(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 5)
	log := kafkatest.NewKindLog()
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	cfg.Logger = slog.New(log)
	if cfg.Cluster.Logger != nil || cfg.Cluster.OnEvent != nil || cfg.Cluster.Broker.Logger != nil || cfg.Cluster.Broker.OnEvent != nil {
		t.Fatal("the test must leave the nested configs' Logger and OnEvent unset")
	}
	c := newConsumer(t, cfg)
	newReader(t, consume(t, c, "t", 0, Oldest()), 0).mustRead(5)

	rec.waitFor(t, "a broker connection started, from the client's pool", func(e troupe.Event) bool {
		s, ok := e.(supervisor.Started)
		return ok && s.Supervisor == "brokers" && s.Source() == s.Child
	})
	rec.waitFor(t, "the client's metadata actor started", func(e troupe.Event) bool {
		s, ok := e.(supervisor.Started)
		return ok && s.Supervisor == "cluster"
	})
	rec.waitFor(t, "a consumer event", func(e troupe.Event) bool {
		s, ok := e.(Subscribed)
		return ok && s.Source() == "t[0]"
	})
	rec.waitFor(t, "a consumer actor started", func(e troupe.Event) bool {
		s, ok := e.(supervisor.Started)
		return ok && strings.HasPrefix(s.Child, "feeder ")
	})
	for _, kind := range []string{"broker-conn", "metadata", "broker-consumer", "feeder", "dispatcher"} {
		if !log.Has(kind) {
			t.Errorf("the consumer's Logger has no record from a %s actor", kind)
		}
	}
	if !log.Said("subscribed to broker") {
		t.Error("the consumer's Logger has no record of its own events")
	}

	var cl *actor.Info
	for _, a := range c.Actors() {
		if a.Name == "cluster" {
			cl = &a
		}
	}
	kinds := make(map[string]bool)
	var walk func([]actor.Info)
	walk = func(as []actor.Info) {
		for _, a := range as {
			kinds[a.Kind] = true
			walk(a.Children)
		}
	}
	if cl != nil {
		walk(cl.Children)
	}
	if !kinds["broker-conn"] || !kinds["metadata"] {
		t.Fatalf("Actors() lacks the client's subtree:\n%s", dumpActors(c.Actors()))
	}
}

// TestASharedClientKeepsItsOwnHooks checks the other side of the rule: a client given as
// Config.Client is configured by whoever opened it, and Actors() does not list it.
func TestASharedClientKeepsItsOwnHooks(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	client, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close(context.Background())
	cfg := testConfig(nil, newRecorder())
	cfg.Seeds, cfg.Cluster, cfg.Client = nil, cluster.Config{}, client // a shared client is configured where it is opened
	c := newConsumer(t, cfg)
	for _, a := range c.Actors() {
		if a.Name == "cluster" {
			t.Fatalf("a shared client is listed by the consumer:\n%s", dumpActors(c.Actors()))
		}
	}
}
