package workload

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKeySetPartitions checks the keys against kgo's Kafka-compatible partitioner: each
// key lands where the KeySet says, and a cycle of keys gives every partition the same
// number of records.
func TestKeySetPartitions(t *testing.T) {
	for _, n := range []int{1, 6, 300, 3000} {
		ks := NewKeySet(n)
		kafka := kgo.StickyKeyPartitioner(nil).ForTopic(Topic)
		for p := range n {
			if got := kafka.Partition(&kgo.Record{Key: ks.ForPartition(p)}, n); got != p {
				t.Fatalf("%d partitions: ForPartition(%d) = %q, which kgo puts in %d", n, p, ks.ForPartition(p), got)
			}
		}
		counts := make([]int, n)
		for i := range ks.Len() {
			counts[kafka.Partition(&kgo.Record{Key: ks.Key(i)}, n)]++
		}
		for p, c := range counts {
			if c != ks.Len()/n {
				t.Fatalf("%d partitions: partition %d gets %d of a cycle of %d keys, want %d", n, p, c, ks.Len(), ks.Len()/n)
			}
		}
	}
}
