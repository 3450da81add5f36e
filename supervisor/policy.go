package supervisor

import "time"

// The restart policy is plain deterministic code: no goroutines, no clock of its own, no
// I/O. The supervisor's loop feeds it times and failures and does what it decides; the
// tests drive it directly.

// Backoff spaces the restarts of a child that keeps failing: the delay before restart n
// (n >= 1 consecutive failures) is Min·2^(n-1), capped at Max, with "equal jitter": a
// uniformly random point in [d/2, d], so children that failed together do not restart in
// lockstep. Backoff says only how delays grow; when a run of failures ends is decided by
// whoever uses it (a supervisor: Config.ResetAfter; a consumer's partition: the first
// fetch that answers for it). The consumer and the broker connections use the same type
// with the same meanings.
type Backoff struct {
	// Min is the delay before the first restart. Zero means 50ms.
	Min time.Duration
	// Max caps the delay. Zero means 10s.
	Max time.Duration
}

// Documented defaults of Backoff.
const (
	DefaultBackoffMin = 50 * time.Millisecond
	DefaultBackoffMax = 10 * time.Second
)

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = DefaultBackoffMin
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	return b
}

// ceiling is the delay before a restart after failures consecutive failures, before
// jitter: Min·2^(failures-1) capped at Max; 0 for failures <= 0.
func (b Backoff) ceiling(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := b.Min
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Delay is the delay before a restart after failures consecutive failures (failures >= 1):
// the ceiling Min·2^(failures-1), capped at Max, with equal jitter, ceiling/2 +
// u·ceiling/2 for u in [0,1); 0 for failures <= 0. It reads Min and Max as they are: a
// supervisor applies their defaults before it calls it.
func (b Backoff) Delay(failures int, u float64) time.Duration {
	c := b.ceiling(failures)
	half := c / 2
	return half + time.Duration(u*float64(c-half))
}

// intensity counts restarts in a sliding window: more than max restarts within period
// means the children cannot be kept up, and the supervisor gives up to its parent. A
// negative max (Unlimited) allows any number.
type intensity struct {
	max    int // < 0: unlimited
	period time.Duration
	times  []time.Time // restart times within the window, oldest first
}

// record notes a restart at now and reports whether it is still within the limit.
func (w *intensity) record(now time.Time) bool {
	if w.max < 0 {
		return true // nothing to count: the window would only grow
	}
	cut := 0
	for cut < len(w.times) && now.Sub(w.times[cut]) >= w.period {
		cut++
	}
	w.times = append(w.times[:0], w.times[cut:]...)
	w.times = append(w.times, now)
	return len(w.times) <= w.max
}

// affected returns the indexes (into the start-ordered children) that restart when child
// failed fails under strategy: just it, all of them, or it and those started after it.
func affected(strategy Strategy, n, failed int) []int {
	switch strategy {
	case OneForAll:
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	case RestForOne:
		out := make([]int, 0, n-failed)
		for i := failed; i < n; i++ {
			out = append(out, i)
		}
		return out
	default:
		return []int{failed}
	}
}

// shouldRestart decides by restart type whether a child that exited with err comes back.
func shouldRestart(r Restart, err error) bool {
	switch r {
	case Temporary:
		return false
	case Transient:
		return err != nil
	default:
		return true
	}
}
