package producer

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"github.com/troupe-go/troupe"
	"pgregory.net/rapid"
)

// seeded returns a source constructor that gives every topic the same fixed seed, so
// tests of randomized partitioners are deterministic.
func seeded(seed uint64) func() rand.Source {
	return func() rand.Source { return rand.NewPCG(seed, seed^0x9e3779b97f4a7c15) }
}

func keyed(key string) *troupe.Record { return &troupe.Record{Topic: "t", Key: []byte(key)} }

// javaInt converts a Java int (how Kafka's tests write hashes) to the hash's bits.
func javaInt(v int32) uint32 { return uint32(v) }

// TestMurmur2JavaVectors pins murmur2 to published outputs of the Java client's
// Utils.murmur2 and of librdkafka's rd_murmur2 (which librdkafka checks against Java).
func TestMurmur2JavaVectors(t *testing.T) {
	const unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs"
	vectors := []struct {
		source string
		key    string
		want   uint32
	}{
		// Apache Kafka, clients/.../common/utils/UtilsTest.java, testMurmur2.
		{"kafka UtilsTest", "21", javaInt(-973932308)},
		{"kafka UtilsTest", "foobar", javaInt(-790332482)},
		{"kafka UtilsTest", "a-little-bit-long-string", javaInt(-985981536)},
		{"kafka UtilsTest", "a-little-bit-longer-string", javaInt(-1486304829)},
		{"kafka UtilsTest", "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", javaInt(-58897971)},
		{"kafka UtilsTest", "abc", javaInt(479470107)},
		// librdkafka, src/rdmurmur2.c, unittest_murmur2 (its java_murmur2_results).
		{"librdkafka", "kafka", 0xd067cf64},
		{"librdkafka", "giberish123456789", 0x8f552b0c},
		{"librdkafka", "1234", 0x9fc97b14},
		{"librdkafka", "234", 0xe7c009ca},
		{"librdkafka", "34", 0x873930da},
		{"librdkafka", "4", 0x5a4b5ca1},
		{"librdkafka", unaligned, 0x78424f1c},
		{"librdkafka", unaligned[1:], 0x4a62b377},
		{"librdkafka", unaligned[2:], 0xe0e4e09e},
		{"librdkafka", unaligned[3:], 0x62b8b43f},
		{"librdkafka", "", 0x106e08d9},
	}
	p := HashPartitioner().ForTopic("t")
	for _, v := range vectors {
		if got := murmur2([]byte(v.key)); got != v.want {
			t.Errorf("%s: murmur2(%q) = %d (%#x), want %d (%#x)", v.source, v.key, int32(got), got, int32(v.want), v.want)
		}
		// The partition is toPositive(hash) % n, as in the Java client.
		for _, n := range []int{1, 2, 3, 6, 12, 50, 1000, 10000} {
			want := int(v.want&0x7fffffff) % n
			if got := p.Partition(keyed(v.key), n, 100); got != want {
				t.Errorf("%s: partition of %q over %d = %d, want %d", v.source, v.key, n, got, want)
			}
		}
	}
	// One worked by hand: toPositive(-790332482) = 1357151166, and 1357151166 % 50 = 16.
	if got := p.Partition(keyed("foobar"), 50, 100); got != 16 {
		t.Errorf(`partition of "foobar" over 50 = %d, want 16`, got)
	}
}

