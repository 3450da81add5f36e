package producer

import (
	"testing"
	"time"

	"github.com/troupe-go/troupe/supervisor"
)

// TestBackoffDefaultsAndMeaning checks that Config.Backoff is filled in with its
// documented defaults, that a Max below Min is raised to Min as everywhere a
// supervisor.Backoff appears, and that a partition's retries follow it: within
// [c/2, c] of the ceiling c = Min·2^(n-1) capped at Max.
func TestBackoffDefaultsAndMeaning(t *testing.T) {
	seeds := []string{"127.0.0.1:9092"}
	c, err := Config{Seeds: seeds}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Backoff != (supervisor.Backoff{Min: DefaultBackoffMin, Max: DefaultBackoffMax}) {
		t.Fatalf("default Backoff %+v", c.Backoff)
	}
	c, err = Config{Seeds: seeds, Backoff: supervisor.Backoff{Min: 2 * time.Second}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Backoff.Max != 2*time.Second {
		t.Fatalf("Max below Min: %+v", c.Backoff)
	}
	c, err = Config{Seeds: seeds, Backoff: supervisor.Backoff{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	pp := &partition{p: &Producer{cfg: c}}
	now := time.Unix(0, 0)
	for n, ceiling := range []time.Duration{10, 20, 40, 40, 40} {
		ceiling *= time.Millisecond
		pp.backoff(now)
		if d := pp.retryAt.Sub(now); d < ceiling/2 || d > ceiling {
			t.Fatalf("failure %d: waits %v, want within [%v, %v]", n+1, d, ceiling/2, ceiling)
		}
	}
}
