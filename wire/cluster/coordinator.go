package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
)

// groupAttempts bounds how many times a group request (FindCoordinator, OffsetCommit,
// OffsetFetch) is sent for one call when the answers keep being retriable: the
// coordinator moving or loading, a connection lost. The backoff between attempts grows
// from the client's Broker.Backoff.Min to its Max, so the attempts span several seconds
// unless the caller's context ends first.
const groupAttempts = 10

// coordinators caches the coordinator of each group the client has asked about. It is
// the one plain piece of state the group requests share; the mutex is held only to read
// or write the map.
type coordinators struct {
	mu    sync.Mutex
	nodes map[string]broker.Node // by group
}

func (cs *coordinators) get(group string) (broker.Node, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n, ok := cs.nodes[group]
	return n, ok
}

func (cs *coordinators) set(group string, n broker.Node) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.nodes == nil {
		cs.nodes = make(map[string]broker.Node)
	}
	cs.nodes[group] = n
}

// forget drops group's cached coordinator if it is still n: a newer answer (another
// caller found the new coordinator meanwhile) is kept.
func (cs *coordinators) forget(group string, n broker.Node) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.nodes[group] == n {
		delete(cs.nodes, group)
	}
}

// groupAction is what a group request does about an error in its answer.
type groupAction uint8

// The actions are ordered: a round with partitions of two kinds does the greater.
const (
	actDone   groupAction = iota // no error, or one to report: the answer stands
	actRetry                     // the coordinator is loading (or timed out): resend to it after a backoff
	actRefind                    // the coordinator moved or is gone: find it again, resend
)

// classifyGroupErr decides what a group request does about err, an error code from its
// answer or a connection's failure. It is plain and deterministic: the tests drive it
// directly.
//
//   - NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, and a connection lost or refused
//     (broker.Retriable): the coordinator is somewhere else or down; find it again.
//   - COORDINATOR_LOAD_IN_PROGRESS, REQUEST_TIMED_OUT, UNSTABLE_OFFSET_COMMIT: the same
//     coordinator will answer; ask it again after a backoff.
//   - Everything else stands: it is reported (authorization failures marked
//     broker.ErrPermanent by the caller, see refusedGroup).
func classifyGroupErr(err error) groupAction {
	switch {
	case err == nil:
		return actDone
	case errors.Is(err, errcode.NotCoordinator), errors.Is(err, errcode.CoordinatorNotAvailable):
		return actRefind
	case errors.Is(err, errcode.CoordinatorLoadInProgress), errors.Is(err, errcode.RequestTimedOut),
		errors.Is(err, errcode.UnstableOffsetCommit):
		return actRetry
	case broker.Retriable(err):
		return actRefind
	}
	return actDone
}

// refusedGroup marks an authorization failure as permanent (broker.ErrPermanent): the
// cluster refuses this user the group or topic, and asking again will not change that.
// Other errors pass as they are.
func refusedGroup(err error) error {
	if errors.Is(err, errcode.GroupAuthorizationFailed) || errors.Is(err, errcode.TopicAuthorizationFailed) ||
		errors.Is(err, errcode.ClusterAuthorizationFailed) {
		return broker.Permanent(err)
	}
	return err
}

// coordinatorAnswer is FindCoordinator's answer for one key.
type coordinatorAnswer struct {
	node broker.Node
	err  error // the key's error code, nil when node is its coordinator
}

// findCoordinatorRequest is the FindCoordinator request for the group keys at version:
// all of them in CoordinatorKeys from v4 (KIP-699), only the first in Key below.
func findCoordinatorRequest(keys []string, version int16) *api.FindCoordinatorRequest {
	req := &api.FindCoordinatorRequest{}
	req.Default()
	req.KeyType = 0 // a group
	if version >= 4 {
		req.CoordinatorKeys = append([]string(nil), keys...)
	} else if len(keys) > 0 {
		req.Key = keys[0]
	}
	return req
}

