package consumer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// A consumer whose seeds refuse connections says so: ConsumePartition's error matches
// cluster.ErrUnavailable and carries the refused connection with the broker's address,
// where it said only "circuit breaker is open". Close then returns at once.
func TestRefusedSeedsNameTheBrokerAndTheCause(t *testing.T) {
	seed := fmt.Sprintf("127.0.0.1:%d", kafkatest.FreePort(t))
	rec := newRecorder()
	cfg := testConfig([]string{seed}, rec)
	cfg.Cluster.Breaker = supervisor.BreakerConfig{Errors: 1, Timeout: time.Hour}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ConsumePartition(ctxT(t), "events", 0, Oldest())
	switch {
	case !errors.Is(err, cluster.ErrUnavailable):
		t.Fatalf("does not match cluster.ErrUnavailable: %v", err)
	case !errors.Is(err, broker.ErrNetwork), !errors.Is(err, syscall.ECONNREFUSED), !strings.Contains(err.Error(), seed):
		t.Fatalf("does not carry the refused connection and the broker's address: %v", err)
	case errors.Is(err, ErrUnknownTopic):
		t.Fatalf("reads as an unknown topic though no broker answered: %v", err)
	}
	closeWithin(t, c, 5*time.Second)
}

// closeWithin closes c with a context of d and fails the test if Close needed all of it.
func closeWithin(t *testing.T, c *Consumer, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// A partition consumer whose broker goes away mid-read reports, as the outage starts,
// which broker failed and why; Close then returns promptly.
func TestOutageNamesTheBrokerAndCloseIsPrompt(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 3)
	rec := newRecorder()
	c, err := New(testConfig(seeds, rec))
	if err != nil {
		t.Fatal(err)
	}
	pc := consume(t, c, "t", 0, Oldest())
	if b, err := pc.Next(ctxT(t)); err != nil || len(b.Records) == 0 {
		t.Fatalf("first batch: %v", err)
	}
	kc.Close()
	e := rec.waitFor(t, "unsubscribed with a network error", func(e troupe.Event) bool {
		u, ok := e.(Unsubscribed)
		return ok && errors.Is(u.Err, broker.ErrNetwork)
	}).(Unsubscribed)
	if !strings.Contains(e.Err.Error(), seeds[0]) {
		t.Fatalf("the outage does not name the broker: %v", e)
	}
	closeWithin(t, c, 5*time.Second)
}
