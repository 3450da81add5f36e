package producer_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Records for a topic not described yet take the actor path (the dispatcher and the topic
// producer, which waits for metadata); once the topic is described, Produce appends
// records itself. No record appended that way overtakes an earlier one still on the
// actor path: one goroutine's records of one partition get offsets in the order it
// produced them, across the moment metadata arrives, and the later ones did skip the
// actor path.
func TestDirectAppendsDoNotOvertakeTheActorPath(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	p := newProducer(t, producer.Config{Seeds: seeds, Cluster: clusterAuto(), MaxBatchRecords: 7})
	// Produce until records skip the dispatcher (the topic is described and what took
	// the actor path drained), then 2000 more.
	const most = 1 << 20
	var recs []*troupe.Record
	o := newOutcomes(most)
	n, stop := 0, most
	for ; n < stop; n++ {
		recs = append(recs, &troupe.Record{Topic: "fresh", Value: fmt.Appendf(nil, "%d", n)})
		p.Produce(context.Background(), recs[n], o.cb)
		if n%100 == 0 && stop == most && sentTo(p.Actors(), "dispatcher") < uint64(n+1) {
			stop = n + 2000
		}
	}
	if stop == most {
		t.Fatalf("all %d records took the actor path", n)
	}
	o.mu.Lock()
	o.want = n
	if len(o.got) == n {
		close(o.done)
	}
	o.mu.Unlock()
	o.wait(t)
	for i := range recs {
		if err := o.got[recs[i]]; err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if i > 0 && recs[i].Offset <= recs[i-1].Offset {
			t.Fatalf("record %d at offset %d, after record %d at offset %d", i, recs[i].Offset, i-1, recs[i-1].Offset)
		}
	}
	t.Logf("%d of %d records took the actor path", sentTo(p.Actors(), "dispatcher"), n)
}

// sentTo is the count of messages sent to the named actor in the tree: taken or queued.
func sentTo(infos []actor.Info, name string) uint64 {
	for _, in := range infos {
		if in.Name == name {
			return in.Mailbox.Received + uint64(in.Mailbox.Len)
		}
		if n := sentTo(in.Children, name); n > 0 {
			return n
		}
	}
	return 0
}
