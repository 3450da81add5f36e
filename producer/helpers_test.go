package producer_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
)

func clusterAuto() cluster.Config { return cluster.Config{AllowAutoTopicCreation: true} }

func codecs() []record.Compression {
	return []record.Compression{{Codec: record.None}, {Codec: record.Gzip}, {Codec: record.Snappy}, {Codec: record.LZ4}, {Codec: record.Zstd}}
}

func clusterFast() cluster.Config { return cluster.Config{MinRefreshInterval: 10 * time.Millisecond} }

// syncTestWithin runs f under testing/synctest and fails the test if it has not ended
// after d of real time: a goroutine that never blocks durably (a busy loop) keeps the
// bubble's clock from advancing, so stuck says what the clock could not reach.
func syncTestWithin(t *testing.T, d time.Duration, stuck string, f func(t *testing.T)) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		synctest.Test(t, f)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("the producer's goroutines never all blocked: %s (a busy loop)", stuck)
	}
}
