package group

import (
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOneCoordinatorLookupToTheFirstRecord: a member finds its coordinator once, and its
// first offset fetch goes there without a lookup of its own: the member actor notes what
// it found in the client (cluster.Client.NoteCoordinator), which the offset fetch and the
// commits ask. Before, a fresh client's first OffsetFetch asked FindCoordinator again: a
// round trip between a newcomer's assignment and its first fetch (issue 21, join into).
func TestOneCoordinatorLookupToTheFirstRecord(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"classic", testGroupConfig("g1")},
		{"consumer protocol", consumerConfig("g2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const parts = 3
			kc, seeds := kfake848(t, parts)
			produceN(t, seeds, parts, 0, 4)
			var finds atomic.Int32
			kc.ControlKey(int16(kmsg.FindCoordinator), func(kmsg.Request) (kmsg.Response, error, bool) {
				kc.KeepControl()
				finds.Add(1)
				return nil, nil, false
			})
			col := join(t, seeds, tc.cfg, "m1")
			readsEverything(t, col, parts, 4)
			if n := finds.Load(); n != 1 {
				t.Fatalf("%d FindCoordinator requests from the join to the last record, want the member's one", n)
			}
		})
	}
}
