package cluster_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// readsOnce fails the test if err's message says something twice: one of sentinels' texts
// more than once, a package's "name: " prefix more than once, or more than one line.
func readsOnce(t *testing.T, err error, sentinels ...error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error of more than one line: %q", msg)
	}
	for _, s := range sentinels {
		if n := strings.Count(msg, s.Error()); n > 1 {
			t.Errorf("%q says %q %d times", msg, s.Error(), n)
		}
	}
	for _, prefix := range []string{"cluster: ", "broker: ", "actor: "} {
		if n := strings.Count(msg, prefix); n > 1 {
			t.Errorf("%q says %q %d times", msg, prefix, n)
		}
	}
}

// Closed is one idea: a closed client's errors match troupe.ErrClosed as well as
// cluster.ErrClosed, and say so once.
func TestClosedClientFailsWithTheOneClosed(t *testing.T) {
	if !errors.Is(cluster.ErrClosed, troupe.ErrClosed) {
		t.Fatal("cluster.ErrClosed does not match troupe.ErrClosed")
	}
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	c, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, cluster.ErrClosed) || !errors.Is(err, troupe.ErrClosed) {
			t.Fatalf("%s after Close: %v; want cluster.ErrClosed and troupe.ErrClosed", what, err)
		}
		readsOnce(t, err, cluster.ErrClosed)
	}
	_, err = c.Refresh(ctxT(t), "t")
	check("Refresh", err)
	errs := make(chan error, 1)
	c.RefreshAsync(func(_ *cluster.Snapshot, err error) { errs <- err }, "t")
	select {
	case err := <-errs:
		check("RefreshAsync", err)
	case <-ctxT(t).Done():
		t.Fatal("RefreshAsync after Close did not answer")
	}
}

// The error of a refresh that no broker answers names the broker and the cause once each.
func TestUnavailableReadsOnce(t *testing.T) {
	dead := "127.0.0.1:" + strconv.Itoa(kafkatest.FreePort(t))
	c := open(t, cluster.Config{Seeds: []string{dead}, MinRefreshInterval: time.Millisecond,
		Breaker: breakerCfg(2, time.Hour)})
	var err error
	for i := 0; i < 50 && !errors.Is(err, cluster.ErrUnavailable); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err = c.Refresh(ctx)
		cancel()
	}
	if !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("refresh against a dead seed: %v", err)
	}
	t.Log(err)
	readsOnce(t, err, cluster.ErrUnavailable, broker.ErrNetwork, broker.ErrNotSent)
}
