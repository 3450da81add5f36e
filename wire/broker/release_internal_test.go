//go:build troupecheck

package broker

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/twmb/franz-go/pkg/kfake"
)

// A connection that wrote a large request keeps the write buffer it grew for it only
// while it has something to write: once everything queued is written it parks the buffer
// in the shared pool at once, with no timer (so an idle connection never wakes to give it
// back), and the next request, large or small, is written as before. (Before the
// release, an idle produce connection of a producer of 3000 partitions kept hundreds of
// KiB for good; then a timer gave them back 2 s after the last write, and was the one
// thing that woke an idle producer.)
func TestIdleConnectionGivesBackItsWriteBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vn := &kfake.VirtualNetwork{}
		cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9092), kfake.ListenFn(vn.Listen))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()

		type caps struct{ before, after int }
		released := make(chan caps, 16)
		cfg := Config{Dial: vn.DialContext}
		cfg.seams.released = func(before, after int) { released <- caps{before, after} }
		pool, err := NewPool(cfg)
		if err != nil {
			t.Fatal(err)
		}
		proc := pool.Start(context.Background())
		defer func() {
			if err := proc.Stop(context.Background()); err != nil {
				t.Errorf("stopping the pool: %v", err)
			}
		}()
		h, err := pool.Conn(Node{ID: -1, Addr: cl.ListenAddrs()[0]}, Admin)
		if err != nil {
			t.Fatal(err)
		}
		// A metadata request naming 2000 topics: about 50 KiB to encode.
		var big api.MetadataRequest
		big.Default()
		for i := range 2000 {
			big.Topics = append(big.Topics, api.MetadataRequestTopic{Name: ptr(fmt.Sprintf("a-topic-with-a-long-name-%06d", i))})
		}
		var small api.MetadataRequest
		small.Default()
		for round := range 3 {
			start := time.Now()
			if _, err := h.Do(context.Background(), &big); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // the writer waits for its next call
			select {
			case c := <-released:
				if c.before <= keepBuf || c.after > keepBuf {
					t.Fatalf("round %d: write buffer %d bytes before the release, %d after; want > %d before, at most %d after", round, c.before, c.after, keepBuf, keepBuf)
				}
			default:
				t.Fatalf("round %d: a connection with nothing to write kept the buffers it grew for a large request", round)
			}
			if since := time.Since(start); since != 0 {
				t.Fatalf("round %d: the buffer was given back %v after the request, want at once (no timer)", round, since)
			}
			if _, err := h.Do(context.Background(), &small); err != nil { // and it works on
				t.Fatal(err)
			}
			synctest.Wait()
			for len(released) > 0 { // a small request may have taken the parked buffer: it parks it again
				if c := <-released; c.after > keepBuf {
					t.Fatalf("round %d: after a small request the writer kept %d bytes", round, c.after)
				}
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
