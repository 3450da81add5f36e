package consumer

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
)

// Config configures a Consumer. Either Client or Seeds (or Cluster.Seeds) is required;
// every other zero field means its documented default (the Default... constants, checked
// by a test).
type Config struct {
	// Client is the cluster client to consume through. The Consumer uses it and leaves it
	// open when it closes; producers and other consumers may share it.
	Client *cluster.Client
	// Seeds are "host:port" addresses of brokers to bootstrap from, used when Client is
	// nil: the Consumer then opens a client of its own (configured by Cluster) and closes
	// it when it closes. Empty means Cluster.Seeds; both set and different is an
	// ErrInvalidConfig.
	Seeds []string
	// Cluster configures the client the Consumer opens when Client is nil. Zero means the
	// cluster package's defaults. Setting it, or Seeds, together with Client is an
	// ErrInvalidConfig: a shared client is configured where it is opened.
	Cluster cluster.Config

	// MinBytes is how many bytes a fetch waits for (up to MaxWait) before the broker
	// answers. Zero means 1: answer as soon as there is anything. At most
	// math.MaxInt32, as the Fetch request carries it.
	MinBytes int
	// MaxBytes caps the records bytes of one fetch response over all its partitions
	// (Kafka's fetch.max.bytes). A broker still returns a first batch larger than this
	// (KIP-74), so a large batch never blocks a partition. It must be below the
	// connections' broker.Config.MaxResponseBytes (100 MiB by default), with room for
	// that batch; at most math.MaxInt32. Zero means 50 MiB.
	MaxBytes int
	// MaxPartitionBytes caps the records bytes one partition contributes to a fetch
	// (max.partition.fetch.bytes). When a partition's first batch does not fit, the
	// consumer raises its limit for that partition, up to MaxBytes, until it does, then
	// returns to this value. Zero means 1 MiB, or MaxBytes if that is smaller.
	MaxPartitionBytes int
	// MaxBufferedBytes is a Reader's byte budget: the records bytes it may hold fetched
	// and not yet returned by Poll, over all its partitions, counting what its fetches in
	// flight may still bring. Each fetch for its partitions asks for at most a broker's
	// share of the budget (MaxBufferedBytes divided by the brokers its partitions are
	// fetched from), and no more than is left of it; while nothing is left, its
	// partitions are left out of fetches. A broker may return one record batch beyond a
	// fetch's limit (KIP-74), so the reader holds at most the budget and a batch per
	// broker. Zero means MaxBytes.
	MaxBufferedBytes int
	// MaxPollRecords caps the records one Reader Poll returns (Java's max.poll.records,
	// kgo's PollRecords), over all its batches: a partition's fetched batch that crosses
	// the cap is split, its first records returned now and the rest, already decoded,
	// first of that partition in a later Poll. It bounds the work one Poll hands over,
	// so that a group member's user can keep within ProcessingTime; the reader still
	// fetches up to MaxBufferedBytes ahead. It applies to Poll and what is built on it
	// (Batches, Records, a group member's Poll), not to PartitionConsumer.Next. Zero
	// means no cap: a batch from every ready partition.
	MaxPollRecords int
	// MaxWait is how long a broker may hold a fetch waiting for MinBytes. While a
	// partition at that broker is left out of fetches because its user has not taken
	// what was fetched, fetches wait at most MaxProcessingTime/10 instead, so that the
	// partition is not held back by a long poll once its user takes a batch. Zero means
	// 500ms.
	MaxWait time.Duration
	// MaxProcessingTime is how long a partition's feeder waits for the user (Next) or
	// the partition's custom stage to take a batch before the partition gives up its
	// place at its broker consumer (which hands its subscription back to the partition's
	// dispatcher). A partition whose feeder already holds the most it may (two fetch
	// results) is left out of fetches anyway, so other partitions never wait for a slow
	// one; this bounds how long a slow partition keeps its place, and its broker consumer
	// alive. It subscribes again once its feeder has delivered what it holds: nothing is
	// lost, repeated or reordered. Time paused does not count. For a Reader it applies to
	// the reader as a whole: when ready batches wait longer than this for Poll, none of
	// its partitions is fetched until the next Poll (a SlowReader event). Zero means
	// 100ms, as in Sarama.
	MaxProcessingTime time.Duration
	// OffsetReset decides what happens when a partition's position is outside its log
	// (retention deleted the records, or the offset asked for does not exist yet). Zero
	// means ResetEarliest. Every reset is reported as an OffsetReset event.
	OffsetReset ResetPolicy
	// IsolationLevel says which transactional records are delivered (control records
	// never are). Zero means ReadUncommitted: every data record, those of aborted and
	// open transactions included. ReadCommitted: nothing of aborted transactions, and
	// nothing past the start of an open one until it ends.
	IsolationLevel IsolationLevel
	// Backoff spaces a partition's attempts to subscribe again after failures (no
	// leader, a broker down): Min·2^(n-1) capped at Max with jitter. The first attempt
	// after a leader change is immediate; a fetch that answers for the partition starts
	// its next run of failures from Min again. It also spaces a broker consumer's
	// attempts to send a fetch that found its connection's queue full (capped at
	// MaxWait). Zero fields mean 100ms and 5s.
	Backoff supervisor.Backoff
	// RequestTimeout bounds the metadata refreshes and the ListOffsets and
	// OffsetForLeaderEpoch requests a partition makes, and is added to MaxWait for the
	// deadline of each fetch. Zero means 30s.
	RequestTimeout time.Duration
	// MaxDecompressedSize caps the decompressed size of one batch; a larger one is
	// reported as corrupt (ErrCorrupt wrapping record.ErrTooLarge). Zero means
	// record.DefaultMaxDecompressedSize (128 MiB).
	MaxDecompressedSize int
	// Logger receives the consumer's records (subscriptions, resets, truncations, slow
	// partitions, actor restarts). Nil discards them.
	Logger *slog.Logger
	// OnEvent, if set, receives every event, on the library goroutine where it happens;
	// it must not block: the consumer's own (Event), and the supervisor events of its
	// actors and, for a client it opens, of the client's (supervisor.Event), passed as
	// they are. Nil Cluster.OnEvent (and so Cluster.Broker.OnEvent) becomes this.
	OnEvent func(troupe.Event)
}

