package consumer

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
	"pgregory.net/rapid"
)

func sessPart(topic string, p int32, offset int64) sessionPart {
	return sessionPart{key: fetchKey{topic, p}, sessionFields: sessionFields{topicID: codec.UUID{byte(len(topic))}, offset: offset, epoch: 1, maxBytes: 1 << 20}}
}

// named lists the keys a plan names, in request order.
func named(want []sessionPart, p fetchPlan) []fetchKey {
	var out []fetchKey
	for _, i := range p.send {
		out = append(out, want[i].key)
	}
	return out
}

func forgotten(p fetchPlan) []fetchKey {
	var out []fetchKey
	for _, f := range p.forget {
		out = append(out, f.key)
	}
	slices.SortFunc(out, func(a, b fetchKey) int {
		if a.topic != b.topic {
			if a.topic < b.topic {
				return -1
			}
			return 1
		}
		return int(a.partition - b.partition)
	})
	return out
}

// open starts a session with id 7 over want.
func openSession(t *testing.T, want []sessionPart) *fetchSession {
	t.Helper()
	var f fetchSession
	p := f.plan(want, true)
	if !p.full || p.id != 0 || p.epoch != 0 || len(p.send) != len(want) || len(p.forget) != 0 {
		t.Fatalf("first plan %+v, want a full fetch asking for a session", p)
	}
	f.answered(7, nil)
	return &f
}

func TestFetchSessionPlans(t *testing.T) {
	a0, a1, b0 := sessPart("a", 0, 10), sessPart("a", 1, 20), sessPart("b", 0, 30)
	moved := a1
	moved.offset = 25
	newEpoch := a0
	newEpoch.epoch = 2
	bigger := b0
	bigger.maxBytes = 2 << 20
	for _, tc := range []struct {
		name   string
		next   []sessionPart
		send   []fetchKey
		forget []fetchKey
	}{
		{"nothing changed: an empty incremental fetch polls", []sessionPart{a0, a1, b0}, nil, nil},
		{"positions moved", []sessionPart{a0, moved, b0}, []fetchKey{a1.key}, nil},
		{"leader epoch changed", []sessionPart{newEpoch, a1, b0}, []fetchKey{a0.key}, nil},
		{"byte limit grew", []sessionPart{a0, a1, bigger}, []fetchKey{b0.key}, nil},
		{"partition no longer wanted", []sessionPart{a0, b0}, nil, []fetchKey{a1.key}},
		{"partition added", []sessionPart{a0, a1, b0, sessPart("b", 1, 0)}, []fetchKey{{"b", 1}}, nil},
		{"nothing wanted", nil, nil, []fetchKey{a0.key, a1.key, b0.key}},
		{"added, moved and dropped at once", []sessionPart{sessPart("c", 3, 1), moved}, []fetchKey{{"c", 3}, a1.key}, []fetchKey{a0.key, b0.key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := openSession(t, []sessionPart{a0, a1, b0})
			p := f.plan(tc.next, true)
			if p.full || p.id != 7 || p.epoch != 1 {
				t.Fatalf("plan %+v, want incremental in session 7 at epoch 1", p)
			}
			if got := named(tc.next, p); !slices.Equal(got, tc.send) {
				t.Fatalf("named %v, want %v", got, tc.send)
			}
			if got := forgotten(p); !slices.Equal(got, tc.forget) {
				t.Fatalf("forgot %v, want %v", got, tc.forget)
			}
			f.answered(7, nil)
			if p := f.plan(tc.next, true); p.epoch != 2 || len(p.send) != 0 || len(p.forget) != 0 {
				t.Fatalf("the same partitions again: %+v, want an empty fetch at epoch 2", p)
			}
		})
	}
}

