package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/eapache/go-resiliency/breaker"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/api"
	bk "github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
)

// metaMsg is a message to the metadata actor: a refresh request, or the outcome of a
// metadata request it sent.
type metaMsg struct {
	// A refresh: answer with a snapshot at least as new as this request.
	topics []string
	all    bool
	reply  actor.Reply[*Snapshot]
	notify func(*Snapshot, error) // instead of reply, for RefreshAsync

	// An outcome.
	call *bk.Call
	seq  uint64
}

// waiter is a refresh waiting for its answer.
type waiter struct {
	topics  []string
	all     bool
	after   uint64 // answer with the outcome of a request numbered above this
	retries int    // times re-asked because a topic was unresolved
	reply   actor.Reply[*Snapshot]
	notify  func(*Snapshot, error)
}

func (w *waiter) answer(s *Snapshot, err error) {
	if w.notify != nil {
		w.notify(s, err)
		return
	}
	w.reply.Send(s, err)
}

// sentReq is the one metadata request in flight.
type sentReq struct {
	seq  uint64
	all  bool
	at   time.Time
	node bk.Node
}

// metadata is the actor that keeps the cluster snapshot. It sends at most one metadata
// request at a time (single-flight), merges refreshes asked for meanwhile into the next
// one, spaces requests by MinRefreshInterval, refreshes every RefreshInterval anyway,
// asks again (with backoff, up to TopicRetries times) about topics that do not exist yet
// or lack a leader, guards requests with a circuit breaker, and publishes each merged
// snapshot to Client.Snapshot and each change to subscribers. After every snapshot it
// tells the connection pool which brokers exist, so connections of brokers that left are
// stopped.
//
// Owner: the Client's supervisor, which restarts it if it fails; its release hook answers
// the refreshes it was holding.
type metadata struct {
	c   *Client
	cfg *Config

	interest map[string]bool // topics kept fresh by periodic refreshes
	waiters  []*waiter
	inflight *sentReq
	seq      uint64
	lastSent time.Time
	nextAt   time.Time // earliest time of the next request, when one is wanted
	turn     int       // rotates requests over the known brokers and seeds
	breaker  *breaker.Breaker
	self     actor.Ref[metaMsg]
}

func newMetadata(c *Client) *metadata {
	return &metadata{
		c:        c,
		cfg:      &c.cfg,
		interest: c.interest,
		breaker:  c.breaker,
	}
}

// Run is one incarnation of the metadata actor.
func (m *metadata) Run(ctx context.Context, in *actor.Inbox[metaMsg]) error {
	m.self = in.Ref()
	var alarm actor.Alarm
	defer alarm.Stop()
	var batch []metaMsg
	for {
		alarm.Set(m.due())
		select {
		case <-ctx.Done():
			m.failWaiters(ErrClosed)
			return ctx.Err()
		case <-alarm.C():
		case <-in.Ready():
			var closed bool
			batch, closed = in.Drain(batch[:0])
			for _, msg := range batch {
				m.handle(msg)
			}
			clear(batch)
			if closed {
				m.failWaiters(ErrClosed)
				return nil
			}
		}
		m.maybeSend(ctx, time.Now())
	}
}

func (m *metadata) handle(msg metaMsg) {
	if msg.call != nil {
		m.outcome(msg.call, msg.seq)
		return
	}
	w := &waiter{topics: msg.topics, all: msg.all, after: m.seq, reply: msg.reply, notify: msg.notify}
	for _, t := range msg.topics {
		m.interest[t] = true
	}
	m.waiters = append(m.waiters, w)
	if m.nextAt.IsZero() {
		m.nextAt = m.lastSent.Add(m.cfg.MinRefreshInterval)
	}
}

// due is when the next request is due, for the loop's alarm: the earlier of one someone
// waits for and the periodic one; the zero time while a request is in flight (its outcome
// wakes the loop) and before the first request (an unused client stays quiet).
func (m *metadata) due() time.Time {
	if m.inflight != nil || (m.seq == 0 && m.nextAt.IsZero()) {
		return time.Time{}
	}
	return actor.Earlier(m.nextAt, m.lastSent.Add(m.cfg.RefreshInterval))
}

