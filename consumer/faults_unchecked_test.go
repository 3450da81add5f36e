//go:build !troupecheck

package consumer

import "testing"

// faultsOn says whether this build has the fault seams.
const faultsOn = false

// requireFaults skips a test that injects failures: the seams exist only in checked builds.
func requireFaults(t testing.TB) {
	t.Helper()
	t.Skip("injects failures: run with -tags troupecheck, where the fault seams exist")
}
