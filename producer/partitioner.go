package producer

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/troupe-go/troupe"
)

// Partitioner chooses the partition of every record of a topic. The producer asks it for
// one TopicPartitioner per topic and calls that under the topic's mutex, one call at a
// time (from the goroutine calling Produce, or from the topic's producer actor), so a
// TopicPartitioner needs no locking.
//
// ForTopic may be called concurrently for different topics; every Partitioner in this
// package allows that and returns an independent TopicPartitioner on each call, so no
// state (and no lock) is shared between topics.
type Partitioner interface {
	ForTopic(topic string) TopicPartitioner
}

// TopicPartitioner picks partitions for one topic.
//
// The producer calls it under the topic's mutex, one call at a time, so an implementation
// may keep unsynchronized state. A panic in it fails the record it was choosing for (not
// written, matching actor.ErrPanic). If it also implements Validator, the producer calls Validate first
// and fails the record with the returned error instead of calling Partition. Whatever
// Partition returns is range-checked by the producer: a result outside [0, n) is a
// programming error, reported as an error for that record that matches
// ErrInvalidPartition and troupe.ErrNotWritten. It never causes a panic and the record is
// never routed.
type TopicPartitioner interface {
	// Partition returns the partition, in [0, n), for r, where n > 0 is the topic's
	// partition count in the metadata snapshot the caller routes with. size is r's
	// encoded size in bytes (sticky partitioners count bytes).
	Partition(r *troupe.Record, n int, size int) int
}

// AvailabilityAware is implemented by a TopicPartitioner that wants to learn which
// partitions currently have a leader; sticky and round-robin partitioners then avoid the
// others (keyed partitioning never does: a key's partition must not depend on leader
// availability).
//
// available[i] reports whether partition i has a leader. The caller may reuse the slice
// once SetAvailable returns, so an implementation that needs it later keeps a copy (the
// ones in this package do). The implementations in this package treat a partition that
// the slice does not cover (the partition count grew before availability was reported
// again) as available, and when no partition in [0, n) is available they choose among
// all of them as if nothing were known: records then wait for a leader instead of being
// refused.
type AvailabilityAware interface {
	SetAvailable(available []bool) // len == partition count; called under the topic's mutex whenever it changes
}

// Validator is implemented by a TopicPartitioner that can refuse a record before it is
// partitioned: the producer calls Validate before Partition, under the same mutex, and
// when it returns an error fails the record with that error without calling Partition.
// Errors returned by the validators in this package match both ErrInvalidPartition and
// troupe.ErrNotWritten with errors.Is.
type Validator interface {
	Validate(r *troupe.Record, n int) error
}

// ErrInvalidPartition is matched (with errors.Is) by every error about a record whose
// partition is outside [0, n): a manual partition the topic does not have, or an
// out-of-range result of a user's partitioner. Such a record is never written, so the
// error also matches troupe.ErrNotWritten.
var ErrInvalidPartition = errors.New("producer: invalid partition")

// invalidPartitionError is the error for a partition outside [0, n) of a topic. It
// matches ErrInvalidPartition and troupe.ErrNotWritten.
type invalidPartitionError struct {
	topic     string
	partition int64
	n         int
}

// errInvalidPartition returns the error for partition p of a topic with n partitions. The
// producer uses it for out-of-range results of Partition, so that every such error reads
// and matches the same way.
func errInvalidPartition(topic string, p int64, n int) error {
	return &invalidPartitionError{topic: topic, partition: p, n: n}
}

func (e *invalidPartitionError) Error() string {
	return fmt.Sprintf("producer: invalid partition %d for topic %q, which has partitions [0, %d)", e.partition, e.topic, e.n)
}

func (e *invalidPartitionError) Is(target error) bool {
	return target == ErrInvalidPartition || target == troupe.ErrNotWritten
}

// defaultSwitchBytes is the sticky threshold used when none is given: the producer's
// default batch size (1 MiB), so that one sticky stint fills about one batch.
const defaultSwitchBytes = 1 << 20

// newRandomSource returns an independently, randomly seeded source. Each TopicPartitioner
// owns one, so partitioners of different topics share no random state.
func newRandomSource() rand.Source {
	return rand.NewPCG(rand.Uint64(), rand.Uint64())
}