// parseFindCoordinator reads a FindCoordinator response sent at version for the keys
// asked (keys[0] alone below v4). Keys the response does not answer are left out of the
// map: the caller asks about them again.
func parseFindCoordinator(resp *api.FindCoordinatorResponse, version int16, keys []string) map[string]coordinatorAnswer {
	out := make(map[string]coordinatorAnswer, len(keys))
	answer := func(key string, code int16, msg *string, id int32, host string, port int32) {
		if err := errcode.ForCode(code); err != nil {
			if msg != nil && *msg != "" {
				err = fmt.Errorf("%w: %s", err, *msg)
			}
			out[key] = coordinatorAnswer{err: err}
			return
		}
		if id < 0 || host == "" || port <= 0 || port > 65535 {
			out[key] = coordinatorAnswer{err: fmt.Errorf("%w: coordinator %d at %q port %d", broker.ErrProtocol, id, host, port)}
			return
		}
		out[key] = coordinatorAnswer{node: broker.Node{ID: id, Addr: net.JoinHostPort(host, strconv.Itoa(int(port)))}}
	}
	if version < 4 {
		if len(keys) > 0 {
			answer(keys[0], resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port)
		}
		return out
	}
	asked := make(map[string]bool, len(keys))
	for _, k := range keys {
		asked[k] = true
	}
	for _, c := range resp.Coordinators {
		if asked[c.Key] {
			answer(c.Key, c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port)
		}
	}
	return out
}

// GroupCoordinator returns the broker that coordinates group: the one its commits, offset
// fetches and membership requests go to. The answer is cached per group and used until a
// request to it fails with NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a lost
// connection (ForgetCoordinator), after which the next call asks again.
//
// The lookup (FindCoordinator, from v4 with many keys per request) goes to any known
// broker, and is retried within ctx, with the connections' backoff, while the answer is
// COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS or a connection failure, up to
// 10 times. It fails with an error that matches ErrUnavailable and wraps the last failure
// when the retries run out, with the Kafka error (matching broker.ErrPermanent for
// GROUP_AUTHORIZATION_FAILED, which no retry cures) for one that is not retriable, and
// with ctx's cause when ctx ends. An empty group is an ErrInvalidQuery.
func (c *Client) GroupCoordinator(ctx context.Context, group string) (broker.Node, error) {
	if group == "" {
		return broker.Node{}, fmt.Errorf("%w: empty group ID", ErrInvalidQuery)
	}
	if n, ok := c.coords.get(group); ok {
		return n, nil
	}
	got := c.findCoordinators(ctx, []string{group})
	a := got[group]
	return a.node, a.err
}

// Coordinator is one group's coordinator as GroupCoordinators found it: Node, or Err
// saying why there is none (as GroupCoordinator's error).
type Coordinator struct {
	Group string
	Node  broker.Node
	Err   error
}

