package consumer

import (
	"context"
	"runtime"
	"testing"
	"weak"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestIdleReaderRetainsNoResponse: once a reader's user has dropped the records it
// polled, nothing of the consumer keeps the fetch responses they came in (their Keys and
// Values alias them). Before, each broker consumer's record scanner kept the last
// partition's bytes it scanned, and so the whole last response that carried records, for
// as long as no later response carried any: an idle consumer of 3000 partitions held
// ~0.5 MiB of old responses (docs/benchmarks.md, the idle consumer's live heap). Nor
// does the finished fetch a broker consumer keeps for its maps keep its response.
func TestIdleReaderRetainsNoResponse(t *testing.T) {
	const parts = 40
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(parts, "t"))
	log := watchFetches(kc)
	for p := range int32(parts) {
		produce(t, seeds, "t", p, 0, 1)
	}
	c := newConsumer(t, testConfig(seeds, newRecorder()))
	ctx := ctxT(t)
	r, err := c.ReadTopics(ctx, Oldest(), "t")
	if err != nil {
		t.Fatal(err)
	}
	values := readAndForget(ctx, t, r, parts)
	// Idle now: the broker consumer's fetches come back empty. Once one of them has
	// been answered (the second request after this point: one fetch is in flight at a
	// time), nothing of the consumer may keep a response that carried records.
	next := log.waitFor(t, "after the records were polled", log.mark(), func(seenFetch) bool { return true })
	log.waitFor(t, "after an empty fetch was answered", next.at+1, func(seenFetch) bool { return true })
	for range 3 {
		runtime.GC()
	}
	kept := 0
	for _, w := range values {
		if w.Value() != nil {
			kept++
		}
	}
	if kept > 0 {
		t.Fatalf("%d of %d polled records' values (their fetch responses) still reachable after the user dropped them", kept, len(values))
	}
}

// readAndForget polls r until it has n records and returns weak pointers to their values'
// bytes, keeping nothing else of them.
func readAndForget(ctx context.Context, t *testing.T, r *Reader, n int) []weak.Pointer[byte] {
	t.Helper()
	var out []weak.Pointer[byte]
	for len(out) < n {
		bs, err := r.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.Err != nil {
				t.Fatal(b.Err)
			}
			for _, rec := range b.Records {
				out = append(out, weak.Make(&rec.Value[0]))
			}
		}
	}
	return out
}
