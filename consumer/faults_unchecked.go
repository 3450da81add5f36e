//go:build !troupecheck

package consumer

import "unsafe"

// faults holds nothing in normal builds: this fails to compile if it ever takes a byte.
var _ [0]struct{} = [unsafe.Sizeof(faults{})]struct{}{}

// faults injects nothing outside checked builds. Its counters exist only so that the
// package's tests compile; the tests that inject skip themselves (requireFaults).
type faults struct {
	brokerConsumer, feeder noFault
}

// noFault is a counter that is always zero.
type noFault struct{}

func (noFault) Add(int32)   {}
func (noFault) Store(int32) {}
func (noFault) Load() int32 { return 0 }

// take never fails anything in normal builds.
func (*faults) take(*noFault) bool { return false }
