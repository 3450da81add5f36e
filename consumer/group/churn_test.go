package group

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
)

// TestChurn: members join and leave a group at random while records keep coming; once
// the group settles after each change every partition is owned by exactly one member,
// and in the end every record has been read at least once.
func TestChurn(t *testing.T) {
	const parts, steps, per = 6, 8, 15
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	_, seeds := startKfake(t, parts)
	var all, live []*collector
	start := func() {
		col := join(t, seeds, testGroupConfig("gchurn"), "m"+strconv.Itoa(len(all)+1))
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
