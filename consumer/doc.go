// Package consumer consumes Kafka partitions: the consumer half of the pipeline in
// Sarama's design (the "Ownership Semantics" and "Feeding the User" parts of the talk),
// built from troupe's actors, typed, supervised and bounded.
//
//	                      ┌────────────── per broker (shared, counted) ─────────────┐
//	ConsumePartition      │                                                          │
//	      │               │   broker consumer: one Fetch at a time for every         │
//	      ▼   subscribe   │   partition it owns; hands each partition's result       │
//	  dispatcher ───────► │   with its subscription to the partition's feeder        │
//	  (per partition)  ◄──│── hands back: leader moved, fenced, broker gone,         │
//	   leader, offsets,   │   out of range, paused                                   │
//	   truncation check   └──────────────────────────┬───────────────────────────────┘
//	      ▲                                    lend  │  ▲ return once taken
//	      │ after MaxProcessingTime                  ▼  │
//	      └──────────────────────────────  feeder (per partition): decodes the result
//	                                       into one Batch, hands it to Next or a Stage
//
// Records move in batches: a broker consumer hands a feeder one fetch result, a feeder
// hands its user one Batch, and nothing is allocated per record beyond the records
// delivered (keys and values alias the fetch response). A partition's subscription — its
// fetch position and right to be fetched — has exactly one owner at a time and moves by
// explicit hand-off (see the subscription type; built with -tags troupecheck the
// hand-offs are checked). A partition whose user is slow is left out of its broker's
// fetches, so it never holds the others back.
//
// Fetch-offset bookkeeping is a plain deterministic struct (cursor), tested without a
// network. docs/consumer.md walks through the pipeline, the ownership protocol,
// MaxProcessingTime, Pause, failure handling and custom stages.
//
// Consumer groups are not implemented yet: partitions are assigned by the caller.
package consumer
