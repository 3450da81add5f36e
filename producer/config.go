package producer

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
)

// Acks is how many replicas must have a record before the broker acknowledges it.
type Acks uint8

const (
	// AcksAll waits for every in-sync replica (acks=-1). The default, and required for
	// idempotence.
	AcksAll Acks = iota
	// AcksLeader waits for the partition leader only (acks=1).
	AcksLeader
	// AcksNone does not wait at all (acks=0): no response, no offset, no retry of records
	// lost in flight.
	AcksNone
)

func (a Acks) wire() int16 {
	switch a {
	case AcksLeader:
		return 1
	case AcksNone:
		return 0
	}
	return -1
}

func (a Acks) String() string {
	switch a {
	case AcksAll:
		return "all"
	case AcksLeader:
		return "leader"
	case AcksNone:
		return "none"
	}
	return "invalid"
}

// Stage is a custom step a user puts into the pipeline before partitioning (enrich,
// validate, rate-limit). It is an actor: it receives records in batches (Inbox.Receive),
// and hands each record on, or fails it, through the Next it is given. A Stage keeps
// offset order within a topic if it hands records on in the order received. It may
// change a record, its Topic included: records are routed by the topic they have when
// they leave the last stage (one left without a topic fails with ErrInvalidRecord). Stages run in the order configured, under the producer's
// supervisor; the budget bounds what they can hold.
type Stage interface {
	// Name names the stage's actor.
	Name() string
	// New returns an incarnation of the stage, which hands records on to next.
	New(next Next) actor.Actor[Pending]
}

// Config configures a Producer. The zero value of every field is its documented default;
// a Config needs only Seeds (or Cluster.Seeds, or Client).
type Config struct {
	// Client is a cluster client to share with other producers and consumers. If nil,
	// the producer opens its own from Seeds and Cluster, and closes it on Close.
	Client *cluster.Client
	// Seeds are "host:port" addresses to bootstrap from when Client is nil. Empty means
	// Cluster.Seeds; both set and different is an ErrInvalidConfig.
	Seeds []string
	// Cluster configures the producer's own client, opened from Seeds (or its own Seeds
	// when Seeds is empty). Setting it, or Seeds, together with Client is an
	// ErrInvalidConfig: a shared client is configured where it is opened.
	Cluster cluster.Config

	// Acks, default AcksAll.
	Acks Acks
	// DisableIdempotence turns idempotence off. With AcksAll it is on by default: records
	// are never written twice by a retry and stay in order across retries, with up to 5
	// batches in flight per partition. Without it (and always with AcksLeader or
	// AcksNone) at most 1 batch is in flight per partition, so retries cannot reorder,
	// but a retry of a batch whose acknowledgement was lost writes it twice.
	DisableIdempotence bool

	// Linger is how long a partition's batch waits for more records after its first one
	// before it is sent. Zero means 5ms; negative means no wait.
	Linger time.Duration
	// MaxBatchBytes caps a batch's size. It must not exceed the brokers'
	// message.max.bytes; above 2³¹−1 (an int32 on the wire) is an ErrInvalidConfig. Zero
	// means 1 MiB.
	MaxBatchBytes int
	// MaxBatchRecords caps a batch's record count. Zero means 100000.
	MaxBatchRecords int
	// MaxRecordBytes caps one record (key, value and headers); larger records are refused
	// at Produce. Zero means MaxBatchBytes minus the batch overhead.
	MaxRecordBytes int
	// MaxInflightRequests caps the produce requests in flight to one broker. Zero means 5.
	MaxInflightRequests int
	// MaxRequestBytes caps a produce request; above 2³¹−1 (an int32 on the wire) is an
	// ErrInvalidConfig. Zero means 16 MiB.
	MaxRequestBytes int
	// Compression of batches. Zero is none.
	Compression record.Compression
	// Partitioner chooses partitions. Nil means HashPartitioner().
	Partitioner Partitioner

	// RequestTimeout is how long a broker may take to replicate a batch (the request's
	// timeout field); the client waits that long plus a margin. Zero means 30s.
	RequestTimeout time.Duration
	// DeliveryTimeout bounds a record's whole life, from acceptance to its final outcome,
	// retries included (like Java's delivery.timeout.ms). Zero means 2 minutes.
	DeliveryTimeout time.Duration
	// Backoff spaces a partition's retries of failed batches: Min·2^(n-1) after the n-th
	// consecutive failure, capped at Max, with equal jitter; a batch that succeeds starts
	// the partition's next run of failures from Min again. Min is also the wait before a
	// topic's failed metadata refresh is asked again. Zero fields mean 100ms and 1s.
	Backoff supervisor.Backoff

	// MaxBufferedRecords and MaxBufferedBytes are the producer-wide budget: a record takes
	// its share when Produce accepts it and returns it at its final outcome; Produce waits
	// while the budget is spent. Zero means 20000 records and 32 MiB: enough to keep
	// several large batches in flight per partition; a larger budget buys memory, not
	// throughput, when Produce outruns the network.
	//
	// A MaxBufferedRecords left at zero also grows with the partitions written to: to 10
	// records per partition once the producer has written to more than 2000, up to 200000
	// (20000 partitions). A fixed 20000 records spread over 10000 partitions leaves two
	// per partition, so batches of one or two records and a request per handful of
	// records (docs/benchmarks.md). MaxBufferedBytes does not grow: it still bounds the
	// records' bytes. A MaxBufferedRecords that is set is kept as it is.
	MaxBufferedRecords int
	MaxBufferedBytes   int
	// UnknownTopicWait is how long records wait for a topic that the cluster does not know
	// (yet) before they fail: with ErrUnknownTopic if the brokers said it does not exist,
	// with the last metadata failure (matching cluster.ErrUnavailable) if no broker
	// answered. Zero means 10s.
	UnknownTopicWait time.Duration
	// UnknownTopicShare is the share of the budget that records waiting for one unknown
	// topic may hold; beyond it they fail at once, so one bad topic cannot starve the
	// others. Zero means 0.25.
	UnknownTopicShare float64

	// Stages are custom actors put before partitioning, in order. With stages, every
	// record is handed to the first stage's mailbox; without them, Produce partitions a
	// record of a topic it knows and appends it to its partition's batch itself.
	Stages []Stage
	// Logger receives the producer's records: its actors' and, when the producer opened
	// its own client, that client's (the metadata actor, the connections). Nil discards
	// them. Nil Cluster.Logger (and so Cluster.Broker.Logger) becomes this.
	Logger *slog.Logger
	// OnEvent, if set, receives every event, on the library goroutine where it happens:
	// it must not block. The producer's actors' supervisor events and, when the producer
	// opened its own client, that client's (its connections' included) are passed as they
	// are: switch on supervisor.Restarted, supervisor.BreakerOpened, ... Nil Cluster.OnEvent
	// (and so Cluster.Broker.OnEvent) becomes this.
	OnEvent func(troupe.Event)
}

