package property_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/faults"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
)

// consumerRun is a running consumer: a partition consumer per partition, each read by a
// goroutine of its own that records what it delivers.
type consumerRun struct {
	c       *consumer.Consumer
	readers map[int32]*reader
}

// reader is the user of one partition consumer.
type reader struct {
	pc     *consumer.PartitionConsumer
	sess   *faults.Session
	done   chan struct{}
	cancel context.CancelFunc
	paused bool
}

// run takes batches until the partition consumer is closed, records each, and waits
// delay after each (a slow user).
func (rd *reader) run(ctx context.Context, h *faults.History, delay time.Duration) {
	defer close(rd.done)
	for {
		b, err := rd.pc.Next(ctx)
		if err != nil {
			if !errors.Is(err, consumer.ErrClosed) && ctx.Err() == nil {
				h.Fail(rd.sess, err)
			}
			return
		}
		recs := make([]faults.Stored, len(b.Records))
		for i, rec := range b.Records {
			recs[i] = faults.Stored{Offset: rec.Offset, Key: string(rec.Key), Value: string(rec.Value)}
		}
		h.Deliver(rd.sess, recs)
		if delay > 0 {
			wait := time.NewTimer(delay)
			select {
			case <-wait.C:
			case <-ctx.Done():
				wait.Stop()
				return
			}
		}
	}
}

// start says where a partition consumer starts.
type start uint8

const (
	fromOldest start = iota // the oldest record
	fromResume              // after the last record delivered on the partition
	fromRewind              // some records before that: they are delivered again
)

func (s start) String() string {
	return [...]string{"oldest", "resume", "rewind"}[s]
}

// startConsumer starts a consumer of every partition. Outside the final phase a failure
// to start (the network may be down) is noted, not a violation.
func (r *run) startConsumer(from start, back int64, final bool) {
	who := fmt.Sprintf("consumer %d", len(r.hist.Sessions()))
	logger := r.logs.logger().With("client", who)
	cfg := consumer.Config{
		Client:            r.client,
		MaxWait:           r.opts.maxWait,
		MaxPartitionBytes: r.opts.maxPartitionBytes,
		MaxProcessingTime: r.opts.maxProcessing,
		Backoff:           supervisor.Backoff{Min: 5 * time.Millisecond, Max: 250 * time.Millisecond},
		RequestTimeout:    5 * time.Second,
		Logger:            logger,
	}
	if r.opts.readCommitted {
		cfg.IsolationLevel = consumer.ReadCommitted
	}
	if r.client == nil {
		cfg.Brokers = r.env.cluster.Addrs()
		cfg.Cluster = r.clusterConfig(who)
	}
	c, err := consumer.New(cfg)
	if err != nil {
		r.t.Fatalf("consumer.New: %v", err)
	}
	r.cons = &consumerRun{c: c, readers: make(map[int32]*reader)}
	for p := range r.opts.partitions {
		r.startPartition(p, from, back, final)
	}
}

func (r *run) startPartition(p int32, from start, back int64, final bool) {
	off, at := consumer.Oldest, int64(-2)
	if from != fromOldest {
		at = r.hist.Delivered()[p]
		if from == fromRewind {
			at = max(at-back, 0)
		}
		off = consumer.At(at)
	}
	wait := 5 * time.Second
	if final {
		wait = bound
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	pc, err := r.consumePartition(ctx, p, off)
	if err != nil {
		if final {
			r.problem("P6: consuming partition %d from %v after healing: %v", p, off, err)
		} else {
			r.note("  partition %d not consumed: %v", p, err)
		}
		return
	}
	rctx, rcancel := context.WithCancel(context.Background())
	rd := &reader{pc: pc, sess: r.hist.StartSession(p, at), done: make(chan struct{}), cancel: rcancel}
	r.cons.readers[p] = rd
	go rd.run(rctx, r.hist, r.opts.readerDelay)
}

// consumePartition calls ConsumePartition until it succeeds, fails for good, or ctx ends.
// ConsumePartition fails at once, without waiting within its context, while the client's
// metadata breaker is open (after repeated failed metadata requests); a user retries that,
// as this does, every 50ms.
func (r *run) consumePartition(ctx context.Context, p int32, off consumer.Offset) (*consumer.PartitionConsumer, error) {
	for {
		pc, err := r.cons.c.ConsumePartition(ctx, r.topic, p, off)
		if err == nil || !errors.Is(err, cluster.ErrUnavailable) {
			return pc, err
		}
		r.note("  partition %d: ConsumePartition: %v; again in 50ms", p, err)
		retry := time.NewTimer(50 * time.Millisecond)
		select {
		case <-retry.C:
		case <-ctx.Done():
			retry.Stop()
			return nil, err
		}
	}
}

// stopPartition closes one partition consumer within d and waits for its reader.
func (r *run) stopPartition(p int32, d time.Duration) {
	rd := r.cons.readers[p]
	if rd == nil {
		return
	}
	delete(r.cons.readers, p)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := rd.pc.Close(ctx); err != nil {
		r.problem("P8: closing partition consumer %d: %v", p, err)
	}
	r.waitReader(rd, d)
}

func (r *run) waitReader(rd *reader, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-rd.done:
	case <-t.C:
		r.problem("P8: partition %d's Next did not return within %v of Close", rd.sess.Partition, d)
	}
	rd.cancel()
	<-rd.done
}

// stopConsumer closes the consumer within d and waits for its readers.
func (r *run) stopConsumer(d time.Duration) {
	if r.cons == nil {
		return
	}
	cons := r.cons
	r.cons = nil
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := cons.c.Close(ctx); err != nil {
		r.problem("P8: consumer Close: %v", err)
	}
	for _, rd := range cons.readers {
		r.waitReader(rd, d)
	}
}

func (c *consumerRun) resumeAll() {
	for _, rd := range c.readers {
		if rd.paused {
			rd.pc.Resume()
			rd.paused = false
		}
	}
}
