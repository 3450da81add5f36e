//go:build troupecheck

package consumer

import "sync/atomic"

// faults injects failures into the consumer's own actors, so that tests can prove that
// their supervision and release hooks lose nothing. Each counter is how many more
// failures to inject. It exists only in checked builds (-tags troupecheck, as the house
// test command builds); otherwise faults is an empty struct and take a constant false
// the compiler removes with the branch it guards (faults_unchecked.go).
type faults struct {
	brokerConsumer atomic.Int32 // panic on a partition's records in a fetch response, before using them
	feeder         atomic.Int32 // panic right after offering a batch
}

// take reports whether to fail now, using up one of n.
func (f *faults) take(n *atomic.Int32) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}
