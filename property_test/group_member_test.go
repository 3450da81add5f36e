package property_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/consumer/group"
	"github.com/troupe-go/troupe/internal/faults"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
)

// errCrashed is what a crashed member's dials fail with.
var errCrashed = errors.New("the member's process crashed")

// killSwitch is one member's network: every connection its consumer opens passes
// through it, so that a crash can close them all at once (abruptly, as a dying process's
// sockets are) and refuse new ones, without anything the member would send on a clean
// close (LeaveGroup, the revocation's commit) reaching the broker.
type killSwitch struct {
	dial faults.DialFunc

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	killed bool
}

func newKillSwitch(dial faults.DialFunc) *killSwitch {
	return &killSwitch{dial: dial, conns: make(map[net.Conn]struct{})}
}

func (k *killSwitch) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	k.mu.Lock()
	killed := k.killed
	k.mu.Unlock()
	if killed {
		return nil, fmt.Errorf("dial %s: %w", address, errCrashed)
	}
	c, err := k.dial(ctx, network, address)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.killed {
		c.Close()
		return nil, fmt.Errorf("dial %s: %w", address, errCrashed)
	}
	kc := &killConn{Conn: c, k: k}
	k.conns[kc] = struct{}{}
	return kc, nil
}

// kill closes every connection and refuses new ones.
func (k *killSwitch) kill() {
	k.mu.Lock()
	k.killed = true
	conns := k.conns
	k.conns = make(map[net.Conn]struct{})
	k.mu.Unlock()
	for c := range conns {
		c.(*killConn).Conn.Close()
	}
}

type killConn struct {
	net.Conn
	k *killSwitch
}

func (c *killConn) Close() error {
	c.k.mu.Lock()
	delete(c.k.conns, c)
	c.k.mu.Unlock()
	return c.Conn.Close()
}

// gmember is one member of the check's group: its consumer, its group.Member, and the
// poller that plays its user.
type gmember struct {
	name string
	ks   *killSwitch
	cons *consumer.Consumer
	m    *group.Member
	p    *poller
}

// poller is a member's user: it polls, records what it took, and polls again (which
// finishes what it took), until the member is closed or it is stopped (a crash).
// While stalled it holds what it took without polling, as a user stuck in its
// processing.
//
// Owner: the group check that started it; stop (or the member's Close) ends it, and
// done is closed when it has.
type poller struct {
	name string
	m    *group.Member
	h    *groupHistory
	logf func(string, ...any)
	// work is how long the user takes over each batch it took before it polls again.
	work time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	stalled bool
	resume  chan struct{}
	err     error // how the loop ended, if not by Close or stop
}

func startPoller(name string, m *group.Member, h *groupHistory, work time.Duration, logf func(string, ...any)) *poller {
	ctx, cancel := context.WithCancel(context.Background())
	p := &poller{name: name, m: m, h: h, logf: logf, work: work, ctx: ctx, cancel: cancel, done: make(chan struct{}), resume: make(chan struct{})}
	go p.run()
	return p
}

func (p *poller) run() {
	defer close(p.done)
	var last []*consumer.Batch
	for {
		p.mu.Lock()
		stalled, resume := p.stalled, p.resume
		p.mu.Unlock()
		if stalled && len(last) > 0 {
			select {
			case <-resume:
			case <-p.ctx.Done():
				return
			}
		}
		if p.work > 0 && len(last) > 0 {
			t := time.NewTimer(p.work)
			select {
			case <-t.C:
			case <-p.ctx.Done():
				t.Stop()
				return
			}
		}
		if len(last) > 0 && p.ctx.Err() == nil {
			p.h.finish(p.name, last)
		}
		bs, err := p.m.Poll(p.ctx)
		if err != nil {
			if !errors.Is(err, group.ErrClosed) && p.ctx.Err() == nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
				p.logf("%s: Poll: %v", p.name, err)
			}
			return
		}
		var recs []*consumer.Batch
		for _, b := range bs {
			if b.Err != nil {
				p.logf("%s: batch error on %s/%d: %v", p.name, b.Topic, b.Partition, b.Err)
				continue
			}
			recs = append(recs, b)
		}
		if p.ctx.Err() == nil {
			p.h.took(p.name, recs)
		}
		last = recs
	}
}

// stall makes the user hold the next batches it takes without polling, until unstall.
func (p *poller) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

func (p *poller) unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.resume)
		p.resume = make(chan struct{})
	}
}

func (p *poller) isStalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

// stop ends the loop without polling again (what it holds stays unfinished) and waits.
func (p *poller) stop() {
	p.cancel()
	<-p.done
}

func (p *poller) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// memberConsumer opens the consumer a member reads through: its connections go through
// a tap (which passes every exchange to observe), its kill switch, then the check's
// network faults.
func memberConsumer(seeds []string, maxPollRecords int, ks *killSwitch, logger *slog.Logger, logf func(string, ...any), observe func(faults.Exchange)) (*consumer.Consumer, error) {
	backoff := supervisor.Backoff{Min: 5 * time.Millisecond, Max: quickReconnectBackoff}
	cfg := consumer.Config{
		Seeds: seeds,
		Cluster: cluster.Config{
			MinRefreshInterval: 10 * time.Millisecond,
			Breaker:            supervisor.BreakerConfig{Errors: 5, Timeout: quickBreakerTimeout},
			Broker: broker.Config{
				Dial:           broker.DialFunc(faults.TapObserve(ks.Dial, logf, nil, observe)),
				ConnectTimeout: connectTimeout,
				RequestTimeout: brokerRequestTimeout,
				Backoff:        backoff,
				Breaker:        supervisor.BreakerConfig{Errors: 3, Timeout: quickBreakerTimeout},
			},
		},
		MaxWait:        50 * time.Millisecond,
		MaxPollRecords: maxPollRecords,
		Backoff:        backoff,
		Logger:         logger,
	}
	return consumer.New(cfg)
}
