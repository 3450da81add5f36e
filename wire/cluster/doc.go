// Package cluster is troupe's view of a Kafka cluster: a Client that owns the broker
// connections and a metadata actor, and publishes immutable Snapshots of brokers, topics,
// partitions, leaders and leader epochs that readers load without waiting.
//
// The metadata actor bootstraps from seed addresses and keeps the snapshot fresh:
//   - Refresh is single-flight: many callers, at most one metadata request in flight; the
//     refreshes asked for while one is in flight are merged into the next, which is sent
//     no sooner than MinRefreshInterval after the last one.
//   - A refresh is answered with a snapshot at least as new as the refresh itself.
//   - A topic that does not exist yet (it may be being created) or has a partition
//     without a leader is asked about again with backoff, a bounded number of times.
//   - A partition described with an older leader epoch than the one known comes from a
//     broker that has not caught up, and is ignored.
//   - Partitions added, topics recreated under a new topic ID, and topics gone are
//     reported to subscribers, which never block the actor.
//   - Metadata requests go to the known brokers in turn (then the seeds), behind a circuit
//     breaker: after repeated failures refreshes fail fast with ErrUnavailable, which
//     wraps the last failure (the broker's name and address, and the cause: a refused
//     connection, a timeout). A failure matching broker.ErrPermanent (a cause waiting
//     will not cure) fails the waiting refreshes at once, with that cause.
//   - After every snapshot the connection pool is told which brokers exist; connections
//     to brokers that left are stopped.
//
// ListOffsets asks partitions' oldest, newest and last stable offsets, or their offsets
// by time, for many partitions at once: one request per leader, sent to all leaders at
// once, retried after a metadata refresh when a leader moved, with an error per
// partition.
//
// GroupCoordinator finds the broker that coordinates a consumer group (FindCoordinator,
// many groups per request from v4) and caches it per group until a request to it is
// answered NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE or its connection fails.
// CommitOffsets and FetchOffsets commit and read a group's offsets there (OffsetCommit v2
// to v10, OffsetFetch v1 to v10, topics by ID where the version names them so), with a
// result per partition (FetchGroupsOffsets asks many groups, those sharing a coordinator in
// one request from v8); they find the coordinator again when it moved, ask a loading one
// again after a backoff, and report everything else per partition. What to do about each
// error is one plain function (classifyGroupErr), tested without a network.
//
// The merge of a response into a snapshot (merge, in snapshot.go) is a plain
// deterministic function, tested without a network.
package cluster
