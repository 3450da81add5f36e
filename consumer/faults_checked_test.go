//go:build troupecheck

package consumer

import "testing"

// requireFaults does nothing in checked builds, where the fault seams exist.
func requireFaults(testing.TB) {}