// HashPartitioner returns the default partitioner. A record with a key (a non-nil Key;
// an empty key is a key) goes to toPositive(murmur2(key)) % n, where murmur2 is the Java
// client's Utils.murmur2 (seed 0x9747b28c) and toPositive clears the sign bit: the same
// partition the Java client, librdkafka's murmur2_random partitioner and franz-go's
// default partitioner choose, so keyed data stays co-partitioned with records written
// by them. A key's partition depends only on the key and n, never on availability.
//
// A record with a nil key is partitioned by a uniform sticky partitioner exactly as with
// StickyPartitioner(0) (switching every 1 MiB); keyed records do not count towards its
// bytes.
func HashPartitioner() Partitioner {
	return hashPartitioner{switchBytes: defaultSwitchBytes, newSource: newRandomSource}
}

// hashPartitioner is HashPartitioner's Partitioner; the unexported fields let tests fix
// the sticky threshold and the random source.
type hashPartitioner struct {
	switchBytes int
	newSource   func() rand.Source
}

func (p hashPartitioner) ForTopic(string) TopicPartitioner {
	return &hashTopic{sticky: newSticky(p.switchBytes, p.newSource())}
}

// hashTopic is murmur2 for keyed records and sticky for the others.
type hashTopic struct {
	sticky sticky
}

func (t *hashTopic) Partition(r *troupe.Record, n int, size int) int {
	if r.Key == nil {
		return t.sticky.Partition(r, n, size)
	}
	return int(murmur2(r.Key)&0x7fffffff) % n
}

func (t *hashTopic) SetAvailable(available []bool) { t.sticky.SetAvailable(available) }