func TestFetchSessionStartsOver(t *testing.T) {
	want := []sessionPart{sessPart("a", 0, 10), sessPart("a", 1, 20)}
	full := func(t *testing.T, f *fetchSession) {
		t.Helper()
		if p := f.plan(want, true); !p.full || p.id != 0 || p.epoch != epochInitial || len(p.send) != 2 || len(p.forget) != 0 {
			t.Fatalf("plan %+v, want a full fetch asking for a new session", p)
		}
	}
	for _, tc := range []struct {
		name  string
		after func(*fetchSession)
	}{
		{"session not found", func(f *fetchSession) { f.answered(0, errcode.FetchSessionIDNotFound) }},
		{"invalid epoch", func(f *fetchSession) { f.answered(0, errcode.InvalidFetchSessionEpoch) }},
		{"session topic ID error", func(f *fetchSession) { f.answered(7, errcode.FetchSessionTopicIDError) }},
		{"another top-level error", func(f *fetchSession) { f.answered(7, errcode.UnknownServerError) }},
		{"another session ID", func(f *fetchSession) { f.answered(8, nil) }},
		{"request failed", func(f *fetchSession) { f.failed() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := openSession(t, want)
			f.plan(want, true)
			tc.after(f)
			full(t, f)
		})
	}
	t.Run("refused", func(t *testing.T) {
		var f fetchSession
		for range 3 {
			full(t, &f)
			f.answered(0, nil) // the broker keeps no session
		}
	})
	t.Run("topic recreated", func(t *testing.T) {
		f := openSession(t, want)
		re := slices.Clone(want)
		re[1].topicID = codec.UUID{9}
		if p := f.plan(re, true); !p.full || p.epoch != epochInitial {
			t.Fatalf("plan %+v after a topic ID changed, want a full fetch", p)
		}
	})
	t.Run("no session version", func(t *testing.T) {
		f := openSession(t, want)
		p := f.plan(want, false)
		if !p.full || p.id != 0 || p.epoch != epochFinal || len(p.send) != 2 {
			t.Fatalf("plan %+v on an old broker, want a sessionless full fetch", p)
		}
		f.answered(0, nil)
		full(t, f)
	})
	t.Run("closing", func(t *testing.T) {
		f := openSession(t, want)
		if id, ok := f.closing(); !ok || id != 7 {
			t.Fatalf("closing %d %v", id, ok)
		}
		if _, ok := f.closing(); ok {
			t.Fatal("closed twice")
		}
		full(t, f)
	})
	t.Run("an answer without a request", func(t *testing.T) {
		f := openSession(t, want)
		f.answered(9, nil)
		if p := f.plan(want, true); p.id != 7 || p.epoch != 1 {
			t.Fatalf("plan %+v, want session 7 at epoch 1 still", p)
		}
	})
}