// maybeSend sends the next metadata request if one is wanted and allowed now.
func (m *metadata) maybeSend(ctx context.Context, now time.Time) {
	if m.inflight != nil {
		return
	}
	// Periodic refreshes start after the first request: an unused client stays quiet.
	periodic := m.seq > 0 && now.Sub(m.lastSent) >= m.cfg.RefreshInterval
	wanted := !m.nextAt.IsZero() && !now.Before(m.nextAt)
	if !periodic && !wanted {
		return
	}
	if m.breaker.GetState() == breaker.Open {
		last := m.c.lastErr
		if last == nil { // the failures were seen by an earlier incarnation
			last = breaker.ErrBreakerOpen
		}
		m.failWaiters(fmt.Errorf("%w: metadata requests keep failing; the last: %w", ErrUnavailable, last))
		m.nextAt = time.Time{}
		m.lastSent = now // the periodic refresh waits too
		return
	}

	all := false
	for _, w := range m.waiters {
		all = all || w.all
	}
	req := &api.MetadataRequest{}
	req.Default()
	req.AllowAutoTopicCreation = m.cfg.AllowAutoTopicCreation
	if !all {
		names := make([]string, 0, len(m.interest))
		for t := range m.interest {
			names = append(names, t)
		}
		slices.Sort(names)
		req.Topics = make([]api.MetadataRequestTopic, len(names))
		for i := range names {
			req.Topics[i] = api.MetadataRequestTopic{Name: &names[i]}
		}
	}
	node := m.nextNode()
	m.seq++
	seq := m.seq
	self := m.self
	call := &bk.Call{Request: req, Done: func(c *bk.Call) {
		_ = self.TrySend(metaMsg{call: c, seq: seq}) // unbounded: never refused while running
	}}
	if d, ok := ctx.Deadline(); ok {
		call.Deadline = d
	}
	m.lastSent, m.nextAt = now, time.Time{}
	m.inflight = &sentReq{seq: seq, all: all, at: now, node: node}
	h, err := m.c.pool.Conn(node, bk.Admin)
	if err == nil {
		err = h.Send(ctx, call)
	}
	if err != nil {
		call.Err = err
		m.outcome(call, seq)
	}
}

// nextNode picks the broker for the next request: the known brokers in turn, then the
// seeds, so that a request that failed is retried elsewhere.
func (m *metadata) nextNode() bk.Node {
	var nodes []bk.Node
	if s := m.c.snap.Load(); s != nil {
		nodes = s.Nodes()
	}
	for _, seed := range m.cfg.Seeds {
		nodes = append(nodes, bk.Node{ID: -1, Addr: seed})
	}
	n := nodes[m.turn%len(nodes)]
	return n
}

// outcome handles the end of the metadata request numbered seq.
func (m *metadata) outcome(call *bk.Call, seq uint64) {
	if m.inflight == nil || m.inflight.seq != seq {
		return
	}
	sent := m.inflight
	m.inflight = nil
	err := call.Err
	var resp *api.MetadataResponse
	if err == nil {
		resp = call.Response.(*api.MetadataResponse)
		err = errcode.ForCode(resp.ErrorCode)
	}
	_ = m.breaker.Run(func() error { return err })
	if err != nil {
		m.turn++ // try another broker next
		m.c.cfg.Logger.Warn("metadata request failed", "broker", sent.node.String(), "err", err)
		var be *bk.Error
		if !errors.As(err, &be) { // a *broker.Error names the broker already
			err = fmt.Errorf("metadata from %s: %w", sent.node, err)
		}
		m.c.lastErr = err
		if errors.Is(err, bk.ErrPermanent) {
			// Asking again will not help (credentials or TLS refused): whoever waits
			// learns it now rather than when the breaker opens.
			m.failWaiters(fmt.Errorf("cluster: %w", err))
			return
		}
		if len(m.waiters) > 0 {
			m.nextAt = time.Now().Add(m.cfg.MinRefreshInterval)
		}
		return
	}
	m.c.lastErr = nil

	prev := m.c.snap.Load()
	next, changes := merge(prev, resp, sent.all, sent.at)
	m.c.snap.Store(next)
	m.c.publish(changes)
	if len(next.Brokers) > 0 {
		m.c.pool.Retain(next.Nodes(), true)
	}

	// Answer the refreshes this request was new enough for, unless a topic they asked
	// about is unresolved and may resolve soon (being created, electing a leader).
	keep := m.waiters[:0]
	var retryAt time.Time
	for _, w := range m.waiters {
		if w.after >= seq {
			keep = append(keep, w)
			continue
		}
		if w.retries < m.cfg.TopicRetries && m.anyUnresolved(next, w) {
			w.retries++
			w.after = seq
			keep = append(keep, w)
			at := time.Now().Add(m.cfg.TopicBackoff.Delay(w.retries, rand.Float64()))
			if soonest := m.lastSent.Add(m.cfg.MinRefreshInterval); at.Before(soonest) {
				at = soonest
			}
			if retryAt.IsZero() || at.Before(retryAt) {
				retryAt = at
			}
			continue
		}
		w.answer(next, nil)
	}
	clear(m.waiters[len(keep):])
	m.waiters = keep
	switch {
	case !retryAt.IsZero():
		m.nextAt = retryAt
	case len(m.waiters) > 0:
		m.nextAt = m.lastSent.Add(m.cfg.MinRefreshInterval)
	}
}

func (m *metadata) anyUnresolved(s *Snapshot, w *waiter) bool {
	for _, t := range w.topics {
		if unresolved(s.Topic(t)) {
			return true
		}
	}
	return false
}

// failWaiters answers every waiting refresh with err.
func (m *metadata) failWaiters(err error) {
	for _, w := range m.waiters {
		w.answer(nil, err)
	}
	clear(m.waiters)
	m.waiters = m.waiters[:0]
}

// release is the supervisor's release hook: a failed incarnation's waiters are answered.
func releaseMetadata(a actor.Actor[metaMsg], err error) {
	if m, ok := a.(*metadata); ok {
		m.failWaiters(fmt.Errorf("cluster: metadata actor failed: %w", err))
	}
}
