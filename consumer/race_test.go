//go:build race

package consumer

// raceEnabled is set under -race, where allocation counts mean nothing.
const raceEnabled = true