// Documented defaults of Config.
const (
	DefaultLinger              = 5 * time.Millisecond
	DefaultMaxBatchBytes       = 1 << 20
	DefaultMaxBatchRecords     = 100000
	DefaultMaxInflightRequests = 5
	DefaultMaxRequestBytes     = 16 << 20
	DefaultRequestTimeout      = 30 * time.Second
	DefaultDeliveryTimeout     = 2 * time.Minute
	DefaultBackoffMin          = 100 * time.Millisecond
	DefaultBackoffMax          = time.Second
	DefaultMaxBufferedRecords  = 20000
	// BufferedRecordsPerPartition and MaxGrownBufferedRecords are how a MaxBufferedRecords
	// left at zero grows with the partitions written to, and how far.
	BufferedRecordsPerPartition = 10
	MaxGrownBufferedRecords     = 200000
	DefaultMaxBufferedBytes     = 32 << 20
	DefaultUnknownTopicWait     = 10 * time.Second
	DefaultUnknownTopicShare    = 0.25
	// batchOverhead bounds a v2 batch's header (61 bytes) plus a record's own framing.
	batchOverhead = 128
)

func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.Client == nil && len(c.Seeds) == 0 && len(c.Cluster.Seeds) == 0 {
		return bad("need Seeds (or Cluster.Seeds) or a Client")
	}
	if len(c.Seeds) > 0 && len(c.Cluster.Seeds) > 0 && !slices.Equal(c.Seeds, c.Cluster.Seeds) {
		return bad("Seeds %v and Cluster.Seeds %v differ", c.Seeds, c.Cluster.Seeds)
	}
	if c.Client != nil && (len(c.Seeds) > 0 || !reflect.ValueOf(c.Cluster).IsZero()) {
		return bad("Client with Seeds or Cluster: a shared client is configured where it is opened")
	}
	if c.Acks > AcksNone {
		return bad("unknown Acks %d", c.Acks)
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.Linger < 0 {
		c.Linger = 0
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxBatchBytes", &c.MaxBatchBytes, DefaultMaxBatchBytes},
		{"MaxBatchRecords", &c.MaxBatchRecords, DefaultMaxBatchRecords},
		{"MaxInflightRequests", &c.MaxInflightRequests, DefaultMaxInflightRequests},
		{"MaxRequestBytes", &c.MaxRequestBytes, DefaultMaxRequestBytes},
		{"MaxBufferedRecords", &c.MaxBufferedRecords, DefaultMaxBufferedRecords},
		{"MaxRecordBytes", &c.MaxRecordBytes, 0},
		{"MaxBufferedBytes", &c.MaxBufferedBytes, DefaultMaxBufferedBytes},
	}
	for _, f := range ints {
		if *f.v < 0 {
			return bad("%s %d is negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.MaxBatchBytes <= batchOverhead {
		return bad("MaxBatchBytes %d is too small", c.MaxBatchBytes)
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = c.MaxBatchBytes - batchOverhead
	}
	if c.MaxRecordBytes > c.MaxBatchBytes-batchOverhead {
		return bad("MaxRecordBytes %d does not fit in MaxBatchBytes %d", c.MaxRecordBytes, c.MaxBatchBytes)
	}
	// A batch's and a request's sizes are int32 on the wire.
	for _, f := range []struct {
		name string
		n    int
	}{{"MaxBatchBytes", c.MaxBatchBytes}, {"MaxRequestBytes", c.MaxRequestBytes}} {
		if f.n > math.MaxInt32 {
			return bad("%s %d does not fit a produce request (at most %d)", f.name, f.n, math.MaxInt32)
		}
	}
	if c.MaxRequestBytes < c.MaxBatchBytes {
		return bad("MaxRequestBytes %d is below MaxBatchBytes %d", c.MaxRequestBytes, c.MaxBatchBytes)
	}
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"RequestTimeout", &c.RequestTimeout, DefaultRequestTimeout},
		{"DeliveryTimeout", &c.DeliveryTimeout, DefaultDeliveryTimeout},
		{"Backoff.Min", &c.Backoff.Min, DefaultBackoffMin},
		{"Backoff.Max", &c.Backoff.Max, DefaultBackoffMax},
		{"UnknownTopicWait", &c.UnknownTopicWait, DefaultUnknownTopicWait},
	}
	for _, f := range durs {
		if *f.v < 0 {
			return bad("%s %v is negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	c.Backoff.Max = max(c.Backoff.Max, c.Backoff.Min)
	if c.MaxBufferedBytes < c.MaxRecordBytes {
		return bad("MaxBufferedBytes %d cannot hold one record of MaxRecordBytes %d", c.MaxBufferedBytes, c.MaxRecordBytes)
	}
	if c.UnknownTopicShare < 0 || c.UnknownTopicShare > 1 {
		return bad("UnknownTopicShare %v is not in [0, 1]", c.UnknownTopicShare)
	}
	if c.UnknownTopicShare == 0 {
		c.UnknownTopicShare = DefaultUnknownTopicShare
	}
	if c.Partitioner == nil {
		c.Partitioner = HashPartitioner()
	}
	if _, err := record.NewCompressor(c.Compression); err != nil {
		return bad("compression: %v", err)
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
	for i, s := range c.Stages {
		if s == nil || s.Name() == "" {
			return bad("stage %d has no name", i)
		}
	}
	return c, nil
}

// idempotent reports whether the producer writes idempotently.
func (c *Config) idempotent() bool { return !c.DisableIdempotence && c.Acks == AcksAll }

// openClient returns the cluster client to use and whether the producer owns it.
func (c *Config) openClient(ctx context.Context) (*cluster.Client, bool, error) {
	if c.Client != nil {
		return c.Client, false, nil
	}
	cl, err := cluster.Open(ctx, c.Cluster)
	return cl, true, err
}

// supervisorHook adapts an OnEvent hook to a supervisor.Config's: a nil hook stays nil,
// and each supervisor event is passed on as it is.
func supervisorHook(hook func(troupe.Event)) func(supervisor.Event) {
	if hook == nil {
		return nil
	}
	return func(e supervisor.Event) { hook(e) }
}
