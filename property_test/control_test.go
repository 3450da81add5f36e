package property_test

import (
	"testing"

	"pgregory.net/rapid"
)

// TestPropertyNegativeControl runs the deterministic check with idempotence off, where
// duplicates are allowed, and ends every check with timeouts after the append while
// records are produced: the checker must report duplicates (P4) every time, which proves
// that P4's check can fail. Every other property must still hold.
func TestPropertyNegativeControl(t *testing.T) {
	useRapid(t, 20, 15)
	rapid.Check(t, func(rt *rapid.T) {
		defer watchdog(t.Name(), stallLimit, stalled)()
		rapid.SyncTest(rt, func(rt *rapid.T) { syncCheck(rt, mode{idempotent: false, control: true}, t.Name(), nil) })
	})
}
