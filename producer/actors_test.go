package producer

import (
	"context"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestActorsListTheOwnClient: a producer that opened its own client lists the client's
// actors (its connections and metadata actor) under "cluster", and Client returns it; a
// producer on a shared client lists only its own actors.
func TestActorsListTheOwnClient(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	find := func(infos []actor.Info, name string) *actor.Info {
		for i := range infos {
			if infos[i].Name == name {
				return &infos[i]
			}
		}
		return nil
	}

	own, err := New(Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := own.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	c := find(own.Actors(), "cluster")
	if c == nil || find(c.Children, "metadata") == nil || own.Client() == nil {
		t.Fatalf("own client: Actors() = %+v; want a cluster subtree with the metadata actor", own.Actors())
	}

	shared, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close(context.Background())
	p, err := New(Config{Client: shared})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if find(p.Actors(), "cluster") != nil || p.Client() != shared {
		t.Fatalf("shared client: Actors() = %+v, Client() = %p; want no cluster subtree and the shared client", p.Actors(), p.Client())
	}
}
