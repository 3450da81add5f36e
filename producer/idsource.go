package producer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
)

// producerID is an idempotent producer's identity: the ID the cluster assigned and the
// epoch to start from.
type producerID struct {
	id    int64
	epoch int16
}

// idSource obtains producer IDs (InitProducerId) for the partition producers, without
// ever blocking them: a request posts its answer through a callback. The producer's
// shared ID is fetched once, single-flight, and then served from memory; a partition whose
// epochs ran out asks for a fresh one of its own. It is not an actor — it owns no
// goroutine; its single request in flight completes on the connection's reader — but a
// mutex-guarded struct shared by the partition producers.
type idSource struct {
	client  *cluster.Client
	timeout time.Duration

	mu      sync.Mutex
	shared  *producerID
	waiters []func(producerID, error)
	asking  bool
}

// get calls done with the producer's shared ID: at once if it is known, otherwise when
// the request for it completes. done must not block.
func (s *idSource) get(done func(producerID, error)) {
	s.mu.Lock()
	if s.shared != nil {
		id := *s.shared
		s.mu.Unlock()
		done(id, nil)
		return
	}
	s.waiters = append(s.waiters, done)
	if s.asking {
		s.mu.Unlock()
		return
	}
	s.asking = true
	s.mu.Unlock()
	s.request(func(id producerID, err error) {
		s.mu.Lock()
		if err == nil {
			s.shared = &id
		}
		waiters := s.waiters
		s.waiters, s.asking = nil, false
		s.mu.Unlock()
		for _, w := range waiters {
			w(id, err)
		}
	})
}

// fresh calls done with a new producer ID for one partition (its epochs ran out).
func (s *idSource) fresh(done func(producerID, error)) { s.request(done) }

// request sends InitProducerId to some broker and calls done with the answer.
func (s *idSource) request(done func(producerID, error)) {
	snap := s.client.Snapshot()
	if snap == nil || len(snap.Brokers) == 0 {
		s.client.RefreshAsync(func(snap *cluster.Snapshot, err error) {
			if err != nil {
				done(producerID{}, fmt.Errorf("producer: no broker to ask for a producer ID: %w", err))
				return
			}
			s.requestFrom(snap, done)
		})
		return
	}
	s.requestFrom(snap, done)
}

func (s *idSource) requestFrom(snap *cluster.Snapshot, done func(producerID, error)) {
	nodes := snap.Nodes()
	if len(nodes) == 0 {
		done(producerID{}, fmt.Errorf("producer: no live broker to ask for a producer ID"))
		return
	}
	h, err := s.client.Conn(nodes[rand.IntN(len(nodes))], broker.Admin)
	if err != nil {
		done(producerID{}, err)
		return
	}
	var req api.InitProducerIDRequest
	req.Default()
	req.TransactionTimeoutMs = -1
	call := &broker.Call{Request: &req, Deadline: time.Now().Add(s.timeout), Done: func(c *broker.Call) {
		if c.Err != nil {
			done(producerID{}, c.Err)
			return
		}
		resp := c.Response.(*api.InitProducerIDResponse)
		if err := errcode.ForCode(resp.ErrorCode); err != nil {
			err = fmt.Errorf("producer: InitProducerId: %w", err)
			if refused(err) {
				// The cluster will not give this user an ID however long we ask: the
				// records waiting for one fail now, as not written.
				err = broker.Permanent(err)
			}
			done(producerID{}, err)
			return
		}
		done(producerID{id: resp.ProducerID, epoch: resp.ProducerEpoch}, nil)
	}}
	if err := h.TrySend(call); err != nil {
		done(producerID{}, err)
	}
}

// refused reports whether err is the cluster refusing the user an operation: an
// authorization failure, which no retry cures.
func refused(err error) bool {
	return errors.Is(err, errcode.TopicAuthorizationFailed) ||
		errors.Is(err, errcode.ClusterAuthorizationFailed) ||
		errors.Is(err, errcode.TransactionalIDAuthorizationFailed)
}
