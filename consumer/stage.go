package consumer

import (
	"time"

	"github.com/troupe-go/troupe/actor"
)

// Stage is a custom actor attached after a partition's feeder: per-partition processing
// (decoding, enriching, routing) that keeps offset order because one actor receives the
// partition's batches in order. The feeder hands it each *Batch through its bounded
// mailbox, under the same rules as a user calling Next:
//
//   - ownership: each Batch is the stage's outright once it arrives, as Next's result is
//     its caller's: nothing to take or release. Values the stage builds and hands on to
//     actors of its own may use actor.Owned (see examples/consumerstage);
//   - backpressure: a batch counts as taken once the stage's mailbox accepted it; while
//     the mailbox is full the partition is not fetched, and after MaxProcessingTime the
//     partition gives up its place at its broker consumer — a slow stage is a slow user;
//   - errors: a batch with Err set reports, in order, what Next would have returned
//     (see Batch.Err); after a terminal one nothing more arrives;
//   - Pause stops the hand-over to the stage as it stops Next.
//
// The stage runs under the Consumer's "partitions" supervisor, next to the partition's
// dispatcher and feeder: if it fails it is restarted (with backoff) on the same mailbox,
// so the batches queued for it are kept; the batch it was working on is lost unless its
// Release hook, or its Run before failing, puts it back (Inbox.Unread), as
// actor.Receive does. Close stops it with a drain stop, so it handles what is queued.
type Stage struct {
	// New returns a fresh incarnation of the stage for the partition. Required.
	New func(topic string, partition int32) actor.Actor[*Batch]
	// Capacity is how many batches the stage's mailbox holds: the most the partition
	// runs ahead of the stage. Zero means 1.
	Capacity int
	// Release, if set, runs after every incarnation of the stage ends, with its actor
	// value and how it ended (supervisor.ChildSpec.Release).
	Release func(a actor.Actor[*Batch], err error)
	// StopTimeout bounds the stage's drain stop at Close; an overrun is cancelled and
	// reported as a supervisor.StopTimedOut event. Zero means 5s.
	StopTimeout time.Duration
}

// Option configures one ConsumePartition call.
type Option func(*partitionOptions)

type partitionOptions struct {
	stage *Stage
}

// WithStage sends the partition's batches to a custom stage instead of Next.
func WithStage(s Stage) Option {
	return func(o *partitionOptions) { o.stage = &s }
}
