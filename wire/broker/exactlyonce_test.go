package broker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEveryCallEndsOnceAndNotSentMeansNotSeen sends many pipelined calls while the broker
// closes connections at random, and checks for every call: it completed exactly once;
// success means the broker saw it; "not sent" means the broker never saw it.
func TestEveryCallEndsOnceAndNotSentMeansNotSeen(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	var mu sync.Mutex
	seen := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range req.(*kmsg.MetadataRequest).Topics {
			if tp.Topic != nil {
				seen[*tp.Topic] = true
			}
		}
		if rng.IntN(25) == 0 {
			return nil, errors.New("injected: drop the connection"), true
		}
		return nil, nil, false
	})
	p := startPool(t, broker.Config{
		MaxInflight: 5,
		Backoff:     supervisor.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond},
		Breaker:     supervisor.BreakerConfig{Errors: 1 << 20}, // never open: every call must be tried
	})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)

	const n = 2000
	var count [n]atomic.Int32
	results := make(chan *broker.Call, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		req := metadataReq()
		req.Topics = []api.MetadataRequestTopic{{Name: ptr(fmt.Sprintf("call-%d", i))}}
		call := &broker.Call{Request: req, Done: func(c *broker.Call) {
			count[i].Add(1)
			results <- c
		}}
		if err := h.Send(ctx, call); err != nil {
			t.Fatal(err)
		}
	}
	var ok, maybe, notSent int
	for range n {
		var c *broker.Call
		select {
		case c = <-results:
		case <-ctx.Done():
			t.Fatalf("only %d of %d calls completed", ok+maybe+notSent, n)
		}
		name := *c.Request.(*api.MetadataRequest).Topics[0].Name
		mu.Lock()
		wasSeen := seen[name]
		mu.Unlock()
		switch {
		case c.Err == nil:
			ok++
			if !wasSeen {
				t.Fatalf("%s succeeded but the broker never saw it", name)
			}
		case errors.Is(c.Err, broker.ErrMaybeSent):
			maybe++
		case errors.Is(c.Err, broker.ErrNotSent):
			notSent++
			if wasSeen {
				t.Fatalf("%s reported not sent, but the broker saw it: %v", name, c.Err)
			}
		default:
			t.Fatalf("%s: unclassified %v", name, c.Err)
		}
	}
	for i := range count {
		if got := count[i].Load(); got != 1 {
			t.Fatalf("call %d completed %d times", i, got)
		}
	}
	if maybe == 0 {
		t.Fatal("no connection was dropped: the test did not test anything")
	}
	t.Logf("%d ok, %d may have been sent, %d not sent", ok, maybe, notSent)
}
