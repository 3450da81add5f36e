package broker_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAbandonedCallsAreNotWritten abandons a call queued behind a request the broker holds
// (one pipelining slot, so it cannot be written meanwhile) and another before sending it:
// both finish once, not sent, with ErrAbandoned, and never reach the broker; the calls
// around them are answered as usual.
func TestAbandonedCallsAreNotWritten(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "z"))
	fetch, held, release := holdFetch(kc)
	var metadata atomic.Int32
	kc.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		metadata.Add(1)
		return nil, nil, false
	})
	p := startPool(t, broker.Config{MaxInflight: 1})
	h, err := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	done := make(chan *broker.Call, 4)
	call := func(req api.Request) *broker.Call {
		return &broker.Call{Request: req, VersionCap: 12, Done: func(c *broker.Call) { done <- c }}
	}
	first := call(fetch)
	if err := h.Send(ctx, first); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the fetch did not reach the broker")
	}
	queued, before, after := call(metadataReq()), call(metadataReq()), call(metadataReq())
	before.Abandon()
	for _, c := range []*broker.Call{queued, before, after} {
		if err := h.Send(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	queued.Abandon()
	queued.Abandon() // more than once is fine
	release()
	got := map[*broker.Call]int{}
	for range 4 {
		select {
		case c := <-done:
			got[c]++
		case <-ctx.Done():
			t.Fatalf("%d of 4 calls done", len(got))
		}
	}
	for _, c := range []*broker.Call{first, after} {
		if got[c] != 1 || c.Err != nil {
			t.Fatalf("a call not abandoned: done %d times, err %v", got[c], c.Err)
		}
	}
	for _, c := range []*broker.Call{queued, before} {
		if got[c] != 1 || !errors.Is(c.Err, broker.ErrAbandoned) || !errors.Is(c.Err, broker.ErrNotSent) || broker.Retriable(c.Err) {
			t.Fatalf("an abandoned call: done %d times, err %v", got[c], c.Err)
		}
	}
	if n := metadata.Load(); n != 1 {
		t.Fatalf("the broker got %d metadata requests, want 1 (abandoned ones were written)", n)
	}
}

// holdFetch makes kfake hold the first fetch it gets, and with it everything else, until
// release is called: it returns a fetch request and a channel closed once the broker
// holds it.
func holdFetch(kc *kfake.Cluster) (fetch *api.FetchRequest, held <-chan struct{}, release func()) {
	h, r := make(chan struct{}), make(chan struct{})
	kc.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(h)
		<-r // kfake handles nothing else meanwhile
		return nil, nil, false
	})
	fetch = new(api.FetchRequest)
	fetch.Default()
	fetch.MinBytes, fetch.MaxBytes = 1, 1<<20
	return fetch, h, func() { close(r) }
}
