//go:build !troupecheck

package actor

//lint:file-ignore U1000 the checked-mode state types are empty and unused in normal builds

import "unsafe"

const checked = false

// The protocol is free in normal builds: these fail to compile if Owned or an Owner's
// checked-mode state ever takes a byte.
var (
	_ [0]struct{} = [unsafe.Sizeof(Owned{})]struct{}{}
	_ [0]struct{} = [unsafe.Sizeof(ownerState{})]struct{}{}
)

type ownedState struct{}

type ownerState struct{}

func (o *Owner) init(func(Violation)) {}

// Close ends the account; in checked mode anything still owned is reported.
func (o *Owner) Close() {}

// owns is the number of values the account owns now; always 0 unless built with the
// troupecheck tag.
func (o *Owner) owns() int { return 0 }

// Acquire makes o the first owner of x.
func (x *Owned) Acquire(o *Owner) {}

// Give gives x up; from must own it, and must not touch it afterwards.
func (x *Owned) Give(from *Owner) {}

// Take makes to the owner of x, which must be in transit (given and not yet taken).
func (x *Owned) Take(to *Owner) {}

// Check asserts that by owns x.
func (x *Owned) Check(by *Owner) {}

// Release ends x's life in by's hands; by must own it.
func (x *Owned) Release(by *Owner) {}

func recordViolation(Violation) {}
