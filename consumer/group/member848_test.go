package group

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerConfig is testGroupConfig for the consumer protocol (KIP-848).
func consumerConfig(group string) Config {
	cfg := testGroupConfig(group)
	cfg.Protocol, cfg.Assignors, cfg.ServerAssignor = Consumer, nil, ServerAssignorUniform
	return cfg
}

// kfake848 starts kfake with a fast KIP-848 heartbeat interval.
func kfake848(t *testing.T, parts int, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	t.Helper()
	return startKfake(t, parts, append([]kfake.Opt{kfake.BrokerConfigs(map[string]string{
		"group.consumer.heartbeat.interval.ms": "50",
	})}, opts...)...)
}

// observeHeartbeats848 passes every ConsumerGroupHeartbeat kfake receives (member ID and
// epoch) to the channel it returns, leaving kfake to answer them.
func observeHeartbeats848(kc *kfake.Cluster) <-chan [2]string {
	ch := make(chan [2]string, 1024)
	kc.ControlKey(int16(kmsg.ConsumerGroupHeartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		r := req.(*kmsg.ConsumerGroupHeartbeatRequest)
		select {
		case ch <- [2]string{r.MemberID, fmt.Sprint(r.MemberEpoch)}:
		default:
		}
		return nil, nil, false
	})
	return ch
}