// murmur2 is MurmurHash2 (32-bit) exactly as the Java client's Utils.murmur2 computes it:
// seed 0x9747b28c, little-endian 4-byte blocks, the trailing 1-3 bytes folded in before
// the final mix. Java's int arithmetic wraps like uint32 and its >>> is a logical shift,
// so the result is bit-identical to Java's int.
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(data))
	for len(data) >= 4 {
		k := uint32(data[0]) | uint32(data[1])<<8 | uint32(data[2])<<16 | uint32(data[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// StickyPartitioner returns a partitioner that ignores keys and sends every record to a
// "sticky" partition, after KIP-794 (the Java client's strictly uniform sticky
// partitioner, its default for unkeyed records since Kafka 3.3).
//
// What it does: records stay on one partition until switchBytes bytes (the sizes passed
// to Partition; a size below 1 counts as 1) have been assigned to it, counting the record
// that reaches the threshold; the next record then starts a new stint on a partition
// drawn uniformly at random among the partitions that have a leader (all of them when
// none is known), never the previous one unless it is the only candidate. A stint also
// ends early when its partition loses its leader or leaves [0, n). switchBytes <= 0 means
// 1 MiB, the producer's default batch size, so a stint fills about one batch.
//
// Why bytes: the older sticky partitioner (KIP-480) switched when a new batch was created.
// A slow broker's batches wait longer and so grow larger before they are sent, which made
// its partitions receive more data than the others and slowed it further. Counting bytes
// decouples switching from batching, so every partition receives the same amount of data
// per stint whatever the broker's speed, while batches stay large.
//
// What is simplified, compared with the Java client: there is no adaptive weighting
// (Java's partitioner.adaptive.partitioning.enable, which makes partitions with longer
// queues less likely to be chosen), no partitioner.availability.timeout.ms (excluding a
// broker whose queue has not drained for a while); "available" here only means "has a
// leader" as reported through AvailabilityAware; and a stint never waits for its batch
// to be ready before switching.
func StickyPartitioner(switchBytes int) Partitioner {
	return stickyPartitioner{switchBytes: switchBytes, newSource: newRandomSource}
}

// stickyPartitioner is StickyPartitioner's Partitioner; newSource is fixed by tests.
type stickyPartitioner struct {
	switchBytes int
	newSource   func() rand.Source
}

func (p stickyPartitioner) ForTopic(string) TopicPartitioner {
	s := newSticky(p.switchBytes, p.newSource())
	return &s
}

// sticky is the uniform sticky state of one topic.
type sticky struct {
	switchBytes int
	rng         *rand.Rand
	avail       availability
	cur         int // the sticky partition; -1 before the first record
	assigned    int // bytes assigned to cur in this stint
}

func newSticky(switchBytes int, src rand.Source) sticky {
	if switchBytes <= 0 {
		switchBytes = defaultSwitchBytes
	}
	return sticky{switchBytes: switchBytes, rng: rand.New(src), cur: -1}
}

func (s *sticky) Partition(_ *troupe.Record, n int, size int) int {
	if s.cur < 0 || s.cur >= n || s.assigned >= s.switchBytes || !s.avail.ok(s.cur) {
		s.cur = s.next(n)
		s.assigned = 0
	}
	s.assigned += max(size, 1)
	return s.cur
}

func (s *sticky) SetAvailable(available []bool) { s.avail.set(available) }

// next draws the partition of a new stint: uniformly among the candidates (the available
// partitions of [0, n), or all of them when none is available), excluding the current one
// when there is another candidate. It costs O(1) when every partition is available and
// O(n) otherwise; it runs once per stint, not per record.
func (s *sticky) next(n int) int {
	prev := s.cur
	if s.avail.allAvailable(n) {
		if prev < 0 || prev >= n {
			return s.rng.IntN(n)
		}
		if n == 1 {
			return prev
		}
		p := s.rng.IntN(n - 1)
		if p >= prev {
			p++
		}
		return p
	}
	// Some partition of [0, n) is unavailable: draw the i-th of the candidates.
	k := s.avail.countAvailable(n)
	all := k == 0 // nothing available: choose among all rather than refuse
	if all {
		k = n
	}
	isCandidate := func(p int) bool { return all || s.avail.ok(p) }
	skipPrev := prev >= 0 && prev < n && isCandidate(prev)
	if skipPrev {
		if k == 1 {
			return prev
		}
		k--
	}
	i := s.rng.IntN(k)
	for p := range n {
		if !isCandidate(p) || (skipPrev && p == prev) {
			continue
		}
		if i == 0 {
			return p
		}
		i--
	}
	return 0 // unreachable: i < k candidates were counted above
}

// availability is a TopicPartitioner's copy of which partitions have a leader.
type availability struct {
	known []bool // as last reported; empty until SetAvailable is called
	down  int    // number of false entries in known
	// countAvailable's last answer, so that a round-robin partitioner with a partition
	// down does not rescan known for every record: cachedN is -1 when there is none.
	cachedN, cachedCount int
}

func (a *availability) set(available []bool) {
	a.known = append(a.known[:0], available...)
	a.down = 0
	for _, ok := range a.known {
		if !ok {
			a.down++
		}
	}
	a.cachedN = -1
}

// ok reports whether partition p may be chosen: it has a leader, or nothing is known.
func (a *availability) ok(p int) bool { return p >= len(a.known) || a.known[p] }

// allAvailable reports whether every partition of [0, n) may be chosen.
func (a *availability) allAvailable(n int) bool {
	return a.down == 0 || a.countAvailable(n) == n
}

// countAvailable returns how many partitions of [0, n) may be chosen.
func (a *availability) countAvailable(n int) int {
	if a.down == 0 {
		return n
	}
	if n != a.cachedN {
		c := n
		for p := range min(n, len(a.known)) {
			if !a.known[p] {
				c--
			}
		}
		a.cachedN, a.cachedCount = n, c
	}
	return a.cachedCount
}

// RoundRobinPartitioner returns a partitioner that ignores keys and sends each record to
// the partition after the previous record's, wrapping at n and skipping partitions known
// to have no leader (when none has one, it cycles through all). Each topic starts at a
// random partition, so several producers do not all begin on partition 0.
//
// Round robin spreads records perfectly but makes the smallest batches: with p
// partitions, each batch gets one record in p. Prefer HashPartitioner or
// StickyPartitioner unless records must be spread one by one.
func RoundRobinPartitioner() Partitioner {
	return roundRobinPartitioner{newSource: newRandomSource}
}

// roundRobinPartitioner is RoundRobinPartitioner's Partitioner; newSource is fixed by
// tests.
type roundRobinPartitioner struct {
	newSource func() rand.Source
}

func (p roundRobinPartitioner) ForTopic(string) TopicPartitioner {
	return &roundRobin{rng: rand.New(p.newSource()), next: -1}
}

// roundRobin is the round-robin state of one topic.
type roundRobin struct {
	rng   *rand.Rand
	avail availability
	next  int // the partition to try next; -1 before the first record
}

func (t *roundRobin) Partition(_ *troupe.Record, n int, _ int) int {
	p := t.next
	if p < 0 {
		p = t.rng.IntN(n)
	} else if p >= n {
		p %= n // wraps at n, and stays in range when the partition count shrank
	}
	if !t.avail.allAvailable(n) {
		for i := range n {
			if q := (p + i) % n; t.avail.ok(q) {
				p = q
				break
			}
		}
		// None available: p is kept, so the cycle goes on through all partitions.
	}
	t.next = p + 1
	return p
}

func (t *roundRobin) SetAvailable(available []bool) { t.avail.set(available) }

// ManualPartitioner returns a partitioner that uses each record's own Partition field.
// Its TopicPartitioners implement Validator: the producer calls Validate first, which
// refuses a record whose Partition is outside [0, n) with an error matching
// ErrInvalidPartition and troupe.ErrNotWritten, so such a record is never written and
// never silently redirected. Partition itself returns r.Partition; for an out-of-range
// value (only possible when Validate was skipped) it returns 0 rather than an invalid
// partition.
func ManualPartitioner() Partitioner { return manualPartitioner{} }

type manualPartitioner struct{}

func (manualPartitioner) ForTopic(topic string) TopicPartitioner { return manualTopic{topic: topic} }

// manualTopic routes by r.Partition and validates it.
type manualTopic struct {
	topic string
}

func (manualTopic) Partition(r *troupe.Record, n int, _ int) int {
	if p := int(r.Partition); p >= 0 && p < n {
		return p
	}
	return 0
}

func (t manualTopic) Validate(r *troupe.Record, n int) error {
	if r.Partition < 0 || int(r.Partition) >= n {
		return errInvalidPartition(t.topic, int64(r.Partition), n)
	}
	return nil
}

// SaramaHashPartitioner returns a partitioner for applications migrating from IBM Sarama
// whose keyed data must stay on the partitions Sarama's default NewHashPartitioner put it
// on. A record with a key (non-nil Key) goes to the partition Sarama chooses: the 32-bit
// FNV-1a hash of the key converted to int32, its remainder modulo n (Go's %, which takes
// the sign of the hash), negated when negative. This is not the Java client's
// partitioning, and it is not Sarama's NewReferenceHashPartitioner either (which clears the
// sign bit before the remainder, and so differs for negative hashes).
//
// Records with a nil key go to a uniform sticky partitioner as with HashPartitioner,
// where Sarama picks a random partition per record. Sarama also hashes an empty key that
// was wrapped in an encoder; here an empty non-nil Key is hashed too, so the two agree.
func SaramaHashPartitioner() Partitioner {
	return saramaHashPartitioner{switchBytes: defaultSwitchBytes, newSource: newRandomSource}
}

// saramaHashPartitioner is SaramaHashPartitioner's Partitioner; the unexported fields
// let tests fix the sticky threshold and the random source.
type saramaHashPartitioner struct {
	switchBytes int
	newSource   func() rand.Source
}

func (p saramaHashPartitioner) ForTopic(string) TopicPartitioner {
	return &saramaHashTopic{sticky: newSticky(p.switchBytes, p.newSource())}
}

// saramaHashTopic is Sarama's FNV-1a hashing for keyed records and sticky for the others.
type saramaHashTopic struct {
	sticky sticky
}

func (t *saramaHashTopic) Partition(r *troupe.Record, n int, size int) int {
	if r.Key == nil {
		return t.sticky.Partition(r, n, size)
	}
	p := int64(int32(fnv1a32(r.Key))) % int64(n)
	if p < 0 {
		p = -p
	}
	return int(p)
}

func (t *saramaHashTopic) SetAvailable(available []bool) { t.sticky.SetAvailable(available) }

// fnv1a32 is the 32-bit FNV-1a hash (what hash/fnv's New32a computes), inlined so that
// partitioning a record allocates nothing.
func fnv1a32(data []byte) uint32 {
	const (
		offset = 2166136261
		prime  = 16777619
	)
	h := uint32(offset)
	for _, b := range data {
		h ^= uint32(b)
		h *= prime
	}
	return h
}

// PartitionerFunc returns a partitioner that calls fn for every record, with the record's
// topic and the topic's partition count n (n > 0). fn is called under each topic's mutex,
// so calls for different topics may run concurrently: fn must be safe for that, and must
// not block, since it runs on the produce path (in the goroutine calling Produce, and
// while it runs no other record of the topic is partitioned).
//
// fn should return a partition in [0, n). A result outside that range is a programming
// error that the producer turns into an error for that record, matching
// ErrInvalidPartition and troupe.ErrNotWritten; it does not panic and the record is not
// written. fn must not be nil: PartitionerFunc(nil) panics at once, not on the first
// record.
func PartitionerFunc(fn func(topic string, r *troupe.Record, n int) int) Partitioner {
	if fn == nil {
		panic("producer: PartitionerFunc(nil)")
	}
	return funcPartitioner{fn: fn}
}

type funcPartitioner struct {
	fn func(topic string, r *troupe.Record, n int) int
}

func (p funcPartitioner) ForTopic(topic string) TopicPartitioner {
	return funcTopic{topic: topic, fn: p.fn}
}

// funcTopic adapts a user's function; its results are range-checked by the producer.
type funcTopic struct {
	topic string
	fn    func(topic string, r *troupe.Record, n int) int
}

func (t funcTopic) Partition(r *troupe.Record, n int, _ int) int { return t.fn(t.topic, r, n) }
