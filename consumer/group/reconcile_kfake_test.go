package group

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// These tests drive reconcilers against kfake's KIP-848 coordinator from the test's own
// goroutine, a step at a time: a heartbeat sent and answered, what the step asks done at
// once (revoked, lost, names resolved from metadata). They check that what troupe sends is
// what a coordinator accepts and that the group converges; the member actor that feeds a
// reconciler from timers and the reader is tested apart.

type kfakeMember struct {
	r     *reconciler
	owned map[string]map[int32]bool
	log   []string // steps, for failure messages
	left  bool
	err   error
}

type kfakeGroup struct {
	t       *testing.T
	ctx     context.Context
	client  *cluster.Client
	conn    *broker.Handle
	members []*kfakeMember
	ids     int
}

func newKfakeGroup(t *testing.T, kc *kfake.Cluster, topic string) *kfakeGroup {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	client, err := cluster.Open(ctx, cluster.Config{Seeds: kc.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := client.Close(cctx); err != nil {
			t.Error(err)
		}
	})
	snap, err := client.Refresh(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	// One broker: it coordinates every group.
	conn, err := client.Conn(snap.Nodes()[0], broker.Admin)
	if err != nil {
		t.Fatal(err)
	}
	return &kfakeGroup{t: t, ctx: ctx, client: client, conn: conn}
}

func (g *kfakeGroup) add(instance string) *kfakeMember {
	r := newReconciler(reconcileConfig{
		Group: "g848", InstanceID: instance, ServerAssignor: ServerAssignorUniform, RebalanceMs: 30000,
		Topics: []string{"t"},
		NewID: func() string {
			g.ids++
			return fmt.Sprintf("member-%d-%d", len(g.members), g.ids)
		},
	})
	m := &kfakeMember{r: r, owned: map[string]map[int32]bool{}}
	g.members = append(g.members, m)
	return m
}

// do carries out a step as a member would, at once.
func (g *kfakeGroup) do(m *kfakeMember, st reconcileStep) {
	for !reflect.DeepEqual(st, reconcileStep{}) {
		m.log = append(m.log, fmt.Sprintf("%+v", st))
		next := reconcileStep{}
		for _, tp := range st.Lost {
			for _, p := range tp.Partitions {
				delete(m.owned[tp.Topic], p)
			}
		}
		for _, tp := range st.Revoke {
			for _, p := range tp.Partitions {
				delete(m.owned[tp.Topic], p)
			}
		}
		for _, tp := range st.Assign {
			if m.owned[tp.Topic] == nil {
				m.owned[tp.Topic] = map[int32]bool{}
			}
			for _, p := range tp.Partitions {
				if m.owned[tp.Topic][p] {
					g.t.Fatalf("assigned %s/%d twice", tp.Topic, p)
				}
				m.owned[tp.Topic][p] = true
			}
		}
		switch {
		case st.Fatal != nil:
			m.err = st.Fatal
			return
		case st.Left:
			m.left = true
			return
		case len(st.Lost) > 0:
			next = m.r.lost()
		case len(st.Revoke) > 0:
			next = m.r.revoked()
		}
		if len(st.Resolve) > 0 {
			snap, err := g.client.Refresh(g.ctx, "t")
			if err != nil {
				g.t.Fatal(err)
			}
			names := map[codec.UUID]string{}
			for _, id := range st.Resolve {
				if tp := snap.TopicByID(id); tp != nil {
					names[id] = tp.Name
				}
			}
			more := m.r.resolved(names)
			if !reflect.DeepEqual(next, reconcileStep{}) && !reflect.DeepEqual(more, reconcileStep{}) {
				g.t.Fatalf("two steps at once: %+v and %+v", next, more)
			}
			if reflect.DeepEqual(next, reconcileStep{}) {
				next = more
			}
		}
		st = next
	}
}

// beat sends m's next heartbeat, if it has one, and takes the answer.
func (g *kfakeGroup) beat(m *kfakeMember) {
	req := m.r.next()
	if req == nil {
		return
	}
	resp, err := g.conn.Do(g.ctx, req)
	if err != nil {
		g.do(m, m.r.failed(err))
		return
	}
	g.do(m, m.r.answered(resp.(*api.ConsumerGroupHeartbeatResponse)))
}

// until beats every member in turn until cond holds, or fails the test at the deadline.
func (g *kfakeGroup) until(what string, cond func() bool) {
	g.t.Helper()
	for !cond() {
		if g.ctx.Err() != nil {
			for i, m := range g.members {
				g.t.Logf("member %d owns %v, epoch %d, state %v; steps %v", i, m.ownedSet(), m.r.epoch, m.r.state, m.log)
			}
			g.t.Fatalf("%s: not reached before the deadline", what)
		}
		for _, m := range g.members {
			if !m.left && m.err == nil {
				g.beat(m)
			}
		}
	}
}

func (m *kfakeMember) ownedSet() []int32 {
	var out []int32
	for p := range m.owned["t"] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// settled: every partition of t is owned by exactly one live member, every live member
// owns as many as the others within one, and each has told the coordinator so.
func (g *kfakeGroup) settled(partitions int) func() bool {
	return func() bool {
		seen := map[int32]int{}
		minN, maxN := partitions+1, -1
		for _, m := range g.members {
			if m.left || m.err != nil {
				continue
			}
			if m.r.due() || m.r.state != reconcileStable || !sameParts(m.r.owned, m.r.acked) {
				return false
			}
			n := len(m.owned["t"])
			minN, maxN = min(minN, n), max(maxN, n)
			for p := range m.owned["t"] {
				seen[p]++
			}
		}
		if len(seen) != partitions || maxN-minN > 1 {
			return false
		}
		for _, n := range seen {
			if n != 1 {
				return false
			}
		}
		return true
	}
}

func startKfake848(t *testing.T, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	kc, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, "t")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	return kc
}

func TestReconcileKfakeOneMemberGetsEverything(t *testing.T) {
	kc := startKfake848(t, 6)
	g := newKfakeGroup(t, kc, "t")
	m := g.add("")
	g.until("one member owns all six", g.settled(6))
	if got := m.ownedSet(); !reflect.DeepEqual(got, []int32{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("owns %v", got)
	}
	if m.r.heartbeatInterval() <= 0 {
		t.Fatal("no heartbeat interval from the coordinator")
	}
}

func TestReconcileKfakeThreeMembersSplitAndOneLeaves(t *testing.T) {
	kc := startKfake848(t, 6)
	g := newKfakeGroup(t, kc, "t")
	g.add("")
	g.until("one member owns all", g.settled(6))
	g.add("")
	g.add("")
	g.until("three members own two each", g.settled(6))
	for i, m := range g.members {
		if len(m.ownedSet()) != 2 {
			t.Fatalf("member %d owns %v", i, m.ownedSet())
		}
	}
	leaver := g.members[1]
	g.do(leaver, leaver.r.leave())
	g.until("the leaver has left", func() bool { return leaver.left })
	if len(leaver.owned["t"]) != 0 {
		t.Fatalf("left owning %v", leaver.ownedSet())
	}
	g.until("two members own three each", g.settled(6))
}

func TestReconcileKfakeStaticMemberLeavesAndComesBack(t *testing.T) {
	kc := startKfake848(t, 4)
	g := newKfakeGroup(t, kc, "t")
	a := g.add("inst-a")
	g.add("inst-b")
	g.until("two static members split", g.settled(4))
	had := a.ownedSet()
	g.do(a, a.r.leave())
	g.until("a has left", func() bool { return a.left })
	// The coordinator keeps a's partitions for it (epoch -2): a new incarnation with the
	// same instance ID gets them back.
	back := g.add("inst-a")
	g.until("a's new incarnation is back", g.settled(4))
	if got := back.ownedSet(); !reflect.DeepEqual(got, had) {
		t.Fatalf("came back with %v, had %v", got, had)
	}
}

func TestReconcileKfakeFencedRecovers(t *testing.T) {
	for _, code := range []int16{kerr.FencedMemberEpoch.Code, kerr.UnknownMemberID.Code} {
		t.Run(errcode.ForCode(code).(*errcode.Error).Name, func(t *testing.T) {
			kc := startKfake848(t, 4, kfake.BrokerConfigs(map[string]string{"group.consumer.session.timeout.ms": "1000"}))
			g := newKfakeGroup(t, kc, "t")
			a := g.add("")
			b := g.add("")
			g.until("two members split", g.settled(4))
			idBefore := a.r.memberID
			// The next heartbeat from a is refused as fenced.
			kc.ControlKey(int16(api.ConsumerGroupHeartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
				hb := req.(*kmsg.ConsumerGroupHeartbeatRequest)
				if hb.MemberID != idBefore {
					return nil, nil, false
				}
				resp := hb.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
				resp.ErrorCode = code
				return resp, nil, true
			})
			g.until("a is fenced", func() bool { return a.r.epoch == 0 || a.err != nil })
			if a.err != nil || len(a.owned["t"]) != 0 {
				t.Fatalf("fenced: err %v, still owns %v", a.err, a.ownedSet())
			}
			g.until("the group settles again", g.settled(4))
			if (a.r.memberID != idBefore) != (code == kerr.UnknownMemberID.Code) {
				t.Fatalf("member ID %q after %v (was %q)", a.r.memberID, kerr.ErrorForCode(code), idBefore)
			}
			if len(a.owned["t"]) == 0 || len(b.owned["t"]) == 0 {
				t.Fatalf("a owns %v, b owns %v", a.ownedSet(), b.ownedSet())
			}
		})
	}
}

func TestReconcileKfakeFatal(t *testing.T) {
	kc := startKfake848(t, 2)
	g := newKfakeGroup(t, kc, "t")
	m := g.add("")
	m.r.assignor = "no-such-assignor"
	g.until("refused", func() bool { return m.err != nil })
	if !errors.Is(m.err, errcode.UnsupportedAssignor) {
		t.Fatalf("err %v, want UNSUPPORTED_ASSIGNOR", m.err)
	}
}
