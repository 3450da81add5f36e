package supervisor

import (
	"fmt"
	"sync"

	"github.com/troupe-go/troupe/actor"
)

// Shared is a reference-counted set of children of one supervisor, keyed by K: the talk's
// dynamic multiplexing. Many users (partitions, say) share one child per key (a broker);
// the first Acquire of a key starts its child, every Acquire counts one reference, and the
// Release of the last reference stops the child with a drain stop (Supervisor.RemoveAsync):
// it handles what is already in its mailbox, then exits and is forgotten.
//
// Each child's name is the key, formatted with %v (so a key type with a String method
// chooses it), and a number: "node 1 (host:9092) #3". The number is unique within the
// Shared, so a child still draining after its last Release and the child a later Acquire
// starts for the same key never share a name.
//
// Bounds: one child per key in use; the set never holds a key nobody holds a reference
// on. Shared is safe for concurrent use. Its owner is whoever owns the supervisor; Shared
// starts no goroutine and needs no Close: stopping the supervisor stops every child.
type Shared[K comparable, M any] struct {
	sup   *Supervisor
	child func(key K, name string) ChildSpec[M]

	mu    sync.Mutex
	byKey map[K]*SharedChild[K, M]
	seq   int
}

// SharedChild is the child of one key, handed to everyone who acquired it. Its Ref stays
// valid until the child is removed; sends then fail with actor.ErrStopped.
type SharedChild[K comparable, M any] struct {
	key  K
	name string
	ref  actor.Ref[M]
	refs int // guarded by Shared.mu
}

// Key is the key the child was acquired for.
func (c *SharedChild[K, M]) Key() K { return c.key }

// Name is the child's name under the supervisor, unique within its Shared.
func (c *SharedChild[K, M]) Name() string { return c.name }

// Ref sends to the child.
func (c *SharedChild[K, M]) Ref() actor.Ref[M] { return c.ref }

// NewShared returns an empty set of children of sup. child makes the spec of the child for
// key, named name; Shared sets the spec's Name to name whatever child returns, so child
// may leave it empty. child runs with the set's lock held: it must not call the Shared.
func NewShared[K comparable, M any](sup *Supervisor, child func(key K, name string) ChildSpec[M]) *Shared[K, M] {
	return &Shared[K, M]{sup: sup, child: child, byKey: make(map[K]*SharedChild[K, M])}
}

// Acquire returns the child of key, starting it (Add) if there is none, and counts one
// more reference on it. Every Acquire that returns nil error must be matched by exactly one
// Release. If the child cannot be added (the supervisor is stopping or stopped, or the
// spec is invalid), Acquire returns Add's error, prefixed with the child's name, and
// counts nothing.
func (s *Shared[K, M]) Acquire(key K) (*SharedChild[K, M], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.byKey[key]; c != nil {
		c.refs++
		return c, nil
	}
	s.seq++
	c := &SharedChild[K, M]{key: key, name: fmt.Sprintf("%v #%d", key, s.seq), refs: 1}
	spec := s.child(key, c.name)
	spec.Name = c.name
	ref, err := Add(s.sup, spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	c.ref = ref
	s.byKey[key] = c
	return c, nil
}

// Release drops one reference on c; the last one removes c's child with a drain stop
// (RemoveAsync, which does not wait). A later Acquire of the same key starts a new child
// with a new name, even while the old one drains.
func (s *Shared[K, M]) Release(c *SharedChild[K, M]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.refs--
	if c.refs > 0 {
		return
	}
	if s.byKey[c.key] == c {
		delete(s.byKey, c.key)
	}
	// An error means the supervisor has stopped: its children are stopped already.
	_ = s.sup.RemoveAsync(c.name)
}

// Counts returns a snapshot of the keys in use and the references held on each.
func (s *Shared[K, M]) Counts() map[K]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[K]int, len(s.byKey))
	for k, c := range s.byKey {
		out[k] = c.refs
	}
	return out
}
