package cluster

import (
	"errors"

	"github.com/troupe-go/troupe/actor"
)

// Errors of the cluster client.
var (
	// ErrClosed: the client is closed.
	ErrClosed = errors.New("cluster: client closed")

	// ErrUnavailable: no broker answered: metadata requests to every known broker and seed
	// kept failing until the client's metadata breaker opened. The error wraps the last
	// failure, which names the broker (its address) and the cause (a *broker.Error, say
	// "connection refused"). It is a transient class: the client keeps trying, and callers
	// may wait and ask again. It also matches actor.ErrUnavailable, so callers treat it
	// like an unavailable broker. (A cause that waiting will not cure matches
	// broker.ErrPermanent instead, and fails refreshes at once.)
	ErrUnavailable error = unavailable{}
)

// unavailable is ErrUnavailable's type: its own sentinel, which also matches
// actor.ErrUnavailable.
type unavailable struct{}

func (unavailable) Error() string        { return "cluster: no broker answered" }
func (unavailable) Is(target error) bool { return target == actor.ErrUnavailable }
