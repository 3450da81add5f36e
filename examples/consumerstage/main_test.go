package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/actorhook"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The go-resiliency breaker's timer goroutine sleeps out the breaker timeout and
		// ends by itself; see supervisor's tests.
		goleak.IgnoreAnyFunction("github.com/eapache/go-resiliency/breaker.(*Breaker).timer"),
	)
}

func TestStagesDeliverEveryOrderInOrder(t *testing.T) {
	var out bytes.Buffer
	cfg := config{topic: "orders", partitions: 3, records: 400, slow: 80 * time.Millisecond}
	if err := run(context.Background(), &out, cfg); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"embedded kfake cluster", "wrote 400 orders to each of 3 partitions", "orders[0]: batch not taken within", "done: 1200 orders arrived once each, in order"} {
		if !strings.Contains(s, want) {
			t.Fatalf("output lacks %q:\n%s", want, s)
		}
	}
	if vs := actorhook.Violations(); len(vs) > 0 {
		t.Fatalf("ownership violations: %v", vs)
	}
}