// ResetPolicy says where a partition goes when its position is out of range.
type ResetPolicy uint8

const (
	// ResetEarliest moves to the oldest record still in the log: when retention deleted
	// unread records (the common cause), this loses the fewest.
	ResetEarliest ResetPolicy = iota
	// ResetLatest moves to the end of the log: only new records are delivered.
	ResetLatest
	// ResetNone does not move: the partition stops with an *OutOfRangeError (matching
	// ErrOffsetOutOfRange) and the user decides.
	ResetNone
)

// String names the policy: "earliest", "latest" or "none".
func (p ResetPolicy) String() string {
	switch p {
	case ResetEarliest:
		return "earliest"
	case ResetLatest:
		return "latest"
	case ResetNone:
		return "none"
	}
	return "invalid"
}

// IsolationLevel is the Fetch isolation level.
type IsolationLevel int8

const (
	// ReadUncommitted delivers every data record, including those of transactions that
	// are still open or were aborted.
	ReadUncommitted IsolationLevel = 0
	// ReadCommitted delivers the records of committed transactions and records written
	// outside transactions, and nothing of aborted transactions. Fetches stop at the last
	// stable offset (the first offset of the oldest open transaction), so a partition
	// with an open transaction delivers nothing past its start until it ends; Newest
	// means the last stable offset, and Lag counts up to it.
	ReadCommitted IsolationLevel = 1
)

// Documented defaults of Config.
const (
	DefaultMinBytes          = 1
	DefaultMaxBytes          = 50 << 20
	DefaultMaxPartitionBytes = 1 << 20
	DefaultMaxWait           = 500 * time.Millisecond
	DefaultMaxProcessingTime = 100 * time.Millisecond
	DefaultBackoffMin        = 100 * time.Millisecond
	DefaultBackoffMax        = 5 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
)

