// Package group consumes Kafka partitions as a member of a consumer group: the cluster's
// group coordinator spreads a topic's partitions over the group's members, moves them when
// members come and go, and keeps the offsets the members commit.
//
// Moving a partition between members is the talk's subscription hand-off at cluster scale:
// the member's actors hand a partition to its consumer.Reader when the coordinator assigns
// it, and take it back by an explicit protocol when the coordinator revokes it (stop
// fetching, let the user finish the batch in hand, commit, give the partition up).
//
// This package is being built in increments (issue 21). A Committer commits a group's
// offsets for partitions its user assigns (manual assignment): Starts and Assign resume
// each partition at the group's committed offset (or the reset policy's end), MarkRecords
// and MarkBatch say what the user finished, and commits — every AutoCommitInterval, on
// Commit, CommitAsync, CommitOffsets and Close — carry only that, never moving an offset
// backwards (see ledger.go, a plain struct). The assignors that decide which member reads
// which partitions are in assignor.go.
package group