// TestHashPartitionerKeyIgnoresAvailability checks that a key's partition depends only on
// the key and n, whatever availability is reported and whatever unkeyed records do.
func TestHashPartitionerKeyIgnoresAvailability(t *testing.T) {
	const n = 12
	p := newHashForTest(100, 1)
	base := make([]int, 1000)
	for i := range base {
		base[i] = p.Partition(keyed(fmt.Sprint("key-", i)), n, 100)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	patterns := [][]bool{make([]bool, n), {true}, nil}
	for range 5 {
		av := make([]bool, n)
		for i := range av {
			av[i] = rng.IntN(3) == 0
		}
		patterns = append(patterns, av)
	}
	for _, av := range patterns {
		p.(AvailabilityAware).SetAvailable(av)
		for i, want := range base {
			p.Partition(&troupe.Record{Value: make([]byte, 50)}, n, 70) // unkeyed traffic in between
			if got := p.Partition(keyed(fmt.Sprint("key-", i)), n, 100); got != want {
				t.Fatalf("availability %v moved key-%d from %d to %d", av, i, want, got)
			}
		}
	}
	if _, ok := p.(Validator); ok {
		t.Error("the hash partitioner refuses records; it should route every record")
	}
}

func newHashForTest(switchBytes int, seed uint64) TopicPartitioner {
	return hashPartitioner{switchBytes: switchBytes, newSource: seeded(seed)}.ForTopic("t")
}

// TestHashPartitionerNilKeyIsSticky checks that unkeyed records stick, that keyed records
// do not count towards the sticky bytes, and that an empty key is a key.
func TestHashPartitionerNilKeyIsSticky(t *testing.T) {
	const n = 8
	p := newHashForTest(1000, 3)
	unkeyed := &troupe.Record{}
	first := p.Partition(unkeyed, n, 400)
	for range 50 { // keyed records in between must not end the stint
		p.Partition(keyed("k"), n, 1000)
	}
	if got := p.Partition(unkeyed, n, 400); got != first {
		t.Fatalf("second unkeyed record went to %d, want the sticky %d", got, first)
	}
	if got := p.Partition(unkeyed, n, 400); got != first { // reaches 1200 >= 1000
		t.Fatalf("third unkeyed record went to %d, want the sticky %d", got, first)
	}
	if got := p.Partition(unkeyed, n, 400); got == first {
		t.Fatalf("fourth unkeyed record stayed on %d after 1200 bytes", got)
	}

	empty := &troupe.Record{Key: []byte{}}
	want := int(murmur2(nil)&0x7fffffff) % n
	for range 20 {
		if got := p.Partition(empty, n, 1000); got != want {
			t.Fatalf("empty key went to %d, want the hash partition %d", got, want)
		}
	}
}

// stints runs records of the given sizes through a sticky partitioner and returns the
// partition and sizes of each stint (a maximal run of records on one partition).
type stint struct {
	partition int
	sizes     []int
}

func runStints(tp TopicPartitioner, n int, sizes []int) []stint {
	var out []stint
	r := &troupe.Record{}
	for _, size := range sizes {
		p := tp.Partition(r, n, size)
		if len(out) == 0 || out[len(out)-1].partition != p {
			out = append(out, stint{partition: p})
		}
		out[len(out)-1].sizes = append(out[len(out)-1].sizes, size)
	}
	return out
}

func newStickyForTest(switchBytes int, seed uint64) TopicPartitioner {
	return stickyPartitioner{switchBytes: switchBytes, newSource: seeded(seed)}.ForTopic("t")
}

// TestStickySwitchesAtThreshold checks that a stint ends with the record that brings its
// bytes to switchBytes, never before and never after.
func TestStickySwitchesAtThreshold(t *testing.T) {
	const switchBytes = 1000
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := make([]int, 20000)
	for i := range sizes {
		sizes[i] = 1 + rng.IntN(300)
	}
	tp := newStickyForTest(switchBytes, 4)
	ss := runStints(tp, 5, sizes)
	if len(ss) < 100 {
		t.Fatalf("only %d stints for %d records", len(ss), len(sizes))
	}
	for i, s := range ss[:len(ss)-1] { // the last stint may be unfinished
		total := 0
		for _, size := range s.sizes {
			total += size
		}
		last := s.sizes[len(s.sizes)-1]
		if total < switchBytes || total-last >= switchBytes {
			t.Fatalf("stint %d on partition %d: %d bytes in %d records (last %d); want the last record to reach %d",
				i, s.partition, total, len(s.sizes), last, switchBytes)
		}
	}

	// Sizes below 1 count as 1, so a stint still ends.
	ss = runStints(newStickyForTest(10, 4), 3, make([]int, 35))
	if len(ss) != 4 || len(ss[0].sizes) != 10 {
		t.Fatalf("zero-size records: %d stints, first of %d records; want 4 stints of 10", len(ss), len(ss[0].sizes))
	}
}

// TestStickyDefaultThreshold checks that switchBytes <= 0 means 1 MiB.
func TestStickyDefaultThreshold(t *testing.T) {
	for _, switchBytes := range []int{0, -1} {
		sizes := make([]int, 30000)
		for i := range sizes {
			sizes[i] = 100
		}
		ss := runStints(newStickyForTest(switchBytes, 5), 4, sizes)
		// 1 MiB = 1048576 bytes: the 10486th record of 100 bytes reaches it.
		if len(ss) < 2 || len(ss[0].sizes) != 10486 || len(ss[1].sizes) != 10486 {
			t.Fatalf("switchBytes %d: stints of %d and %d records, want 10486 (1 MiB)", switchBytes, len(ss[0].sizes), len(ss[1].sizes))
		}
	}
}

// pickSequence returns the partition of each of count stints of a sticky partitioner that
// switches on every record.
func pickSequence(tp TopicPartitioner, n, count int) []int {
	seq := make([]int, count)
	r := &troupe.Record{}
	for i := range seq {
		seq[i] = tp.Partition(r, n, 1)
	}
	return seq
}

// TestStickyNeverRepeatsAndIsUniform checks that consecutive stints never share a
// partition, and that both the partitions and the transitions between them are uniform
// within a chi-square bound (p = 0.001) for a fixed seed.
func TestStickyNeverRepeatsAndIsUniform(t *testing.T) {
	for _, n := range []int{2, 3, 10} {
		const stints = 100000
		seq := pickSequence(newStickyForTest(1, 11), n, stints)
		counts := make([]float64, n)
		trans := make([][]float64, n)
		for i := range trans {
			trans[i] = make([]float64, n)
		}
		for i, p := range seq {
			counts[p]++
			if i > 0 {
				if p == seq[i-1] {
					t.Fatalf("n=%d: stints %d and %d both on partition %d", n, i-1, i, p)
				}
				trans[seq[i-1]][p]++
			}
		}
		// Partitions: n-1 degrees of freedom.
		chi := 0.0
		for _, c := range counts {
			e := float64(stints) / float64(n)
			chi += (c - e) * (c - e) / e
		}
		if bound := chiSquare001(n - 1); chi > bound {
			t.Errorf("n=%d: partition counts %v, chi-square %.1f > %.1f", n, counts, chi, bound)
		}
		// Transitions from each partition to the n-1 others: n(n-2) degrees of freedom.
		if n > 2 {
			chi = 0
			for from, row := range trans {
				rowTotal := 0.0
				for _, c := range row {
					rowTotal += c
				}
				for to, c := range row {
					if to == from {
						continue
					}
					e := rowTotal / float64(n-1)
					chi += (c - e) * (c - e) / e
				}
			}
			if bound := chiSquare001(n * (n - 2)); chi > bound {
				t.Errorf("n=%d: transitions chi-square %.1f > %.1f", n, chi, bound)
			}
		}
	}
}

// chiSquare001 returns the chi-square critical value at p = 0.001 for the degrees of
// freedom the tests use.
func chiSquare001(df int) float64 {
	switch df {
	case 1:
		return 10.83
	case 2:
		return 13.82
	case 3:
		return 16.27
	case 9:
		return 27.88
	case 80:
		return 124.84
	}
	panic(fmt.Sprint("no chi-square bound for df ", df))
}

// TestStickySkipsUnavailable checks that stints start only on partitions with a leader,
// that a stint ends when its partition loses its leader, that the only available
// partition is kept, and that with none available every partition is used.
func TestStickySkipsUnavailable(t *testing.T) {
	const n = 6
	tp := newStickyForTest(1, 21)
	aa := tp.(AvailabilityAware)
	av := []bool{false, true, false, true, true, false}
	aa.SetAvailable(av)
	av[0] = true // the partitioner must have copied the slice
	seen := map[int]int{}
	for i, p := range pickSequence(tp, n, 3000) {
		if p != 1 && p != 3 && p != 4 {
			t.Fatalf("stint %d on unavailable partition %d", i, p)
		}
		seen[p]++
	}
	chi := 0.0
	for _, p := range []int{1, 3, 4} {
		e := 3000.0 / 3
		chi += (float64(seen[p]) - e) * (float64(seen[p]) - e) / e
	}
	if bound := chiSquare001(2); len(seen) != 3 || chi > bound {
		t.Fatalf("stints used %v (chi-square %.1f > %.1f?), want 1, 3 and 4 uniformly", seen, chi, bound)
	}

	// A stint in progress ends as soon as its partition loses its leader.
	tp = newStickyForTest(1<<20, 22)
	aa = tp.(AvailabilityAware)
	r := &troupe.Record{}
	cur := tp.Partition(r, n, 100)
	down := make([]bool, n)
	for i := range down {
		down[i] = i != cur
	}
	aa.SetAvailable(down)
	if got := tp.Partition(r, n, 100); got == cur {
		t.Fatalf("stayed on partition %d after it lost its leader", cur)
	}

	// The only available partition is kept, even though that repeats it.
	only := make([]bool, n)
	only[2] = true
	for i, p := range pickSequence(newStickyAvail(only, 23), n, 50) {
		if p != 2 {
			t.Fatalf("stint %d on %d, want the only available partition 2", i, p)
		}
	}

	// None available: every partition is used, still without repeats.
	seq := pickSequence(newStickyAvail(make([]bool, n), 24), n, 600)
	used := map[int]bool{}
	for i, p := range seq {
		used[p] = true
		if i > 0 && p == seq[i-1] {
			t.Fatalf("stints %d and %d both on %d", i-1, i, p)
		}
	}
	if len(used) != n {
		t.Fatalf("with no leader known, stints used %d partitions, want %d", len(used), n)
	}

	// Partitions beyond the reported slice (the count grew) count as available.
	seq = pickSequence(newStickyAvail([]bool{false, false}, 25), 4, 100)
	for i, p := range seq {
		if p < 2 {
			t.Fatalf("stint %d on unavailable partition %d", i, p)
		}
	}
}

func newStickyAvail(av []bool, seed uint64) TopicPartitioner {
	tp := newStickyForTest(1, seed)
	tp.(AvailabilityAware).SetAvailable(av)
	return tp
}

// TestStickyPartitionCountShrinks checks that a stint on a partition that no longer
// exists ends at once, and that topics do not share stints.
func TestStickyPartitionCountShrinks(t *testing.T) {
	p := stickyPartitioner{switchBytes: 1 << 20, newSource: seeded(31)}
	a, b := p.ForTopic("a"), p.ForTopic("b")
	r := &troupe.Record{}
	for range 100 {
		cur := a.Partition(r, 1000, 10)
		if cur == 0 {
			continue
		}
		if got := a.Partition(r, cur, 10); got >= cur {
			t.Fatalf("partition count shrank to %d, got partition %d", cur, got)
		}
	}
	// b has seen nothing of a's traffic: its first stint is still open after 1000 records.
	first := b.Partition(r, 10, 1000)
	for range 1000 {
		if got := b.Partition(r, 10, 1); got != first {
			t.Fatalf("topic b left its first stint after %d bytes", 1000)
		}
	}
}

func newRoundRobinForTest(seed uint64) TopicPartitioner {
	return roundRobinPartitioner{newSource: seeded(seed)}.ForTopic("t")
}

// TestRoundRobinCycles checks that records go to consecutive partitions, wrapping at n,
// from a random start.
func TestRoundRobinCycles(t *testing.T) {
	const n = 7
	r := &troupe.Record{}
	starts := map[int]bool{}
	for seed := range uint64(20) {
		tp := newRoundRobinForTest(seed)
		start := tp.Partition(r, n, 100)
		starts[start] = true
		for i := 1; i < 5*n; i++ {
			if got, want := tp.Partition(r, n, 100), (start+i)%n; got != want {
				t.Fatalf("seed %d: record %d went to %d, want %d", seed, i, got, want)
			}
		}
	}
	if len(starts) < 3 {
		t.Errorf("20 topics started on only %v", starts)
	}

	// When the partition count shrinks below the next partition, the cycle stays in range.
	tp := newRoundRobinForTest(1)
	for range 3 * n {
		tp.Partition(r, n, 1)
	}
	for i := range 20 {
		if got := tp.Partition(r, 2, 1); got < 0 || got >= 2 {
			t.Fatalf("record %d after shrinking to 2 partitions went to %d", i, got)
		}
	}
}

// TestRoundRobinSkipsUnavailable checks that partitions without a leader are skipped,
// that they rejoin the cycle when their leader is back, and that with none available the
// cycle goes through all of them.
func TestRoundRobinSkipsUnavailable(t *testing.T) {
	const n = 6
	tp := newRoundRobinForTest(3)
	aa := tp.(AvailabilityAware)
	r := &troupe.Record{}
	aa.SetAvailable([]bool{true, false, true, false, false, true})
	prev := tp.Partition(r, n, 1)
	next := map[int]int{0: 2, 2: 5, 5: 0}
	for i := range 30 {
		got := tp.Partition(r, n, 1)
		if want, ok := next[prev]; !ok || got != want {
			t.Fatalf("record %d after %d went to %d, want %d", i, prev, got, want)
		}
		prev = got
	}

	aa.SetAvailable([]bool{true, true, true, true, true, true})
	start := tp.Partition(r, n, 1)
	for i := 1; i < 2*n; i++ {
		if got, want := tp.Partition(r, n, 1), (start+i)%n; got != want {
			t.Fatalf("after leaders returned, record %d went to %d, want %d", i, got, want)
		}
	}

	aa.SetAvailable(make([]bool, n))
	start = tp.Partition(r, n, 1)
	for i := 1; i < 2*n; i++ {
		if got, want := tp.Partition(r, n, 1), (start+i)%n; got != want {
			t.Fatalf("with no leader, record %d went to %d, want %d", i, got, want)
		}
	}
}

// TestManualPartitioner checks routing by r.Partition and the validator's errors.
func TestManualPartitioner(t *testing.T) {
	tp := ManualPartitioner().ForTopic("orders")
	v, ok := tp.(Validator)
	if !ok {
		t.Fatal("the manual partitioner does not implement Validator")
	}
	for p := range int32(5) {
		r := &troupe.Record{Partition: p}
		if err := v.Validate(r, 5); err != nil {
			t.Fatalf("Validate(partition %d of 5) = %v", p, err)
		}
		if got := tp.Partition(r, 5, 100); got != int(p) {
			t.Fatalf("Partition(partition %d) = %d", p, got)
		}
	}
	for _, p := range []int32{-1, 5, 6, 1 << 30, -1 << 31} {
		r := &troupe.Record{Partition: p}
		err := v.Validate(r, 5)
		if !errors.Is(err, ErrInvalidPartition) || !errors.Is(err, troupe.ErrNotWritten) || errors.Is(err, troupe.ErrMaybeWritten) {
			t.Fatalf("Validate(partition %d of 5) = %v; want ErrInvalidPartition and ErrNotWritten", p, err)
		}
		if want := fmt.Sprintf(`producer: invalid partition %d for topic "orders", which has partitions [0, 5)`, p); err.Error() != want {
			t.Errorf("error reads %q, want %q", err, want)
		}
		if got := tp.Partition(r, 5, 100); got != 0 {
			t.Fatalf("Partition(out-of-range %d) = %d, want 0", p, got)
		}
	}
}

// TestSaramaHashPartitioner checks Sarama's NewHashPartitioner semantics: FNV-1a of the
// key as int32, Go's remainder, then the absolute value.
func TestSaramaHashPartitioner(t *testing.T) {
	// FNV-1a reference values (the FNV authors' test vectors), and one key whose hash is
	// exactly MinInt32 (from Sarama's TestHashPartitionerMinInt32).
	for key, want := range map[string]uint32{"": 0x811c9dc5, "a": 0xe40c292c, "foobar": 0xbf9cf968, "1468509572224": 0x80000000} {
		if got := fnv1a32([]byte(key)); got != want {
			t.Errorf("fnv1a32(%q) = %#x, want %#x", key, got, want)
		}
	}
	tp := saramaHashPartitioner{switchBytes: 1000, newSource: seeded(41)}.ForTopic("t")
	// Worked by hand: int32(0x80000000) % 50 = -48, so 48 (the Java-style sign-bit clear
	// would give 0); int32(0xbf9cf968) = -1080231576, % 7 = -4, so 4 (Java-style: 2).
	for _, c := range []struct {
		key  string
		n    int
		want int
	}{{"1468509572224", 50, 48}, {"foobar", 7, 4}} {
		if got := tp.Partition(keyed(c.key), c.n, 10); got != c.want {
			t.Errorf("partition of %q over %d = %d, want %d", c.key, c.n, got, c.want)
		}
	}
	// The documented algorithm, computed with hash/fnv, over many keys and counts.
	rng := rand.New(rand.NewPCG(5, 5))
	for range 5000 {
		key := make([]byte, rng.IntN(40))
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		n := 1 + rng.IntN(10000)
		h := fnv.New32a()
		h.Write(key)
		want := int32(h.Sum32()) % int32(n)
		if want < 0 {
			want = -want
		}
		if got := tp.Partition(&troupe.Record{Key: key}, n, 10); got != int(want) {
			t.Fatalf("partition of %x over %d = %d, want %d", key, n, got, want)
		}
	}
	// Nil keys are sticky: 1000 bytes per stint.
	ss := runStints(tp, 10, []int{400, 400, 400, 400, 400, 400, 400})
	if len(ss) != 3 || len(ss[0].sizes) != 3 || len(ss[1].sizes) != 3 {
		t.Errorf("nil keys made stints %v, want 3 records per stint", ss)
	}
}

// TestPartitionerFunc checks that the function gets the topic, the record and n, and that
// its result is returned as is (the producer range-checks it).
func TestPartitionerFunc(t *testing.T) {
	var gotTopic string
	var gotRecord *troupe.Record
	tp := PartitionerFunc(func(topic string, r *troupe.Record, n int) int {
		gotTopic, gotRecord = topic, r
		return n + 3
	}).ForTopic("events")
	r := &troupe.Record{Key: []byte("k")}
	if got := tp.Partition(r, 4, 100); got != 7 || gotTopic != "events" || gotRecord != r {
		t.Fatalf("Partition = %d with topic %q, record %p; want 7, %q, %p", got, gotTopic, gotRecord, "events", r)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("PartitionerFunc(nil) did not panic")
			}
		}()
		PartitionerFunc(nil)
	}()
}

