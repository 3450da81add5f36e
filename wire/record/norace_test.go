//go:build !race

package record

// raceEnabled is set under -race; see race_test.go.
const raceEnabled = false
