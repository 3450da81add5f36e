package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ctx30(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func produceN(t *testing.T, seeds []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range n {
		if err := cl.ProduceSync(ctx30(t), &kgo.Record{Key: []byte(fmt.Sprint(i % 3)), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// A Network on real sockets in front of a cluster: every broker taken down cuts it off,
// and healing brings it back; a restart keeps the data and the addresses, and moves every
// leader epoch forward.
func TestClusterBehindANetworkRestartsWithItsData(t *testing.T) {
	c, err := StartCluster(ClusterConfig{Brokers: 2, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nw := NewNetwork(nil, c.Ports())
	seeds := c.Addrs()
	if err := CreateTopic(ctx30(t), seeds, nw.Dial, "t", 2); err != nil {
		t.Fatal(err)
	}
	produceN(t, seeds, "t", 20)
	before, err := c.leaders(ctx30(t))
	if err != nil {
		t.Fatal(err)
	}

	for n := range 2 {
		if err := nw.Inject(n, Toxic{Kind: Down}); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := EndOffsets(short, seeds, nw.Dial, "t"); err == nil {
		t.Fatal("the cluster answered with every broker down")
	}
	nw.HealAll()
	if _, err := EndOffsets(ctx30(t), seeds, nw.Dial, "t"); err != nil {
		t.Fatalf("after healing: %v", err)
	}

	if err := c.Restart(false); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Addrs(), ","); got != strings.Join(seeds, ",") {
		t.Fatalf("after the restart the cluster advertises %s, before %s", got, strings.Join(seeds, ","))
	}
	after, err := c.leaders(ctx30(t))
	if err != nil {
		t.Fatal(err)
	}
	for tp, b := range before {
		if a := after[tp]; a.epoch <= b.epoch {
			t.Fatalf("%v: leader epoch %d after the restart, %d before", tp, a.epoch, b.epoch)
		}
	}
	log, end, err := ReadLog(ctx30(t), seeds, nw.Dial, "t")
	if err != nil {
		t.Fatal(err)
	}
	if n := end[0] + end[1]; n != 20 || len(log[0])+len(log[1]) != 20 {
		t.Fatalf("after the restart the log holds %d records (%d read), want 20", n, len(log[0])+len(log[1]))
	}
}

// Protocol faults answer with an error code, or close the connection, for as many
// requests as asked, and stop when healed.
func TestProtocolFaults(t *testing.T) {
	c, err := StartCluster(ClusterConfig{Brokers: 1, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := CreateTopic(ctx30(t), c.Addrs(), nil, "t", 1); err != nil {
		t.Fatal(err)
	}
	offsets := func() error {
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(7)
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := c.request(ctx30(t), req)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode)
	}
	c.Inject(ProtocolFault{Key: kmsg.ListOffsets, Topic: "t", Node: -1, Err: kerr.NotLeaderForPartition, Count: 2})
	for i := range 2 {
		if err := offsets(); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("request %d under the fault: %v", i, err)
		}
	}
	if err := offsets(); err != nil {
		t.Fatalf("after the fault's count: %v", err)
	}
	c.Inject(ProtocolFault{Key: kmsg.ListOffsets, Node: -1, Count: 5}) // close the connection
	if err := offsets(); err == nil {
		t.Fatal("a closed-connection fault answered")
	}
	c.HealProtocol()
	if err := offsets(); err != nil {
		t.Fatalf("after healing: %v", err)
	}
}

// Tap logs each request and response it sees, as the client reads them.
func TestTapSummarizesTheExchange(t *testing.T) {
	c, err := StartCluster(ClusterConfig{Brokers: 1, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	var lines []string
	var open atomic.Int64
	tap := Tap(netDial(), func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
	}, &open)
	if err := CreateTopic(ctx30(t), c.Addrs(), tap, "t", 1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	for _, want := range []string{"> CreateTopics", "< CreateTopics", "> Metadata", "< Metadata"} {
		if !strings.Contains(all, want) {
			t.Fatalf("no %q in the tap's lines:\n%s", want, all)
		}
	}
	if n := open.Load(); n != 0 {
		t.Fatalf("%d tapped connections still open after CreateTopic returned", n)
	}
}

func netDial() DialFunc { return (&net.Dialer{}).DialContext }

// TapObserve passes each request as it is written, then again with its response, in
// that order, with the times between.
func TestTapObservesEachExchange(t *testing.T) {
	c, err := StartCluster(ClusterConfig{Brokers: 1, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	var seen []Exchange
	tap := TapObserve(netDial(), func(string, ...any) {}, nil, func(ex Exchange) {
		mu.Lock()
		seen = append(seen, ex)
		mu.Unlock()
	})
	if err := CreateTopic(ctx30(t), c.Addrs(), tap, "t", 1); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	written := make(map[kmsg.Request]bool)
	var creates int
	for _, ex := range seen {
		switch {
		case ex.Resp == nil:
			written[ex.Req] = true
		case !written[ex.Req]:
			t.Fatalf("a %s response observed before its request", kmsg.NameForKey(ex.Req.Key()))
		case ex.Read.Before(ex.Sent):
			t.Fatalf("a %s response read at %v, before its request was sent at %v", kmsg.NameForKey(ex.Req.Key()), ex.Read, ex.Sent)
		case ex.Req.Key() != ex.Resp.Key():
			t.Fatalf("a %s request answered by a %s response", kmsg.NameForKey(ex.Req.Key()), kmsg.NameForKey(ex.Resp.Key()))
		default:
			if _, ok := ex.Resp.(*kmsg.CreateTopicsResponse); ok {
				creates++
			}
		}
	}
	if creates != 1 {
		t.Fatalf("%d CreateTopics responses observed, want 1 (of %d exchanges)", creates, len(seen))
	}
}

// The ports that StartCluster chose, and those of stopped brokers, are held and handed
// to kfake, not let go and bound again (another process's connection could take a port
// in between): the first listen on a held address gets that socket, listening; a second
// one binds afresh (and fails while the first listens); close lets go of what was not
// handed over.
func TestHeldPortsHandOverTheirPorts(t *testing.T) {
	h := newHeldPorts()
	var addrs []string
	for range 2 {
		port, err := h.hold(0)
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
	}
	got, err := h.listen("tcp", addrs[0])
	if err != nil || got.Addr().String() != addrs[0] {
		t.Fatalf("first listen on %s: %v, %v; want the held port", addrs[0], got, err)
	}
	conn, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatalf("the listener handed over does not take connections: %v", err)
	}
	conn.Close()
	if _, err := h.listen("tcp", addrs[0]); err == nil {
		t.Fatalf("a second listen on %s bound the address while the first listener is open", addrs[0])
	}
	if h.count() != 1 {
		t.Fatalf("%d ports held, want the one not handed over", h.count())
	}
	h.close()
	if h.count() != 0 {
		t.Fatal("close kept a port")
	}
	got.Close()
	again, err := h.listen("tcp", addrs[0])
	if err != nil {
		t.Fatalf("listening again on %s after its listener closed: %v", addrs[0], err)
	}
	again.Close()
}

// A stopped broker's port, and that of one that left, is held until it listens again,
// refusing connections meanwhile as a closed port does.
func TestStoppedBrokersPortsAreHeld(t *testing.T) {
	if !holdsWhileStopped {
		t.Skip("ports cannot be held without listening here")
	}
	c, err := StartCluster(ClusterConfig{Brokers: 2, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addrs := make([]string, 2)
	for i, p := range c.Ports() {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	dials := func(what string, want ...bool) {
		t.Helper()
		for i, a := range addrs {
			conn, err := net.Dial("tcp", a)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != want[i] {
				t.Fatalf("%s: dialing node %d (%s): %v, want a connection: %v", what, i, a, err, want[i])
			}
		}
	}
	if c.held.count() != 0 {
		t.Fatalf("%d ports held with every broker listening", c.held.count())
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.held.count() != 2 {
		t.Fatalf("%d ports held while stopped, want 2", c.held.count())
	}
	dials("stopped", false, false)
	if err := c.Start(false); err != nil {
		t.Fatal(err)
	}
	if c.held.count() != 0 {
		t.Fatalf("%d ports held after the start", c.held.count())
	}
	dials("started", true, true)
	if err := c.Leave(0); err != nil {
		t.Fatal(err)
	}
	if c.held.count() != 1 {
		t.Fatalf("%d ports held with node 0 away, want 1", c.held.count())
	}
	dials("node 0 away", false, true)
	if err := c.Return(0); err != nil {
		t.Fatal(err)
	}
	dials("node 0 back", true, true)
	c.Close()
	if c.held.count() != 0 {
		t.Fatal("ports held after Close")
	}
}

// count is how many ports h holds.
func (h *heldPorts) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}
