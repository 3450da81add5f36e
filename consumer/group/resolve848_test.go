package group

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConsumerProtocolNamesTopicsFromTheSnapshot: a KIP-848 member whose client knows
// the subscribed topic already takes its first assignment (named by topic ID) without a
// metadata request of its own, which would wait out the client's MinRefreshInterval
// after the last one (a quarter of a second by default, before the first record).
func TestConsumerProtocolNamesTopicsFromTheSnapshot(t *testing.T) {
	const parts = 2
	kc, seeds := kfake848(t, parts)
	produceN(t, seeds, parts, 0, 5)
	c := newConsumerWith(t, seeds, func(c *consumer.Config) {
		// Long enough that a refresh would show as a stall, were it waited for.
		c.Cluster.MinRefreshInterval = time.Minute
	})
	if _, err := c.Client().Refresh(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	kc.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		requests.Add(1)
		return nil, nil, false
	})
	col := joinOn(t, c, consumerConfig("gr"), "m1")
	readsEverything(t, col, parts, 5)
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d metadata requests while the member took its assignment, want none: the client knew the topic", n)
	}
}
