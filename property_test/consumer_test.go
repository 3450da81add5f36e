package property_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/faults"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/cluster"
)

// consumerRun is a running consumer: one consumer.Reader of every partition consumed,
// polled by one goroutine (loop) that records what each partition delivers, as a user
// reading a whole topic would. Partitions are added to and removed from the reader on
// that goroutine too (do), so no batch polled before a Remove is recorded after it.
type consumerRun struct {
	c       *consumer.Consumer
	rd      *consumer.Reader
	topic   string
	release bool              // give each poll's batches back once recorded
	readers map[int32]*reader // written only by commands, on the loop's goroutine

	cmds   chan func()
	kickMu sync.Mutex
	kick   context.CancelFunc // ends the Poll in progress, so a command runs at once
	done   chan struct{}      // closed when loop returns
	cancel context.CancelFunc
}

// reader is the user's view of one partition of the reader.
type reader struct {
	pc     partHandle
	sess   *faults.Session
	paused bool
	failed bool // an error ended its session: nothing more is recorded on it
}

// partHandle pauses and resumes one partition of the reader.
type partHandle struct {
	rd *consumer.Reader
	a  consumer.About
}

func (h partHandle) Pause()  { h.rd.Pause(h.a) }
func (h partHandle) Resume() { h.rd.Resume(h.a) }

// loop polls the reader until the consumer is closed, records each batch on its
// partition's session, runs the commands it is given between polls, and waits delay
// after each poll (a slow user).
func (c *consumerRun) loop(ctx context.Context, h *faults.History, delay time.Duration) {
	defer close(c.done)
	for {
		select {
		case cmd := <-c.cmds:
			cmd()
			continue
		default:
		}
		pctx, cancel := context.WithCancel(ctx)
		c.kickMu.Lock()
		c.kick = cancel
		c.kickMu.Unlock()
		if len(c.cmds) > 0 {
			cancel() // queued before the kick was in place
		}
		bs, err := c.rd.Poll(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, consumer.ErrClosed) {
				return
			}
			// Kicked: a command waits. (Nothing else is expected; the checks would find
			// what it cost.)
			continue
		}
		for _, b := range bs {
			rd := c.readers[b.Partition]
			if rd == nil || rd.failed {
				continue
			}
			if b.Err != nil {
				h.Fail(rd.sess, b.Err)
				rd.failed = true
				rctx, rcancel := context.WithTimeout(ctx, bound)
				_ = c.rd.Remove(rctx, consumer.About{Topic: c.topic, Partition: b.Partition})
				rcancel()
				continue
			}
			recs := make([]faults.Stored, len(b.Records))
			for i, rec := range b.Records {
				recs[i] = faults.Stored{Offset: rec.Offset, Key: string(rec.Key), Value: string(rec.Value)}
			}
			h.Deliver(rd.sess, recs)
		}
		if c.release {
			c.rd.Release(bs...) // what the history keeps is copied out
		}
		if delay > 0 {
			wait := time.NewTimer(delay)
		waiting:
			for {
				select {
				case <-wait.C:
					break waiting
				case cmd := <-c.cmds:
					cmd()
				case <-ctx.Done():
					wait.Stop()
					return
				}
			}
		}
	}
}

// do runs f on the loop's goroutine, between polls, and returns once it has run; false if
// the loop has ended.
func (c *consumerRun) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case c.cmds <- func() { f(); close(ran) }:
	case <-c.done:
		return false
	}
	c.kickMu.Lock()
	if c.kick != nil {
		c.kick()
	}
	c.kickMu.Unlock()
	select {
	case <-ran:
		return true
	case <-c.done:
		select {
		case <-ran:
			return true
		default:
			return false
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
		MaxPartitionBytes: int(r.opts.maxPartitionBytes),
		MaxProcessingTime: r.opts.maxProcessing,
		MaxPollRecords:    r.opts.maxPollRecords,
		Backoff:           supervisor.Backoff{Min: 5 * time.Millisecond, Max: 250 * time.Millisecond},
		RequestTimeout:    5 * time.Second,
		Logger:            logger,
	}
	if r.opts.readCommitted {
		cfg.IsolationLevel = consumer.ReadCommitted
	}
	if r.client == nil {
		cfg.Seeds = r.env.cluster.Addrs()
		cfg.Cluster = r.clusterConfig(who)
	}
	c, err := consumer.New(cfg)
	if err != nil {
		r.t.Fatalf("consumer.New: %v", err)
	}
	rd, err := c.NewReader()
	if err != nil {
		r.t.Fatalf("NewReader: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cons = &consumerRun{c: c, rd: rd, topic: r.topic, release: r.opts.release, readers: make(map[int32]*reader),
		cmds: make(chan func(), 1), done: make(chan struct{}), cancel: cancel}
	go r.cons.loop(ctx, r.hist, r.opts.readerDelay)
	for p := range r.opts.partitions {
		r.startPartition(p, from, back, final)
	}
}

func (r *run) startPartition(p int32, from start, back int64, final bool) {
	off, at := consumer.Oldest(), int64(-2)
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
	var err error
	ran := r.cons.do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err = r.addPartition(ctx, p, off); err == nil {
			a := consumer.About{Topic: r.topic, Partition: p}
			r.cons.readers[p] = &reader{pc: partHandle{rd: r.cons.rd, a: a}, sess: r.hist.StartSession(p, at)}
		}
	})
	if !ran {
		err = consumer.ErrClosed
	}
	if err != nil {
		if final {
			r.problem("P6: consuming partition %d from %v after healing: %v", p, off, err)
		} else {
			r.note("  partition %d not consumed: %v", p, err)
		}
	}
}

// addPartition adds the partition to the reader until that succeeds, fails for good, or
// ctx ends. Add fails at once, without waiting within its context, while the client's
// metadata breaker is open (after repeated failed metadata requests); a user retries
// that, as this does, every 50ms.
func (r *run) addPartition(ctx context.Context, p int32, off consumer.Offset) error {
	for {
		err := r.cons.rd.Add(ctx, off, consumer.About{Topic: r.topic, Partition: p})
		if err == nil || !errors.Is(err, cluster.ErrUnavailable) {
			return err
		}
		r.note("  partition %d: Add: %v; again in 50ms", p, err)
		retry := time.NewTimer(50 * time.Millisecond)
		select {
		case <-retry.C:
		case <-ctx.Done():
			retry.Stop()
			return err
		}
	}
}

// stopPartition removes one partition from the reader within d.
func (r *run) stopPartition(p int32, d time.Duration) {
	if r.cons.readers[p] == nil {
		return
	}
	start := time.Now()
	var err error
	r.cons.do(func() {
		delete(r.cons.readers, p)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		err = r.cons.rd.Remove(ctx, consumer.About{Topic: r.topic, Partition: p})
	})
	if err != nil {
		r.problem("P8: removing partition %d from the reader: %v", p, err)
	} else if took := time.Since(start); took > d {
		r.problem("P8: removing partition %d took %v, more than %v", p, took, d)
	}
}

// stopConsumer closes the consumer within d and waits for its reader's loop.
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
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-cons.done:
	case <-t.C:
		r.problem("P8: the reader's Poll did not return within %v of Close", d)
	}
	cons.cancel()
	<-cons.done
}

func (c *consumerRun) resumeAll() {
	for _, rd := range c.readers {
		if rd.paused {
			rd.pc.Resume()
			rd.paused = false
		}
	}
}