func TestConsumerProtocolOneMemberGetsEverything(t *testing.T) {
	const parts, n = 4, 50
	_, seeds := kfake848(t, parts)
	produceN(t, seeds, parts, 0, n)
	var mu sync.Mutex
	var events []string
	note := func(what string) func(context.Context, []consumer.About) {
		return func(_ context.Context, ps []consumer.About) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, fmt.Sprint(what, " ", len(ps)))
		}
	}
	cfg := consumerConfig("c1")
	cfg.OnAssigned, cfg.OnRevoked, cfg.OnLost = note("assigned"), note("revoked"), note("lost")
	m, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if id := m.MemberID(); len(id) != 22 {
		t.Errorf("member ID %q: want the member's own UUID (KIP-1082)", id)
	}
	next := make(map[int32]int64)
	for total := 0; total < parts*n; {
		bs, err := m.Poll(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			for _, r := range b.Records {
				if r.Offset != next[b.Partition] {
					t.Fatalf("partition %d: offset %d, want %d", b.Partition, r.Offset, next[b.Partition])
				}
				next[b.Partition]++
				total++
			}
		}
	}
	if got := len(m.Assigned()); got != parts {
		t.Fatalf("assigned %d partitions, want %d", got, parts)
	}
	if m.Generation() < 1 {
		t.Fatalf("member epoch %d", m.Generation())
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Poll(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Poll: %v, want context.Canceled", err)
	}
	if err := m.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Committed on close with the member epoch (kfake refuses OffsetCommit below v9 for
	// these groups).
	offs := committedOffsets(t, seeds, "c1")
	for p := range int32(parts) {
		if offs[p] != n {
			t.Errorf("partition %d committed at %d, want %d", p, offs[p], n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(events, []string{"assigned 4", "revoked 4"}) {
		t.Errorf("callbacks %q, want assigned then revoked", events)
	}
}

func TestConsumerProtocolThreeMembersSplit(t *testing.T) {
	const parts, n = 6, 40
	_, seeds := kfake848(t, parts)
	cols := []*collector{
		join(t, seeds, consumerConfig("c3"), "m1"),
		join(t, seeds, consumerConfig("c3"), "m2"),
		join(t, seeds, consumerConfig("c3"), "m3"),
	}
	waitAssigned(t, parts, []int{2, 2, 2}, cols...)
	produceN(t, seeds, parts, 0, n)
	for _, col := range cols {
		col.waitReadThrough(t, "its partitions' records", n-1)
	}
	checkAll(t, union(cols...), parts, n)
}

func TestConsumerProtocolLeaveMovesPartitionsWithoutSkipping(t *testing.T) {
	const parts = 6
	kc, seeds := kfake848(t, parts)
	produceN(t, seeds, parts, 0, 30)
	m1 := join(t, seeds, consumerConfig("cm"), "m1")
	m1.waitFor(t, "the first records", func() bool { return m1.total >= parts*30 })

	// A second member joins: m1 revokes three partitions (committing what it finished)
	// while it goes on reading the other three; m2 takes them from the commits.
	m2 := join(t, seeds, consumerConfig("cm"), "m2")
	waitAssigned(t, parts, []int{3, 3}, m1, m2)
	produceN(t, seeds, parts, 30, 30)
	for _, col := range []*collector{m1, m2} {
		col.waitReadThrough(t, "the second records", 59)
	}
	// m1 leaves with member epoch -1: m2 takes everything and reads on from its commits.
	beats := observeHeartbeats848(kc)
	id := m1.m.MemberID()
	closeMember(t, m1)
	left := false
	for len(beats) > 0 {
		if b := <-beats; b == [2]string{id, "-1"} {
			left = true
		}
	}
	if !left {
		t.Error("m1 closed without a leave heartbeat (epoch -1)")
	}
	waitAssigned(t, parts, []int{parts}, m2)
	produceN(t, seeds, parts, 60, 30)
	m2.waitFor(t, "the third records", func() bool {
		for p := range int32(parts) {
			s := m2.seen[consumer.About{Topic: "t", Partition: p}]
			if len(s) == 0 || s[len(s)-1] < 89 {
				return false
			}
		}
		return true
	})
	dups := checkAll(t, union(m1, m2), parts, 90)
	t.Logf("%d records read twice over two moves", dups)
	m1.mu.Lock()
	defer m1.mu.Unlock()
	// m1 gave up three partitions when m2 came, then the rest on close: never lost.
	if len(m1.events) < 3 || !strings.HasPrefix(m1.events[1], "revoked") || !strings.HasPrefix(m1.events[len(m1.events)-1], "revoked") {
		t.Errorf("m1's callbacks %q: want assigned, revoked (three), ..., revoked", m1.events)
	}
	for _, e := range m1.events {
		if strings.HasPrefix(e, "lost") {
			t.Errorf("m1 lost partitions: %q", m1.events)
		}
	}
}

func TestConsumerProtocolStaticMemberLeavesWithEpochMinus2(t *testing.T) {
	kc, seeds := kfake848(t, 2)
	cfg := consumerConfig("cs")
	cfg.InstanceID = "instance-1"
	m := join(t, seeds, cfg, "m1")
	waitAssigned(t, 2, []int{2}, m)
	beats := observeHeartbeats848(kc)
	id := m.m.MemberID()
	closeMember(t, m)
	var got []string
	for len(beats) > 0 {
		b := <-beats
		if b[0] == id {
			got = append(got, b[1])
		}
	}
	if len(got) == 0 || got[len(got)-1] != "-2" {
		t.Errorf("a static member's last heartbeats had epochs %v, want a -2 last", got)
	}
}

func TestConsumerProtocolFencedMemberLosesAndRejoins(t *testing.T) {
	for _, code := range []int16{kerr.FencedMemberEpoch.Code, kerr.UnknownMemberID.Code} {
		t.Run(errcode.ForCode(code).(*errcode.Error).Name, func(t *testing.T) {
			const parts = 4
			kc, seeds := kfake848(t, parts, kfake.BrokerConfigs(map[string]string{
				"group.consumer.heartbeat.interval.ms": "50",
				"group.consumer.session.timeout.ms":    "1000",
			}))
			produceN(t, seeds, parts, 0, 20)
			m1 := join(t, seeds, consumerConfig("cf"), "m1")
			m1.waitFor(t, "the first records", func() bool { return m1.total >= parts*20 })
			id := m1.m.MemberID()
			kc.ControlKey(int16(kmsg.ConsumerGroupHeartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
				r := req.(*kmsg.ConsumerGroupHeartbeatRequest)
				if r.MemberID != id || r.MemberEpoch <= 0 {
					kc.KeepControl()
					return nil, nil, false
				}
				resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
				resp.ErrorCode = code
				return resp, nil, true
			})
			m1.waitFor(t, "the partitions lost", func() bool {
				for _, e := range m1.events {
					if strings.HasPrefix(e, "lost") {
						return true
					}
				}
				return false
			})
			waitAssigned(t, parts, []int{parts}, m1)
			if (m1.m.MemberID() != id) != (code == kerr.UnknownMemberID.Code) {
				t.Errorf("member ID %q after %v, was %q", m1.m.MemberID(), errcode.ForCode(code), id)
			}
			produceN(t, seeds, parts, 20, 20)
			m1.waitFor(t, "the records after the fence", func() bool {
				for p := range int32(parts) {
					s := m1.seen[consumer.About{Topic: "t", Partition: p}]
					if len(s) == 0 || s[len(s)-1] < 39 {
						return false
					}
				}
				return true
			})
			checkAll(t, union(m1), parts, 40)
		})
	}
}

func TestConsumerProtocolConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"assignors with consumer":      {Group: "g", Topics: []string{"t"}, Protocol: Consumer, Assignors: []Assignor{Range()}},
		"server assignor with classic": {Group: "g", Topics: []string{"t"}, Assignors: []Assignor{Range()}, ServerAssignor: "uniform"},
		"unknown protocol":             {Group: "g", Topics: []string{"t"}, Protocol: 7},
	} {
		if _, err := cfg.withDefaults(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := (Config{Group: "g", Topics: []string{"t"}, Protocol: Consumer}).withDefaults(); err != nil {
		t.Errorf("a consumer-protocol config without assignors: %v", err)
	}
}

func TestConsumerProtocolUnknownServerAssignorIsFatal(t *testing.T) {
	_, seeds := kfake848(t, 2)
	cfg := consumerConfig("cu")
	cfg.ServerAssignor = "no-such-assignor"
	_, err := Join(ctxT(t), newConsumer(t, seeds), cfg)
	if !errors.Is(err, errcode.UnsupportedAssignor) {
		t.Fatalf("Join: %v, want UNSUPPORTED_ASSIGNOR", err)
	}
}

// TestConsumerProtocolSessionLostWithoutHeartbeats: every heartbeat of the member fails
// (the connection breaks): after SessionTimeout without one that succeeded the member
// declares its partitions lost (nothing committed for them), and once heartbeats get
// through again it joins again and reads on.
func TestConsumerProtocolSessionLostWithoutHeartbeats(t *testing.T) {
	const parts = 2
	kc, seeds := kfake848(t, parts)
	produceN(t, seeds, parts, 0, 10)
	cfg := consumerConfig("ce")
	cfg.SessionTimeout = 500 * time.Millisecond
	m1 := join(t, seeds, cfg, "m1")
	m1.waitFor(t, "the first records", func() bool { return m1.total >= parts*10 })
	var broken atomic.Bool
	broken.Store(true)
	kc.ControlKey(int16(kmsg.ConsumerGroupHeartbeat), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !broken.Load() {
			return nil, nil, false // let go: kfake answers, and this hook is gone
		}
		kc.KeepControl()
		return nil, errors.New("heartbeats do not get through"), true
	})
	m1.waitFor(t, "the partitions lost", func() bool {
		return slices.ContainsFunc(m1.events, func(e string) bool { return strings.HasPrefix(e, "lost") })
	})
	broken.Store(false)
	waitAssigned(t, parts, []int{parts}, m1)
	produceN(t, seeds, parts, 10, 10)
	m1.waitFor(t, "the records after the session", func() bool {
		for p := range int32(parts) {
			s := m1.seen[consumer.About{Topic: "t", Partition: p}]
			if len(s) == 0 || s[len(s)-1] < 19 {
				return false
			}
		}
		return true
	})
	checkAll(t, union(m1), parts, 20)
}
