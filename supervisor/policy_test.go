package supervisor

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestBackoffCeilingDoublesToMax(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}.withDefaults()
	want := []time.Duration{0, 10, 20, 40, 80, 100, 100}
	for n, w := range want {
		if got := b.ceiling(n); got != w*time.Millisecond {
			t.Fatalf("ceiling(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	if got := b.ceiling(1000); got != 100*time.Millisecond {
		t.Fatalf("Ceiling(1000) = %v (overflow?)", got)
	}
}

func TestBackoffDelayWithinEqualJitter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		min := time.Duration(rapid.Int64Range(1, int64(time.Second)).Draw(t, "min"))
		max := min * time.Duration(rapid.Int64Range(1, 1000).Draw(t, "factor"))
		b := Backoff{Min: min, Max: max}.withDefaults()
		n := rapid.IntRange(1, 100).Draw(t, "failures")
		u := rapid.Float64Range(0, 1).Draw(t, "u")
		d, c := b.Delay(n, u), b.ceiling(n)
		if d < c/2 || d > c {
			t.Fatalf("Delay(%d, %v) = %v outside [%v, %v]", n, u, d, c/2, c)
		}
		if c > b.Max {
			t.Fatalf("ceiling %v above max %v", c, b.Max)
		}
	})
}

func TestDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Intensity != DefaultIntensity || c.Period != DefaultPeriod || c.Name != "supervisor" ||
		c.Backoff.Min != DefaultBackoffMin || c.Backoff.Max != DefaultBackoffMax || c.ResetAfter != DefaultResetAfter {
		t.Fatalf("defaults drifted: %+v", c)
	}
	if DefaultIntensity != 5 || DefaultPeriod != 10*time.Second || DefaultBackoffMin != 50*time.Millisecond ||
		DefaultBackoffMax != 10*time.Second || DefaultResetAfter != 10*time.Second ||
		DefaultStopTimeout != 5*time.Second || DefaultBreakerTimeout != 10*time.Second {
		t.Fatal("documented default values changed: update the doc comments and docs/actor.md")
	}
}

func TestIntensityWindow(t *testing.T) {
	w := intensity{max: 3, period: time.Second}
	t0 := time.Unix(0, 0)
	for i := range 3 {
		if !w.record(t0.Add(time.Duration(i) * 100 * time.Millisecond)) {
			t.Fatalf("restart %d refused", i+1)
		}
	}
	if w.record(t0.Add(300 * time.Millisecond)) {
		t.Fatal("fourth restart within the period allowed")
	}
	// A second later the first restarts have aged out.
	w = intensity{max: 3, period: time.Second}
	for i := range 10 {
		if !w.record(t0.Add(time.Duration(i) * 400 * time.Millisecond)) {
			t.Fatalf("restart %d refused though only 3 fit in any second", i+1)
		}
	}
}

// TestUnlimitedIntensityNeverRefuses: Unlimited (and any negative Intensity) allows any
// number of restarts at one instant, and keeps no window, while zero still means the
// default.
func TestUnlimitedIntensityNeverRefuses(t *testing.T) {
	for _, max := range []int{Unlimited, -7} {
		cfg := Config{Intensity: max}.withDefaults()
		if cfg.Intensity != Unlimited {
			t.Fatalf("Intensity %d became %d, want Unlimited", max, cfg.Intensity)
		}
		w := intensity{max: cfg.Intensity, period: cfg.Period}
		for i := range 10000 {
			if !w.record(time.Unix(0, 0)) {
				t.Fatalf("Intensity %d: restart %d refused", max, i+1)
			}
		}
		if len(w.times) != 0 {
			t.Fatalf("Intensity %d: the window holds %d restarts, want none", max, len(w.times))
		}
	}
	if got := (Config{}).withDefaults().Intensity; got != DefaultIntensity {
		t.Fatalf("zero Intensity became %d, want the default %d", got, DefaultIntensity)
	}
}

func TestIntensityMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		max := rapid.IntRange(1, 6).Draw(t, "max")
		period := time.Duration(rapid.IntRange(1, 100).Draw(t, "period"))
		gaps := rapid.SliceOfN(rapid.IntRange(0, 60), 1, 40).Draw(t, "gaps")
		w := intensity{max: max, period: period}
		var all []time.Duration
		now := time.Duration(0)
		for _, g := range gaps {
			now += time.Duration(g)
			all = append(all, now)
			inWindow := 0
			for _, x := range all {
				if now-x < period {
					inWindow++
				}
			}
			if got, want := w.record(time.Unix(0, 0).Add(now)), inWindow <= max; got != want {
				t.Fatalf("at %v: record = %v, model says %v (%d in window)", now, got, want, inWindow)
			}
		}
	})
}

func TestAffected(t *testing.T) {
	eq := func(a []int, b ...int) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	if got := affected(OneForOne, 4, 2); !eq(got, 2) {
		t.Fatalf("one-for-one: %v", got)
	}
	if got := affected(OneForAll, 4, 2); !eq(got, 0, 1, 2, 3) {
		t.Fatalf("one-for-all: %v", got)
	}
	if got := affected(RestForOne, 4, 1); !eq(got, 1, 2, 3) {
		t.Fatalf("rest-for-one: %v", got)
	}
	if !shouldRestart(Permanent, nil) || shouldRestart(Transient, nil) || !shouldRestart(Transient, errTest) || shouldRestart(Temporary, errTest) {
		t.Fatal("restart types")
	}
}

var errTest = testError("test")

type testError string

func (e testError) Error() string { return string(e) }
