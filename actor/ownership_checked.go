//go:build troupecheck

package actor

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/troupe-go/troupe/internal/actorhook"
)

const checked = true

type ownedState struct {
	mu     sync.Mutex
	state  ownedPhase
	owner  *Owner
	origin uintptr
}

type ownedPhase uint8

const (
	phaseFree ownedPhase = iota
	phaseOwned
	phaseTransit
	phaseReleased
)

type ownerState struct {
	mu     sync.Mutex
	items  map[*ownedState]struct{}
	closed bool
	report func(Violation)
}

func (o *Owner) init(report func(Violation)) {
	if report == nil {
		report = func(v Violation) {
			recordViolation(v)
			slog.Error(v.String())
		}
	}
	o.report = report
	o.items = make(map[*ownedState]struct{})
}

// Close ends the account; in checked mode anything still owned is reported.
func (o *Owner) Close() {
	o.ownerState.mu.Lock()
	o.closed = true
	left := make([]*ownedState, 0, len(o.items))
	for it := range o.items {
		left = append(left, it)
	}
	clear(o.items)
	o.ownerState.mu.Unlock()
	for _, it := range left {
		o.report(Violation{Kind: OwnedAtClose, Actor: o.name, Holder: o.name, Origin: origin(it.origin)})
	}
}

// owns is the number of values the account owns now.
func (o *Owner) owns() int {
	o.ownerState.mu.Lock()
	defer o.ownerState.mu.Unlock()
	return len(o.items)
}

func (o *Owner) add(it *ownedState) bool {
	o.ownerState.mu.Lock()
	defer o.ownerState.mu.Unlock()
	if o.closed {
		return false
	}
	o.items[it] = struct{}{}
	return true
}

func (o *Owner) remove(it *ownedState) {
	o.ownerState.mu.Lock()
	delete(o.items, it)
	o.ownerState.mu.Unlock()
}

func holderName(s *ownedState) string {
	switch s.state {
	case phaseOwned:
		return s.owner.name
	case phaseTransit:
		return "in transit"
	case phaseReleased:
		return "released"
	}
	return ""
}

func origin(pc uintptr) string {
	if pc == 0 {
		return "unknown"
	}
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	return fmt.Sprintf("%s:%d", f.File, f.Line)
}

// Acquire makes o the first owner of x.
func (x *Owned) Acquire(o *Owner) {
	s := &x.ownedState
	s.mu.Lock()
	if s.state == phaseOwned || s.state == phaseTransit {
		v := Violation{Kind: NotOwner, Actor: o.name, Holder: holderName(s), Origin: origin(s.origin)}
		s.mu.Unlock()
		o.report(v)
		return
	}
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:])
	s.origin = pcs[0]
	s.state, s.owner = phaseOwned, o
	s.mu.Unlock()
	o.add(s)
}

// Give gives x up; from must own it, and must not touch it afterwards.
func (x *Owned) Give(from *Owner) {
	s := &x.ownedState
	s.mu.Lock()
	if s.state != phaseOwned || s.owner != from {
		v := Violation{Kind: UseAfterGive, Actor: from.name, Holder: holderName(s), Origin: origin(s.origin)}
		s.mu.Unlock()
		from.report(v)
		return
	}
	s.state, s.owner = phaseTransit, nil
	s.mu.Unlock()
	from.remove(s)
}

// Take makes to the owner of x, which must be in transit (given and not yet taken).
func (x *Owned) Take(to *Owner) {
	s := &x.ownedState
	s.mu.Lock()
	if s.state != phaseTransit {
		v := Violation{Kind: DoubleTake, Actor: to.name, Holder: holderName(s), Origin: origin(s.origin)}
		s.mu.Unlock()
		to.report(v)
		return
	}
	s.state, s.owner = phaseOwned, to
	s.mu.Unlock()
	if !to.add(s) {
		to.report(Violation{Kind: TakeAfterClose, Actor: to.name, Holder: to.name, Origin: origin(s.origin)})
	}
}

// Check asserts that by owns x.
func (x *Owned) Check(by *Owner) {
	s := &x.ownedState
	s.mu.Lock()
	if s.state != phaseOwned || s.owner != by {
		v := Violation{Kind: UseAfterGive, Actor: by.name, Holder: holderName(s), Origin: origin(s.origin)}
		s.mu.Unlock()
		by.report(v)
		return
	}
	s.mu.Unlock()
}

// Release ends x's life in by's hands; by must own it.
func (x *Owned) Release(by *Owner) {
	s := &x.ownedState
	s.mu.Lock()
	if s.state != phaseOwned || s.owner != by {
		v := Violation{Kind: NotOwner, Actor: by.name, Holder: holderName(s), Origin: origin(s.origin)}
		s.mu.Unlock()
		by.report(v)
		return
	}
	s.state, s.owner = phaseReleased, nil
	s.mu.Unlock()
	by.remove(s)
}

// recordViolation puts v on the list the library's test harness fails on
// (internal/testmain).
func recordViolation(v Violation) { actorhook.RecordViolation(v.String()) }
