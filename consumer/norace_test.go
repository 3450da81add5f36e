//go:build !race

package consumer

// raceEnabled is set under -race; see race_test.go.
const raceEnabled = false
