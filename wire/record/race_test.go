//go:build race

package record

// raceEnabled is set under -race, where sync.Pool drops a share of what is put into it on
// purpose and allocation counts mean nothing.
const raceEnabled = true