func TestFetchSessionEpochWraps(t *testing.T) {
	for _, tc := range []struct{ in, want int32 }{{-1, 1}, {0, 1}, {1, 2}, {math.MaxInt32 - 1, math.MaxInt32}, {math.MaxInt32, 1}} {
		if got := nextEpoch(tc.in); got != tc.want {
			t.Errorf("nextEpoch(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
	want := []sessionPart{sessPart("a", 0, 1)}
	f := openSession(t, want)
	f.epoch = math.MaxInt32
	if p := f.plan(want, true); p.epoch != math.MaxInt32 {
		t.Fatalf("epoch %d", p.epoch)
	}
	f.answered(7, nil)
	if p := f.plan(want, true); p.epoch != 1 || p.full {
		t.Fatalf("plan %+v after the largest epoch, want epoch 1", p)
	}
}

// brokerModel is a broker's side of fetch sessions, as KIP-227 describes it: what it
// fetches for each request.
type brokerModel struct {
	sessions map[int32]*modelSession
	nextID   int32
	refuse   bool // no room for sessions
}

type modelSession struct {
	epoch int32
	parts map[fetchKey]sessionPart
}

// fetch handles one request and returns the session ID answered, the partitions it
// fetched, and the top-level error code.
func (m *brokerModel) fetch(p fetchPlan, named []sessionPart) (int32, map[fetchKey]sessionPart, error) {
	request := make(map[fetchKey]sessionPart)
	for _, n := range named {
		request[n.key] = n
	}
	switch p.epoch {
	case epochFinal:
		delete(m.sessions, p.id)
		return 0, request, nil
	case epochInitial:
		delete(m.sessions, p.id)
		if m.refuse {
			return 0, request, nil
		}
		m.nextID++
		m.sessions[m.nextID] = &modelSession{epoch: 1, parts: request}
		return m.nextID, maps.Clone(request), nil
	}
	s := m.sessions[p.id]
	switch {
	case s == nil:
		return 0, nil, errcode.FetchSessionIDNotFound
	case s.epoch != p.epoch:
		return 0, nil, errcode.InvalidFetchSessionEpoch
	}
	maps.Copy(s.parts, request)
	for _, f := range p.forget {
		delete(s.parts, f.key)
	}
	s.epoch = nextEpoch(s.epoch)
	return p.id, maps.Clone(s.parts), nil
}

// TestFetchSessionAgainstBrokerModel drives a fetchSession with random wanted sets and
// a model broker that evicts sessions, refuses them, loses requests (before or after
// handling them) and answers with errors: every request the broker accepts fetches
// exactly the partitions the client wanted, at the positions it wanted.
func TestFetchSessionAgainstBrokerModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &brokerModel{sessions: make(map[int32]*modelSession)}
		var f fetchSession
		keys := []fetchKey{{"a", 0}, {"a", 1}, {"a", 2}, {"b", 0}, {"b", 1}}
		cur := make(map[fetchKey]sessionPart)
		for _, k := range keys {
			cur[k] = sessionPart{key: k, sessionFields: sessionFields{topicID: codec.UUID{k.topic[0]}, offset: 0, epoch: 0, maxBytes: 100}}
		}
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		accepted, incremental := 0, 0
		evicted := false // the model dropped the client's session since it was made
		for step := range steps {
			// The client's partitions change a little between fetches.
			for _, k := range keys {
				c := cur[k]
				switch rapid.IntRange(0, 9).Draw(t, fmt.Sprint("change ", k)) {
				case 0:
					c.offset += int64(rapid.IntRange(1, 5).Draw(t, "by"))
				case 1:
					c.epoch++
				case 2:
					c.maxBytes *= 2
				case 3:
					c.topicID[1]++ // recreated
				}
				cur[k] = c
			}
			var want []sessionPart
			for _, i := range rapid.Permutation([]int{0, 1, 2, 3, 4}).Draw(t, "order") {
				if rapid.IntRange(0, 3).Draw(t, fmt.Sprint("skip ", i)) > 0 {
					want = append(want, cur[keys[i]])
				}
			}
			sessions := rapid.IntRange(0, 9).Draw(t, "old version") > 0
			m.refuse = rapid.IntRange(0, 5).Draw(t, "refuse") == 0
			if rapid.IntRange(0, 9).Draw(t, "evict") == 0 {
				clear(m.sessions)
				evicted = true
			}
			if rapid.IntRange(0, 30).Draw(t, "near wrap") == 0 && f.id != 0 && m.sessions[f.id] != nil && m.sessions[f.id].epoch == f.epoch {
				f.epoch, m.sessions[f.id].epoch = math.MaxInt32, math.MaxInt32
			}
			p := f.plan(want, sessions)
			if !sessions && (!p.full || p.epoch != epochFinal || p.id != 0) {
				t.Fatalf("step %d: plan %+v without session support", step, p)
			}
			var named []sessionPart
			for _, i := range p.send {
				named = append(named, want[i])
			}
			if !p.full && len(p.send)+len(p.forget) > 2*len(keys) {
				t.Fatalf("step %d: plan %+v names too much", step, p)
			}
			lost := rapid.IntRange(0, 9).Draw(t, "lost")
			if lost == 0 {
				f.failed() // lost on the way
				continue
			}
			id, fetched, err := m.fetch(p, named)
			if lost == 1 {
				f.failed() // handled, but the answer was lost
				continue
			}
			f.answered(id, err)
			if err != nil {
				// Only a session the broker dropped may be refused: never one the
				// client got out of step with.
				if !evicted || !errors.Is(err, errcode.FetchSessionIDNotFound) {
					t.Fatalf("step %d: plan %+v refused: %v", step, p, err)
				}
				continue
			}
			if p.full && id != 0 {
				evicted = false
			}
			accepted++
			if !p.full {
				incremental++
			}
			wantSet := make(map[fetchKey]sessionPart)
			for _, w := range want {
				wantSet[w.key] = w
			}
			if !maps.Equal(fetched, wantSet) {
				t.Fatalf("step %d: plan %+v: the broker fetched %v, the client wants %v", step, p, fetched, wantSet)
			}
		}
		t.Logf("%d accepted, %d incremental", accepted, incremental)
	})
}

