package property_test

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The suites run a bounded number of checks in CI and thousands in long mode:
//
//	TROUPE_PROPERTY_CHECKS=5000 go test -run Property -timeout 0 ./property_test/
//
// sets the number of checks of each suite. rapid's own -rapid.checks, -rapid.steps (and
// RAPID_CHECKS, RAPID_STEPS) win when given: they apply to every suite alike.
const checksEnv = "TROUPE_PROPERTY_CHECKS"

// bound is P7's bound: after the faults are healed, every produce outcome is reported and
// the consumer reaches the high-water mark within it (fake time under synctest, real time
// with toxiproxy).
const bound = 60 * time.Second

var (
	explicitOnce sync.Once
	explicit     map[string]bool // rapid flags the command line (or environment) set
)

// useRapid sets rapid's number of checks (and average steps per check) for the suite
// about to run: the long-mode count if TROUPE_PROPERTY_CHECKS is set, else ci; steps as
// given. What the command line says explicitly is left alone.
func useRapid(t *testing.T, ci, steps int) {
	t.Helper()
	explicitOnce.Do(func() {
		explicit = make(map[string]bool)
		flag.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		for env, name := range map[string]string{"RAPID_CHECKS": "rapid.checks", "RAPID_STEPS": "rapid.steps"} {
			if _, ok := os.LookupEnv(env); ok {
				explicit[name] = true
			}
		}
	})
	checks := ci
	if v := os.Getenv(checksEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number of checks", checksEnv, v)
		}
		checks = n
	}
	set := func(name string, v int) {
		if explicit[name] {
			return
		}
		if err := flag.Set(name, strconv.Itoa(v)); err != nil {
			t.Fatalf("setting -%s: %v", name, err)
		}
	}
	set("rapid.checks", checks)
	set("rapid.steps", steps)
	t.Logf("%s", describeRapid())
}

func describeRapid() string {
	get := func(name string) string {
		if f := flag.Lookup(name); f != nil {
			return f.Value.String()
		}
		return "?"
	}
	return fmt.Sprintf("rapid: %s checks, %s steps on average", get("rapid.checks"), get("rapid.steps"))
}
