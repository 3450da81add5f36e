package cluster

import (
	"errors"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
)

// Errors of the cluster client.
var (
	// ErrClosed: the client is closed. It also matches troupe.ErrClosed, the one "closed"
	// of every troupe component, so a caller checks for that alone.
	ErrClosed error = closed{}

	// ErrUnavailable: no broker answered: metadata requests to every known broker and seed
	// kept failing until the client's metadata breaker opened. The error wraps the last
	// failure, which names the broker (its address) and the cause (a *broker.Error, say
	// "connection refused"). It is a transient class: the client keeps trying, and callers
	// may wait and ask again. It also matches actor.ErrUnavailable, so callers treat it
	// like an unavailable broker. (A cause that waiting will not cure matches
	// broker.ErrPermanent instead, and fails refreshes at once.)
	ErrUnavailable error = unavailable{}
)

// closed is ErrClosed's type: its own sentinel, which also matches troupe.ErrClosed.
type closed struct{}

func (closed) Error() string        { return "cluster: client closed" }
func (closed) Is(target error) bool { return target == troupe.ErrClosed }

// closedIfStopped reports the metadata actor's end (its mailbox gone for good: the client
// is closed) as ErrClosed; other errors pass as they are.
func closedIfStopped(err error) error {
	if errors.Is(err, actor.ErrStopped) {
		return ErrClosed
	}
	return err
}

// unavailable is ErrUnavailable's type: its own sentinel, which also matches
// actor.ErrUnavailable.
type unavailable struct{}

func (unavailable) Error() string        { return "cluster: no broker answered" }
func (unavailable) Is(target error) bool { return target == actor.ErrUnavailable }
