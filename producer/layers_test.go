package producer_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/twmb/franz-go/pkg/kfake"
)

// eventLog collects events and lets a test wait, with a deadline, for one that matches.
type eventLog struct {
	mu     sync.Mutex
	events []troupe.Event
	added  chan struct{}
}

func newEventLog() *eventLog { return &eventLog{added: make(chan struct{}, 1)} }

func (l *eventLog) add(e troupe.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
}

func (l *eventLog) waitFor(t *testing.T, what string, match func(troupe.Event) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		for _, e := range l.events {
			if match(e) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		select {
		case <-l.added:
		case <-deadline:
			t.Fatalf("no event: %s", what)
		}
	}
}

// TestOneLoggerAndOnEventReachEveryLayer sets Logger and OnEvent once, on the
// producer.Config of a producer that opens its own client, and checks that both receive
// what every layer reports: the producer's actors, the cluster client's metadata actor
// and the broker connections under it. Actors() shows the client's tree.
func TestOneLoggerAndOnEventReachEveryLayer(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	log := kafkatest.NewKindLog()
	ev := newEventLog()
	cfg := producer.Config{Seeds: seeds, Linger: -1, Logger: slog.New(log), OnEvent: ev.add}
	p := newProducer(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}

	ev.waitFor(t, "a broker connection started, from the client's pool", func(e troupe.Event) bool {
		s, ok := e.(supervisor.Started)
		return ok && s.Supervisor == "brokers" && s.Source() == s.Child
	})
	ev.waitFor(t, "the client's metadata actor started", func(e troupe.Event) bool {
		s, ok := e.(supervisor.Started)
		return ok && s.Supervisor == "cluster"
	})
	ev.waitFor(t, "a producer actor started", func(e troupe.Event) bool {
		s, ok := e.(supervisor.Started)
		return ok && s.Supervisor == "producer"
	})
	for _, kind := range []string{"broker-conn", "metadata", "broker-producer", "partition-driver"} {
		if !log.Has(kind) {
			t.Errorf("the producer's Logger has no record from a %s actor", kind)
		}
	}

	var cl *actor.Info
	for _, a := range p.Actors() {
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
		t.Fatalf("Actors() lacks the client's subtree: %+v", p.Actors())
	}
}
