// Package consumer consumes Kafka partitions: the consumer half of the pipeline in
// Sarama's design (the "Ownership Semantics" and "Feeding the User" parts of the talk),
// built from troupe's actors, typed, supervised and bounded.
//
// A Reader reads any set of partitions — whole topics (Consumer.ReadTopics), several
// topics, partitions added and removed as it runs — through one call, Poll (and the
// iterators Batches and Records), which returns the next ready batches across all of
// them. Its partitions cost no goroutine: their subscriptions move between the reader's
// one dispatcher and the broker consumers, which push what they fetch into the reader's
// buffer (a byte budget, fair rotation; see Reader). UntilCaughtUp reads up to the ends
// the partitions have now. ConsumePartition reads one partition with actors of its own,
// as drawn here; it is what custom stages (WithStage) attach to:
//
//	                        ┌───────────── per broker, shared, counted ─────────────┐
//	ConsumePartition        │                                                       │
//	      │     subscribe   │  broker consumer: one Fetch at a time, for every      │
//	      ▼  ─────────────► │  partition it owns whose feeder has room              │
//	  dispatcher            │                                                       │
//	  (per partition) ◄──── │  hand back: leader moved, epoch fenced, broker gone,  │
//	  leader, offsets,      │  out of range; paused or slow partitions too          │
//	  truncation check      └──────────────────────────┬────────────────────────────┘
//	      ▲                                 fetch results (at most 2 held)
//	      │ caught up after being slow                  ▼
//	      └───────────────────────────── feeder (per partition): decodes each result
//	                                     into one Batch, hands it to Next or a Stage;
//	                                     a batch not taken within MaxProcessingTime
//	                                     marks the partition slow
//
// Records move in batches: a broker consumer hands a feeder one fetch result, a feeder
// hands its user one Batch, and nothing is allocated per record beyond the records
// delivered (keys and values alias the fetch response). A partition's subscription — its
// fetch position and right to be fetched — has exactly one owner at a time and moves by
// explicit hand-off between its dispatcher and a broker consumer (see the subscription
// type); fetch results and batches are owned values too. Built with -tags troupecheck the
// hand-offs are checked. A partition whose user is slow is left out of its broker's
// fetches, so it never holds the others back.
//
// Fetch-offset bookkeeping is a plain deterministic struct (cursor), tested without a
// network. docs/consumer.md walks through the pipeline, the ownership protocol,
// MaxProcessingTime, Pause, failure handling and custom stages.
//
// Group membership is not implemented yet: partitions are assigned by the caller. Package
// group's Committer resumes them at a consumer group's committed offsets and commits what
// the caller finished with, at least once (docs/groups.md).
package consumer
