package producer_test

import (
	"fmt"
	"strconv"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/producer"
)

// HashPartitioner sends a key to the partition the Java client would choose, whatever
// the partitions' leaders; records without a key stick to one partition for a while.
func ExampleHashPartitioner() {
	tp := producer.HashPartitioner().ForTopic("orders")
	for _, key := range []string{"alice", "bob", "carol", "alice"} {
		r := &troupe.Record{Topic: "orders", Key: []byte(key), Value: []byte("order")}
		fmt.Printf("%s -> partition %d\n", key, tp.Partition(r, 6, 100))
	}

	first := tp.Partition(&troupe.Record{Topic: "orders", Value: []byte("tick")}, 6, 100)
	second := tp.Partition(&troupe.Record{Topic: "orders", Value: []byte("tick")}, 6, 100)
	fmt.Println("unkeyed records share a partition:", first == second)
	// Output:
	// alice -> partition 3
	// bob -> partition 0
	// carol -> partition 2
	// alice -> partition 3
	// unkeyed records share a partition: true
}

// PartitionerFunc adapts a function; here records are routed by a "tenant" header. A
// result outside [0, n) fails that record with ErrInvalidPartition; it never panics.
func ExamplePartitionerFunc() {
	byTenant := producer.PartitionerFunc(func(topic string, r *troupe.Record, n int) int {
		for _, h := range r.Headers {
			if h.Key == "tenant" {
				if tenant, err := strconv.ParseUint(string(h.Value), 10, 32); err == nil {
					return int(tenant % uint64(n))
				}
			}
		}
		return 0 // records without a tenant share partition 0
	})
	tp := byTenant.ForTopic("events")
	for _, tenant := range []string{"7", "12", "none"} {
		r := &troupe.Record{Topic: "events", Headers: []troupe.Header{{Key: "tenant", Value: []byte(tenant)}}}
		fmt.Printf("tenant %s -> partition %d\n", tenant, tp.Partition(r, 4, 100))
	}
	// Output:
	// tenant 7 -> partition 3
	// tenant 12 -> partition 0
	// tenant none -> partition 0
}