// GroupCoordinators is GroupCoordinator for many groups at once, one answer per group in
// order: cached coordinators are answered from the cache, the others looked up together,
// in one FindCoordinator request from v4 (KIP-699) and one per group below. The error is
// for the call as a whole: ErrInvalidQuery for an empty group, and then nothing is sent.
func (c *Client) GroupCoordinators(ctx context.Context, groups ...string) ([]Coordinator, error) {
	out := make([]Coordinator, len(groups))
	var ask []string
	seen := make(map[string]bool, len(groups))
	for i, g := range groups {
		if g == "" {
			return nil, fmt.Errorf("%w: empty group ID", ErrInvalidQuery)
		}
		out[i].Group = g
		if n, ok := c.coords.get(g); ok {
			out[i].Node = n
		} else if !seen[g] {
			seen[g] = true
			ask = append(ask, g)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	got := c.findCoordinators(ctx, ask)
	for i := range out {
		if a, ok := got[out[i].Group]; ok {
			out[i].Node, out[i].Err = a.node, a.err
		}
	}
	return out, nil
}

// NoteCoordinator records node as group's coordinator, found by a lookup of the caller's
// own (a group member's actor asks FindCoordinator as a call of its own, as it cannot
// wait in GroupCoordinator): the next GroupCoordinator, and so the member's first offset
// fetch and commit, answer from it instead of asking again. It also warms the admin
// connection to node (broker.Handle.Warm), over which those offset requests go: a member
// joining a group fetches its partitions' offsets as soon as it is assigned them, and
// should not wait for a dial and a handshake then. An empty group or a node without an
// address is ignored.
func (c *Client) NoteCoordinator(group string, node broker.Node) {
	if group == "" || node.Addr == "" {
		return
	}
	c.coords.set(group, node)
	if h, err := c.Conn(node, broker.Admin); err == nil {
		h.Warm()
	}
}

// ForgetCoordinator drops the cached coordinator of group if it is still node: a request
// to it was answered NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE, or its connection
// failed. The next GroupCoordinator asks again.
func (c *Client) ForgetCoordinator(group string, node broker.Node) {
	c.coords.forget(group, node)
}

// findCoordinators looks up the coordinators of groups, caching each answer. Every
// group has an answer: its node, or why there is none.
func (c *Client) findCoordinators(ctx context.Context, groups []string) map[string]coordinatorAnswer {
	out := make(map[string]coordinatorAnswer, len(groups))
	pending := append([]string(nil), groups...)
	var last error
	failures := 0
	for turn := 0; len(pending) > 0; turn++ {
		if err := ctx.Err(); err != nil {
			for _, g := range pending {
				out[g] = coordinatorAnswer{err: withLast(fmt.Errorf("cluster: coordinator of group %q: %w", g, context.Cause(ctx)), last)}
			}
			return out
		}
		if failures >= groupAttempts {
			for _, g := range pending {
				out[g] = coordinatorAnswer{err: fmt.Errorf("%w: coordinator of group %q not found after %d attempts; the last failure: %w", ErrUnavailable, g, failures, last)}
			}
			return out
		}
		node, err := c.anyBroker(ctx, turn)
		if err != nil {
			for _, g := range pending {
				out[g] = coordinatorAnswer{err: fmt.Errorf("cluster: coordinator of group %q: %w", g, err)}
			}
			return out
		}
		keys := pending
		var version int16
		req := findCoordinatorRequest(keys, 4)
		call := &broker.Call{Request: req}
		// The request is rebuilt in place for the version picked: the Call belongs to the
		// connection meanwhile, and its Request field is read by whoever waits for it.
		call.Prepare = func(v int16) error {
			version = v
			*req = *findCoordinatorRequest(keys, v)
			return nil
		}
		err = c.doCall(ctx, node, call)
		if err != nil {
			last = err
			if broker.Retriable(err) {
				failures++
				c.pause(ctx, failures) // a ctx that ended is reported at the top
				continue
			}
			for _, g := range pending {
				out[g] = coordinatorAnswer{err: fmt.Errorf("cluster: coordinator of group %q: %w", g, err)}
			}
			return out
		}
		answers := parseFindCoordinator(call.Response.(*api.FindCoordinatorResponse), version, keys)
		var again []string
		retry := false
		for _, g := range keys {
			a, ok := answers[g]
			switch {
			case !ok:
				again = append(again, g) // below v4, one key per request
			case a.err == nil:
				c.coords.set(g, a.node)
				out[g] = a
			case errors.Is(a.err, errcode.CoordinatorNotAvailable) || errors.Is(a.err, errcode.CoordinatorLoadInProgress) ||
				errors.Is(a.err, errcode.NotCoordinator):
				last = fmt.Errorf("coordinator of group %q from %s: %w", g, node, a.err)
				again = append(again, g)
				retry = true
			default:
				out[g] = coordinatorAnswer{err: fmt.Errorf("cluster: coordinator of group %q: %w", g, refusedGroup(a.err))}
			}
		}
		pending = again
		if retry {
			failures++
			c.pause(ctx, failures)
		}
	}
	return out
}

// withLast adds the last failure seen to err, the context's end, so that a caller whose
// deadline passed learns why the retries did not succeed in time.
func withLast(err, last error) error {
	if last == nil {
		return err
	}
	return fmt.Errorf("%w; the last failure: %w", err, last)
}

// anyBroker picks a broker to ask about coordinators: the known brokers in turn (a
// refresh first if none are known yet).
func (c *Client) anyBroker(ctx context.Context, turn int) (broker.Node, error) {
	snap := c.Snapshot()
	if snap == nil || len(snap.Brokers) == 0 {
		var err error
		if snap, err = c.Refresh(ctx); err != nil {
			return broker.Node{}, err
		}
	}
	nodes := snap.Nodes()
	if len(nodes) == 0 {
		return broker.Node{}, fmt.Errorf("%w: metadata lists no brokers", ErrUnavailable)
	}
	return nodes[turn%len(nodes)], nil
}

// doCall sends call to node over its admin connection and waits for it within ctx. The
// call's deadline is ctx's, or the connections' RequestTimeout from when it is written.
func (c *Client) doCall(ctx context.Context, node broker.Node, call *broker.Call) error {
	h, err := c.Conn(node, broker.Admin)
	if err != nil {
		return err
	}
	return h.DoCall(ctx, call)
}

// backoff is the client's backoff between attempts of group requests: the connections'.
func (c *Client) backoff() supervisor.Backoff {
	b := c.cfg.Broker.Backoff
	if b.Min <= 0 {
		b.Min = supervisor.DefaultBackoffMin
	}
	if b.Max <= 0 {
		b.Max = broker.DefaultBackoffMax
	}
	b.Max = max(b.Max, b.Min)
	return b
}

// pause waits the backoff after failures consecutive failures, or until ctx ends; it
// reports whether the wait ran out (false: ctx ended).
func (c *Client) pause(ctx context.Context, failures int) bool {
	t := time.NewTimer(c.backoff().Delay(failures, rand.Float64()))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