// TestFetchSessionSteadyStateIsFree: once a session holds thousands of partitions and
// nothing changes (an idle consumer's long polls), planning a request and learning its
// answer allocate nothing, and a change reuses the replaced view's map.
func TestFetchSessionSteadyStateIsFree(t *testing.T) {
	var f fetchSession
	want := make([]sessionPart, 3000)
	for i := range want {
		want[i] = sessPart("t", int32(i), 7)
	}
	f.plan(want, true)
	f.answered(42, nil)
	if p := f.plan(want, true); len(p.send) != 0 || len(p.forget) != 0 || p.full {
		t.Fatalf("an unchanged session named %d and forgot %d", len(p.send), len(p.forget))
	}
	f.answered(42, nil)
	if n := testing.AllocsPerRun(20, func() {
		f.plan(want, true)
		f.answered(42, nil)
	}); n != 0 {
		t.Fatalf("%v allocations per unchanged request", n)
	}
	// One partition moves on: only it is named; the view is rebuilt in a spare map.
	want[5].offset = 8
	p := f.plan(want, true)
	if got := named(want, p); len(got) != 1 || got[0] != want[5].key || len(p.forget) != 0 {
		t.Fatalf("named %v, forgot %v", got, forgotten(p))
	}
	f.answered(42, nil)
	if f.spare == nil || f.view[want[5].key].offset != 8 {
		t.Fatal("the replaced view was not kept for reuse, or the new one is wrong")
	}
	if n := testing.AllocsPerRun(10, func() {
		want[6].offset++ // a change every time: the maps are reused, only the plan's list is new
		if p := f.plan(want, true); len(p.send) != 1 {
			t.Fatalf("named %d", len(p.send))
		}
		f.answered(42, nil)
	}); n > 1 {
		t.Fatalf("%v allocations for a changed request with a spare map", n)
	}
}

// TestFetchSessionIdleDropsSpare: an idle session (requests that change nothing) holds
// one copy of the view, not two: the spare map kept for a busy session's next plan is
// dropped once a request changes nothing, and comes back with the next change.
func TestFetchSessionIdleDropsSpare(t *testing.T) {
	var f fetchSession
	want := make([]sessionPart, 100)
	for i := range want {
		want[i] = sessPart("t", int32(i), 7)
	}
	f.plan(want, true)
	f.answered(42, nil)
	want[3].offset = 9
	f.plan(want, true)
	f.answered(42, nil)
	if f.spare == nil {
		t.Fatal("a busy session kept no spare map")
	}
	f.plan(want, true) // nothing changed
	f.answered(42, nil)
	if f.spare != nil {
		t.Fatal("an idle session still holds a spare map")
	}
	want[4].offset = 9
	if p := f.plan(want, true); len(p.send) != 1 {
		t.Fatalf("named %d", len(p.send))
	}
	f.answered(42, nil)
	if f.view[want[4].key].offset != 9 || f.spare == nil {
		t.Fatal("the change after idling was not applied, or left no spare")
	}
}

// TestFetchSessionWithdrawnPlan withdraws plans that were never sent (the connection's
// queue was full): the session stays as the broker knows it, so the next plan names the
// same changes again, under the same epoch, rather than starting over or losing them.
func TestFetchSessionWithdrawnPlan(t *testing.T) {
	a0, a1 := sessPart("a", 0, 10), sessPart("a", 1, 20)
	f := openSession(t, []sessionPart{a0, a1})
	moved := a1
	moved.offset = 25
	want := []sessionPart{a0, moved}
	first := f.plan(want, true)
	f.withdrawn()
	again := f.plan(want, true)
	if again.full || again.id != 7 || again.epoch != first.epoch || !slices.Equal(named(want, again), []fetchKey{a1.key}) {
		t.Fatalf("after a withdrawn plan %+v: %+v, want the same incremental fetch", first, again)
	}
	f.answered(7, nil)
	idle := f.plan(want, true)
	f.withdrawn()
	if idle = f.plan(want, true); !idle.unchanged || idle.epoch != again.epoch+1 {
		t.Fatalf("an unchanged plan withdrawn, then %+v", idle)
	}
	f.answered(7, nil)
	// A withdrawn full fetch stays a full fetch.
	var g fetchSession
	g.plan(want, true)
	g.withdrawn()
	if p := g.plan(want, true); !p.full || p.id != 0 || len(p.send) != 2 {
		t.Fatalf("after a withdrawn full fetch: %+v", p)
	}
}
