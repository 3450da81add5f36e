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
// while it is busy: idle for idleRelease, it gives the buffer back, and the next request
// is written as before. (Before the release, an idle produce connection of a producer of
// 3000 partitions kept hundreds of KiB for good.)
func TestIdleConnectionGivesBackItsWriteBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vn := &kfake.VirtualNetwork{}
		cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9092), kfake.ListenFn(vn.Listen))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()

		type caps struct{ before, after int }
		released := make(chan caps, 4)
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
		if _, err := h.Do(context.Background(), &big); err != nil {
			t.Fatal(err)
		}
		// Busy for a while: a request every idleRelease/4 keeps the buffer.
		var small api.MetadataRequest
		small.Default()
		for range 8 {
			time.Sleep(idleRelease / 4)
			if _, err := h.Do(context.Background(), &small); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-released:
				t.Fatalf("a busy connection gave back its buffer (%d -> %d bytes)", c.before, c.after)
			default:
			}
		}
		time.Sleep(idleRelease + time.Second) // idle
		synctest.Wait()
		select {
		case c := <-released:
			if c.before <= keepBuf || c.after > keepBuf {
				t.Fatalf("write buffer %d bytes before the release, %d after; want > %d before, at most %d after", c.before, c.after, keepBuf, keepBuf)
			}
		default:
			t.Fatal("an idle connection kept the buffers it grew for a large request")
		}
		if _, err := h.Do(context.Background(), &big); err != nil { // and it works on
			t.Fatal(err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
