package group

import (
	"context"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
)

// TestChurn: members join and leave a group at random while records keep coming; once
// the group settles after each change every partition is owned by exactly one member,
// and in the end every record has been read at least once. Eager (range) and
// cooperative (cooperative-sticky, KIP-429).
func TestChurn(t *testing.T) {
	for _, a := range []Assignor{Range(), CooperativeSticky()} {
		t.Run(a.Name(), func(t *testing.T) { churn(t, a) })
	}
}

func churn(t *testing.T, assignor Assignor) {
	const parts, steps, per = 6, 8, 15
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	_, seeds := startKfake(t, parts)
	var all, live []*collector
	owners := newOwnership(t)
	start := func() {
		name := "m" + strconv.Itoa(len(all)+1)
		cfg := testGroupConfig("gchurn")
		cfg.Assignors = []Assignor{assignor}
		cfg.OnAssigned = func(_ context.Context, ps []consumer.About) { owners.assigned(name, ps) }
		cfg.OnRevoked = func(_ context.Context, ps []consumer.About) { owners.revoked(name, ps) }
		cfg.OnLost = func(_ context.Context, ps []consumer.About) { t.Errorf("%s lost %v in a graceful churn", name, ps) }
		col := join(t, seeds, cfg, name)
		all = append(all, col)
		live = append(live, col)
	}
	start()
	produced := 0
	for range steps {
		produceN(t, seeds, parts, produced, per)
		produced += per
		switch {
		case len(live) < 3 && (len(live) == 1 || rng.IntN(2) == 0):
			start()
		default:
			i := rng.IntN(len(live))
			closeMember(t, live[i])
			live = append(live[:i], live[i+1:]...)
		}
		waitAssigned(t, parts, nil, live...)
	}
	produceN(t, seeds, parts, produced, per)
	produced += per
	waitRead(t, all, parts, produced)
	dups := checkAll(t, union(all...), parts, produced)
	t.Logf("%d members over %d changes; %d of %d records read twice", len(all), steps, dups, parts*produced)
}

// ownership checks, across members, that a partition's new owner's OnAssigned starts
// only after its old owner's OnRevoked has finished (property a2 of issue 21).
type ownership struct {
	t     *testing.T
	mu    sync.Mutex
	owner map[consumer.About]string
}

func newOwnership(t *testing.T) *ownership {
	return &ownership{t: t, owner: make(map[consumer.About]string)}
}

func (o *ownership) assigned(member string, parts []consumer.About) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range parts {
		if prev := o.owner[a]; prev != "" {
			o.t.Errorf("%s assigned to %s while %s has not finished revoking it", a, member, prev)
		}
		o.owner[a] = member
	}
}

func (o *ownership) revoked(member string, parts []consumer.About) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range parts {
		if o.owner[a] != member {
			o.t.Errorf("%s revoked by %s, but owned by %q", a, member, o.owner[a])
		}
		delete(o.owner, a)
	}
}

// waitRead waits until the collectors, together, have read offsets 0 to n-1 of every
// partition.
func waitRead(t *testing.T, cols []*collector, parts, n int) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)}}
		for _, col := range cols {
			col.mu.Lock()
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(col.change)})
			col.mu.Unlock()
		}
		got := union(cols...)
		done := true
		for p := range int32(parts) {
			for o := range int64(n) {
				if got[consumer.About{Topic: "t", Partition: p}][o] == 0 {
					done = false
				}
			}
		}
		if done {
			return
		}
		if i, _, _ := reflect.Select(cases); i == 0 {
			t.Fatalf("not every record read within %v", testTimeout)
		}
	}
}
