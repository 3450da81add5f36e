package docscheck_test

import (
	"context"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/producer"
)

// testTimeout bounds every wait of these tests: long enough for a loaded 2-core machine
// running the race detector, short enough to fail rather than hang.
const testTimeout = 60 * time.Second

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor waits for cond, checking every millisecond, and fails the test after
// testTimeout: a condition with a deadline, not a sleep.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(testTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("%s: not within %v", what, testTimeout)
		case <-tick.C:
		}
	}
}

// newProducer starts a producer that the test closes when it ends.
func newProducer(t *testing.T, cfg producer.Config) *producer.Producer {
	t.Helper()
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// child returns the info of the child named name among infos, or nil.
func child(infos []actor.Info, name string) *actor.Info {
	for i := range infos {
		if infos[i].Name == name {
			return &infos[i]
		}
	}
	return nil
}
