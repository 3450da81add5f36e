// Package workload is what the bench driver and the processes it starts share: the
// records to produce, the runners' flags, the ready/go handshake, the result line the
// driver reads back, and the broker's stats line (BrokerStats).
//
// A client runner is one process per run, so that the driver can read that process's CPU
// time and peak RSS from its rusage. It speaks a line protocol on stdin/stdout:
//
//	runner -> driver   "ready"          set up (a producer is connected and warmed up)
//	driver -> runner   "go"             the driver has reset the broker's counters
//	runner -> driver   {"client":...}   one JSON Result line, then the runner exits
//
// Everything else a runner writes goes to stderr.
package workload

// The workload every client runs. The driver seeds the topic; the runners only use it.
const (
	// Topic is the topic produced to and consumed from.
	Topic = "bench"
	// Partitions is the topic's partition count, spread over the cluster's brokers.
	Partitions = 6
	// Brokers is the number of kfake brokers in the cluster.
	Brokers = 3
	// ValueBytes is the size of each record's value; records have no key and no headers.
	ValueBytes = 100
)

// distinctValues is how many different values the slab holds. Records cycle through them,
// so values differ from record to record without the runner allocating or generating
// anything per record (which would be charged to the client's CPU time), and the slab
// (400 KiB) is small next to any client's memory use.
const distinctValues = 4096

// slab holds distinctValues values of ValueBytes each: pseudo-random lowercase letters,
// the same bytes in every process. Text like this compresses a little (about 4.7 bits
// of entropy per byte), like real payloads; no client compresses in these benchmarks.
var slab = func() []byte {
	b := make([]byte, distinctValues*ValueBytes)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = 'a' + byte(x%26)
	}
	return b
}()

// Value returns the value of record i. Callers must not modify it: it is shared.
func Value(i int) []byte {
	off := (i % distinctValues) * ValueBytes
	return slab[off : off+ValueBytes : off+ValueBytes]
}