// TestPropertyPartitionInRange checks that every partitioner returns a partition in
// [0, n) for any n in [1, 10000], any record, any size and any reported availability, and
// that keyed hashing matches its definition whatever else happened before.
func TestPropertyPartitionInRange(t *testing.T) {
	kinds := []string{"hash", "sticky", "roundrobin", "manual", "sarama", "func"}
	rapid.Check(t, func(rt *rapid.T) {
		kind := rapid.SampledFrom(kinds).Draw(rt, "kind")
		switchBytes := rapid.IntRange(-1, 5000).Draw(rt, "switchBytes")
		src := seeded(rapid.Uint64().Draw(rt, "seed"))
		var p Partitioner
		switch kind {
		case "hash":
			p = hashPartitioner{switchBytes: switchBytes, newSource: src}
		case "sticky":
			p = stickyPartitioner{switchBytes: switchBytes, newSource: src}
		case "roundrobin":
			p = roundRobinPartitioner{newSource: src}
		case "manual":
			p = ManualPartitioner()
		case "sarama":
			p = saramaHashPartitioner{switchBytes: switchBytes, newSource: src}
		case "func":
			p = PartitionerFunc(func(_ string, r *troupe.Record, n int) int { return len(r.Value) % n })
		}
		tp := p.ForTopic("t")
		baseN := rapid.IntRange(1, 10000).Draw(rt, "n")
		steps := rapid.IntRange(1, 200).Draw(rt, "steps")
		for range steps {
			n := baseN
			if rapid.IntRange(0, 9).Draw(rt, "resize") == 0 {
				n = rapid.IntRange(1, 10000).Draw(rt, "newN")
				baseN = n
			}
			if aa, ok := tp.(AvailabilityAware); ok && rapid.IntRange(0, 9).Draw(rt, "setAvail") == 0 {
				length := rapid.IntRange(0, n+3).Draw(rt, "availLen")
				upPercent := rapid.IntRange(0, 100).Draw(rt, "upPercent")
				rng := rand.New(rand.NewPCG(uint64(length), uint64(upPercent)))
				av := make([]bool, length)
				for i := range av {
					av[i] = rng.IntN(100) < upPercent
				}
				aa.SetAvailable(av)
			}
			r := &troupe.Record{
				Topic:     "t",
				Partition: rapid.Int32().Draw(rt, "partition"),
				Value:     make([]byte, rapid.IntRange(0, 50).Draw(rt, "valueLen")),
			}
			if rapid.Bool().Draw(rt, "hasKey") {
				r.Key = rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(rt, "key")
			}
			size := rapid.IntRange(-5, 3<<20).Draw(rt, "size")
			valid := true
			if v, ok := tp.(Validator); ok {
				valid = v.Validate(r, n) == nil
			}
			got := tp.Partition(r, n, size)
			if got < 0 || got >= n {
				rt.Fatalf("%s: Partition returned %d for n=%d", kind, got, n)
			}
			switch {
			case kind == "hash" && r.Key != nil:
				if want := int(murmur2(r.Key)&0x7fffffff) % n; got != want {
					rt.Fatalf("hash: key %x over %d went to %d, want %d", r.Key, n, got, want)
				}
			case kind == "manual":
				if inRange := r.Partition >= 0 && int(r.Partition) < n; valid != inRange || (valid && got != int(r.Partition)) {
					rt.Fatalf("manual: partition %d of %d: Validate ok=%v, Partition=%d", r.Partition, n, valid, got)
				}
			}
		}
	})
}