// withDefaults fills in the defaults and checks what cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.Client == nil && len(c.Seeds) == 0 && len(c.Cluster.Seeds) == 0 {
		return c, fmt.Errorf("%w: neither a Client nor Seeds", ErrInvalidConfig)
	}
	if len(c.Seeds) > 0 && len(c.Cluster.Seeds) > 0 && !slices.Equal(c.Seeds, c.Cluster.Seeds) {
		return c, fmt.Errorf("%w: Seeds %v and Cluster.Seeds %v differ", ErrInvalidConfig, c.Seeds, c.Cluster.Seeds)
	}
	if c.Client != nil && (len(c.Seeds) > 0 || !reflect.ValueOf(c.Cluster).IsZero()) {
		return c, fmt.Errorf("%w: Client with Seeds or Cluster: a shared client is configured where it is opened", ErrInvalidConfig)
	}
	if c.MinBytes < 0 || c.MaxBytes < 0 || c.MaxPartitionBytes < 0 || c.MaxWait < 0 ||
		c.MaxProcessingTime < 0 || c.MaxBufferedBytes < 0 || c.MaxPollRecords < 0 || c.RequestTimeout < 0 || c.MaxDecompressedSize < 0 ||
		c.Backoff.Min < 0 || c.Backoff.Max < 0 {
		return c, fmt.Errorf("%w: negative size or duration", ErrInvalidConfig)
	}
	if c.OffsetReset > ResetNone {
		return c, fmt.Errorf("%w: reset policy %d", ErrInvalidConfig, c.OffsetReset)
	}
	if c.IsolationLevel != ReadUncommitted && c.IsolationLevel != ReadCommitted {
		return c, fmt.Errorf("%w: isolation level %d", ErrInvalidConfig, c.IsolationLevel)
	}
	if c.MinBytes == 0 {
		c.MinBytes = DefaultMinBytes
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxPartitionBytes == 0 {
		c.MaxPartitionBytes = min(DefaultMaxPartitionBytes, c.MaxBytes)
	}
	for _, f := range []struct {
		name string
		n    int
	}{{"MinBytes", c.MinBytes}, {"MaxBytes", c.MaxBytes}, {"MaxPartitionBytes", c.MaxPartitionBytes}} {
		if f.n > math.MaxInt32 {
			return c, fmt.Errorf("%w: %s %d does not fit a fetch request (at most %d)", ErrInvalidConfig, f.name, f.n, math.MaxInt32)
		}
	}
	if c.MaxPartitionBytes > c.MaxBytes {
		return c, fmt.Errorf("%w: MaxPartitionBytes %d above MaxBytes %d", ErrInvalidConfig, c.MaxPartitionBytes, c.MaxBytes)
	}
	conns := c.Cluster.Broker
	if c.Client != nil {
		conns = c.Client.Config().Broker
	}
	if limit := cmp.Or(conns.MaxResponseBytes, broker.DefaultMaxResponseBytes); c.MaxBytes >= limit {
		// A response the connection refuses fails the fetch, and the same fetch is sent
		// again: its partitions would never be read.
		return c, fmt.Errorf("%w: MaxBytes %d not below the connections' MaxResponseBytes %d: a full fetch response could not be read",
			ErrInvalidConfig, c.MaxBytes, limit)
	}
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = c.MaxBytes
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxWait > time.Duration(1<<31-1)*time.Millisecond {
		return c, fmt.Errorf("%w: MaxWait %v does not fit a fetch request", ErrInvalidConfig, c.MaxWait)
	}
	if c.MaxProcessingTime == 0 {
		c.MaxProcessingTime = DefaultMaxProcessingTime
	}
	if c.Backoff.Min == 0 {
		c.Backoff.Min = DefaultBackoffMin
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = DefaultBackoffMax
	}
	c.Backoff.Max = max(c.Backoff.Max, c.Backoff.Min)
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxDecompressedSize == 0 {
		c.MaxDecompressedSize = record.DefaultMaxDecompressedSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Client == nil {
		if len(c.Seeds) > 0 {
			c.Cluster.Seeds = c.Seeds
		}
		if c.Cluster.Logger == nil {
			c.Cluster.Logger = c.Logger
		}
		if c.Cluster.OnEvent == nil {
			c.Cluster.OnEvent = c.OnEvent
		}
	}
	return c, nil
}
