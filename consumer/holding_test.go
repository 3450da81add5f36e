package consumer

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func heldFor(due time.Time) *heldSub { return &heldSub{due: due} }

// TestHoldingLooksOnlyAtWhatIsDue: a step sees what is ready, what came due and what is
// parked, and nothing that waits out a backoff, an answer or a blocked lookup.
func TestHoldingLooksOnlyAtWhatIsDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var hd holding
	var later []*heldSub
	for i := range 1000 {
		h := heldFor(t0.Add(time.Duration(i+1) * time.Second))
		hd.add(h, t0)
		later = append(later, h)
	}
	now := heldFor(t0)
	hd.add(now, t0)
	asked := heldFor(t0)
	hd.add(asked, t0)
	if got := hd.due(t0); !slices.Equal(got, []*heldSub{now, asked}) {
		t.Fatalf("due at t0: %d subscriptions, want the 2 due", len(got))
	}
	// asked waits for an answer (out of every list), now is parked.
	hd.park(now)
	if got := hd.due(t0); !slices.Equal(got, []*heldSub{now}) {
		t.Fatalf("due at t0 again: %d subscriptions, want the parked one", len(got))
	}
	hd.park(now)
	if next := hd.next(); !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("next %v, want the first timer", next)
	}
	got := hd.due(t0.Add(2500 * time.Millisecond))
	if want := []*heldSub{later[0], later[1], now}; !slices.Equal(got, want) {
		t.Fatalf("due at t0+2.5s: %d subscriptions, want 2 timers and the parked one", len(got))
	}
	hd.recycle(got)
	// Removed while it waits: skipped, wherever it waited.
	hd.remove(later[2])
	hd.remove(asked)
	if next := hd.next(); !next.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("next %v after removing the third timer, want the fourth", next)
	}
	k := lookupKey{kind: lookList}
	hd.block(k, asked) // removed: not made ready
	hd.block(k, now)
	hd.unblock(k)
	if got := hd.due(t0.Add(2500 * time.Millisecond)); !slices.Equal(got, []*heldSub{now}) {
		t.Fatalf("after unblocking: %d subscriptions, want the one still held", len(got))
	}
	if len(hd.all) != 1000 { // 1002 added, 2 removed
		t.Fatalf("holding %d, want 1000", len(hd.all))
	}
}

// TestHoldingModel drives holding with random operations against a model: each held
// subscription waits in exactly one place, due returns exactly those ready, due or
// parked, and all is every one held, each at its index.
func TestHoldingModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var hd holding
		t0 := time.Unix(1000, 0)
		now := t0
		type place int
		const (
			ready place = iota
			timed
			parked
			asked
			blocked
		)
		model := map[*heldSub]place{}
		var subs []*heldSub // every one ever added, held or not
		k := lookupKey{kind: lookMetadata}
		pick := func(rt *rapid.T, in place) *heldSub {
			var hs []*heldSub
			for _, h := range subs {
				if p, ok := model[h]; ok && p == in {
					hs = append(hs, h)
				}
			}
			if len(hs) == 0 {
				return nil
			}
			return rapid.SampledFrom(hs).Draw(rt, "sub")
		}
		rt.Repeat(map[string]func(*rapid.T){
			"add": func(rt *rapid.T) {
				h := heldFor(now.Add(time.Duration(rapid.IntRange(-2, 5).Draw(rt, "in")) * time.Second))
				hd.add(h, now)
				subs = append(subs, h)
				if h.due.After(now) {
					model[h] = timed
				} else {
					model[h] = ready
				}
			},
			"tick": func(rt *rapid.T) {
				now = now.Add(time.Duration(rapid.IntRange(0, 3).Draw(rt, "by")) * time.Second)
			},
			"remove": func(rt *rapid.T) {
				if len(subs) == 0 {
					return
				}
				h := rapid.SampledFrom(subs).Draw(rt, "sub")
				hd.remove(h)
				delete(model, h)
			},
			"unblock": func(rt *rapid.T) {
				hd.unblock(k)
				for h, p := range model {
					if p == blocked {
						model[h] = ready
					}
				}
			},
			"answer": func(rt *rapid.T) {
				if h := pick(rt, asked); h != nil {
					hd.answered(h)
					model[h] = ready
				}
			},
			"step": func(rt *rapid.T) {
				got := hd.due(now)
				var want []*heldSub
				for h, p := range model {
					if p == ready || p == parked || (p == timed && !h.due.After(now)) {
						want = append(want, h)
					}
				}
				held := 0
				for _, h := range got {
					if h.held() {
						held++
					}
				}
				if held != len(want) {
					rt.Fatalf("due returned %d held subscriptions, want %d", held, len(want))
				}
				for _, h := range got {
					if !h.held() {
						continue // the caller skips those let go of
					}
					if !slices.Contains(want, h) {
						rt.Fatalf("due returned a subscription waiting in place %d", model[h])
					}
					// Put each back somewhere, as a step does.
					switch rapid.IntRange(0, 4).Draw(rt, "next") {
					case 0:
						hd.remove(h)
						delete(model, h)
					case 1:
						hd.park(h)
						model[h] = parked
					case 2:
						h.due = now.Add(time.Duration(rapid.IntRange(0, 4).Draw(rt, "backoff")) * time.Second)
						hd.wait(h, now)
						if h.due.After(now) {
							model[h] = timed
						} else {
							model[h] = ready
						}
					case 3:
						model[h] = asked // in the dispatcher's waiting map
					case 4:
						hd.block(k, h)
						model[h] = blocked
					}
				}
				hd.recycle(got)
			},
			"": func(rt *rapid.T) {
				if len(hd.all) != len(model) {
					rt.Fatalf("holding %d, the model %d", len(hd.all), len(model))
				}
				for i, h := range hd.all {
					if h.at != i {
						rt.Fatalf("all[%d] says it is at %d", i, h.at)
					}
					if _, ok := model[h]; !ok {
						rt.Fatalf("all holds a subscription let go of")
					}
				}
				var first time.Time
				for h, p := range model {
					if p == timed && (first.IsZero() || h.due.Before(first)) {
						first = h.due
					}
				}
				if next := hd.next(); !next.Equal(first) {
					rt.Fatalf("next %v, want %v", next, first)
				}
			},
		})
	})
}
