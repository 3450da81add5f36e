package consumer

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestOlderBrokers consumes, across a leader move, from clusters that speak older
// protocol versions: Kafka 2.8 (Fetch v12, by topic name, with topic IDs in metadata),
// 2.7 (no topic IDs at all: fetches are capped at v12 by troupe) and 2.1 (Fetch v10; 2.1
// has OffsetForLeaderEpoch v2, but kfake serves it only from v3, so this is a broker
// without it, and the truncation check after the move is skipped).
func TestOlderBrokers(t *testing.T) {
	for name, v := range map[string]*kversion.Versions{"2.8": kversion.V2_8_0(), "2.7": kversion.V2_7_0(), "2.1": kversion.V2_1_0()} {
		t.Run(name, func(t *testing.T) {
			kc, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"), kfake.MaxVersions(v))
			produceAll(t, seeds, "t", 2, 0, 30)
			mid := nextMillisecond()
			produceAll(t, seeds, "t", 2, 30, 30)
			rec := newRecorder()
			c := newConsumer(t, testConfig(seeds, rec))
			rs := []*reader{newReader(t, consume(t, c, "t", 0, Oldest()), 0), newReader(t, consume(t, c, "t", 1, AtTime(mid)), 30)}
			readAll(t, rs[:1], 60)
			readAll(t, rs[1:], 30)
			for p := range int32(2) {
				if err := kc.MoveTopicPartition("t", p, 1-kc.LeaderFor("t", p)); err != nil {
					t.Fatal(err)
				}
			}
			produceAll(t, seeds, "t", 2, 60, 20)
			readAll(t, rs, 20)
			if n := rec.count(isA[OffsetReset]) + rec.count(isA[LogTruncation]); n > 0 {
				t.Fatalf("loss reported:\n%s", rec.dump())
			}
		})
	}
}
