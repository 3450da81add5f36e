// Package producer is troupe's Kafka producer: the producer pipeline of the talk "Yes, Go
// makes concurrency easier. It's still really hard." (Sarama's design), made typed,
// supervised, bounded and provably ordered.
//
//		Produce ─> [stages] ─> dispatcher ─> topic producer ─> partition producer ─> broker producer ─> connection
//
//	  - Produce takes budget (records and bytes, producer-wide), stamps a delivery deadline,
//	    and queues the record: the only queue a record crosses on its own.
//	  - Custom stages (Config.Stages), if any, see records before partitioning.
//	  - The dispatcher fans records out by topic.
//	  - A topic producer partitions a whole batch against one metadata snapshot and hands
//	    each partition producer its share; records for a topic not known yet wait, within a
//	    bounded share of the budget and time.
//	  - A partition producer owns one partition: it batches records (linger, size, count),
//	    stamps batches with the producer ID, epoch and sequence numbers, keeps retries in
//	    order (the sequencer), follows the leader, and runs callbacks in offset order.
//	  - A broker producer, shared by every partition led by one broker and stopped when the
//	    last leaves, aggregates batches into produce requests and pipelines them.
//
// Sequencing and retry ordering (sequencer.go) and batching decisions (batcher.go) are
// plain deterministic structs, tested without a network; the actors are thin loops around
// them. See docs/producer.md for the walk through each stage.
package producer