// BenchmarkPartitioner measures the cost per record (one op = one record of 100 bytes:
// a 16-byte key and an 84-byte value) over 6 partitions.
func BenchmarkPartitioner(b *testing.B) {
	const n, recordSize = 6, 100
	records := make([]troupe.Record, 1024)
	for i := range records {
		records[i] = troupe.Record{
			Topic:     "bench",
			Partition: int32(i % n),
			Key:       fmt.Appendf(nil, "user-%011d", i*7919),
			Value:     make([]byte, recordSize-16),
		}
	}
	unkeyed := make([]troupe.Record, len(records))
	for i := range unkeyed {
		unkeyed[i] = records[i]
		unkeyed[i].Key = nil
	}
	cases := []struct {
		name    string
		p       Partitioner
		records []troupe.Record
	}{
		{"hash/keyed", HashPartitioner(), records},
		{"hash/nil-key", HashPartitioner(), unkeyed},
		{"sticky", StickyPartitioner(0), records},
		{"roundrobin", RoundRobinPartitioner(), records},
		{"manual", ManualPartitioner(), records},
		{"sarama/keyed", SaramaHashPartitioner(), records},
		{"func", PartitionerFunc(func(_ string, r *troupe.Record, n int) int { return int(r.Partition) % n }), records},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			tp := c.p.ForTopic("bench")
			v, _ := tp.(Validator)
			b.ReportAllocs()
			sink, i := 0, 0
			for b.Loop() {
				r := &c.records[i&1023]
				if v != nil && v.Validate(r, n) != nil {
					b.Fatal("invalid partition")
				}
				sink += tp.Partition(r, n, recordSize)
				i++
			}
			if sink < 0 {
				b.Fatal("negative partition")
			}
		})
	}
}
