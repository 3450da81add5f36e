package producer_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// produceSeen records how produce requests named their topics.
type produceSeen struct {
	mu       sync.Mutex
	versions map[int16]bool
	byName   bool // a topic named by name
	byID     bool // a topic named by ID
}

func watchProduce(c *kfake.Cluster) *produceSeen {
	s := &produceSeen{versions: map[int16]bool{}}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.versions[r.Version] = true
		for _, t := range r.Topics {
			s.byName = s.byName || t.Topic != ""
			s.byID = s.byID || t.TopicID != [16]byte{}
		}
		return nil, nil, false
	})
	return s
}

// Produce v13 names topics by ID (KIP-516): troupe uses it where the broker speaks it and
// the metadata gave the topic's ID, and names topics by name before (Kafka 4.0, Produce
// v12) or where there are no topic IDs at all (Kafka 2.7).
func TestProduceNamesTopicsByIDFromV13(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     *kversion.Versions
		version int16
		byID    bool
	}{
		{"latest", nil, 13, true},
		{"4.0", kversion.V4_0_0(), 12, false},
		{"2.7", kversion.V2_7_0(), 8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, "t")}
			if tc.max != nil {
				opts = append(opts, kfake.MaxVersions(tc.max))
			}
			c, seeds := kafkatest.Start(t, opts...)
			seen := watchProduce(c)
			p := newProducer(t, producer.Config{Seeds: seeds, Linger: time.Millisecond})
			next := map[int32]int64{} // each partition's offsets come in order from 0
			for i := range 20 {
				r := &troupe.Record{Topic: "t", Value: []byte(fmt.Sprint(i))}
				if err := p.ProduceSync(context.Background(), r); err != nil || r.Offset != next[r.Partition] {
					t.Fatalf("record %d: %s[%d] at offset %d (want %d), %v", i, r.Topic, r.Partition, r.Offset, next[r.Partition], err)
				}
				next[r.Partition]++
			}
			seen.mu.Lock()
			defer seen.mu.Unlock()
			if len(seen.versions) != 1 || !seen.versions[tc.version] || seen.byID != tc.byID || seen.byName == tc.byID {
				t.Fatalf("produce versions %v, by ID %v, by name %v; want v%d, by ID %v", seen.versions, seen.byID, seen.byName, tc.version, tc.byID)
			}
		})
	}
}
