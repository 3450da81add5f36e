// Package producer is troupe's Kafka producer: the producer pipeline of the talk "Yes, Go
// makes concurrency easier. It's still really hard." (Sarama's design), made typed,
// supervised, bounded and provably ordered.
//
//		Produce ─────────────────────────────────────────────> accumulator ─> partition producer ─> broker producer ─> connection
//		   └─> [stages] ─> dispatcher ─> topic producer ──────────┘   ▲ lingerer
//
//	  - Produce takes budget (records and bytes, producer-wide). Without custom stages, for
//	    a topic the current metadata describes, it partitions the record itself (under the
//	    topic's mutex) and appends it to its partition's open batch (under the partition's
//	    mutex, in the accumulator): no actor sees the record on its own.
//	  - Otherwise the record takes the actor path, the only queue a record crosses on its
//	    own: custom stages (Config.Stages), if any, see records before partitioning; the
//	    dispatcher fans them out by topic; a topic producer partitions a whole batch against
//	    one metadata snapshot and appends each partition's share to the same accumulator.
//	    Records for a topic not known yet wait there, within a bounded share of the budget
//	    and time, and later records of the topic follow them until they are appended, so
//	    none is overtaken.
//	  - The accumulator seals a batch when it is full, at a Flush or when the budget runs
//	    out; the lingerer (run by the first partition driver), from one queue of deadlines,
//	    when its linger has passed.
//	  - A partition producer owns one partition's sealed batches: it stamps them with the
//	    producer ID, epoch and sequence numbers, keeps retries in order (the sequencer),
//	    follows the leader, and runs callbacks in offset order. It wakes per sealed batch,
//	    never per record.
//	  - A broker producer, shared by every partition led by one broker and stopped when the
//	    last leaves, aggregates batches into produce requests and pipelines them.
//
// Sequencing and retry ordering (sequencer.go) and batching decisions (batcher.go) are
// plain deterministic structs, tested without a network; the actors are thin loops around
// them. See docs/producer.md for the walk through each stage.
package producer
