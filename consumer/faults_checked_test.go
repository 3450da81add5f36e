//go:build troupecheck

package consumer

import "testing"

// faultsOn says whether this build has the fault seams.
const faultsOn = true

// requireFaults does nothing in checked builds, where the fault seams exist.
func requireFaults(testing.TB) {}
