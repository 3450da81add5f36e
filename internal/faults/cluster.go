package faults

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterConfig configures a Cluster.
type ClusterConfig struct {
	// Brokers is the number of brokers. Zero means 3.
	Brokers int
	// Ports are the brokers' ports, one per broker. Nil means free ports chosen at start
	// (on 127.0.0.1); either way a restart uses the same ones.
	Ports []int
	// Listen is kfake's ListenFn: a VirtualNetwork's Listen, say. Nil means net.Listen.
	Listen func(network, address string) (net.Listener, error)
	// DataDir is where the cluster keeps its data, so that a restart finds it again.
	// Required.
	DataDir string
	// Dial opens the Cluster's own connections to the brokers, straight to their ports on
	// 127.0.0.1, past any fault (a VirtualNetwork's DialContext for a cluster on
	// one). Nil means a net.Dialer.
	Dial DialFunc
	// Opts are more kfake options (topics, broker configs, a logger).
	Opts []kfake.Opt
}

// Cluster is a kfake cluster that can be restarted with its data on the same ports, and
// that installs protocol faults it can heal. Its methods are safe for concurrent use.
type Cluster struct {
	cfg ClusterConfig

	mu       sync.Mutex
	c        *kfake.Cluster                // nil while stopped
	addrs    []string                      // what the brokers advertise; the same after every restart
	before   map[topicPartition]leadership // while stopped: leaders and epochs at the stop
	away     map[int32]bool                // nodes taken out of the cluster (Leave)
	faults   []*kfake.FaultHandle
	controls []*control
	healed   map[kmsg.Key]bool // request kinds with healed controls that may still be installed
	// held holds the ports of stopped or departed brokers until they listen again; nil
	// when the caller chose the ports or the listen function.
	held   *heldPorts
	closed bool
}

// StartCluster starts a cluster.
func StartCluster(cfg ClusterConfig) (*Cluster, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("faults: a Cluster needs a DataDir")
	}
	if cfg.Brokers == 0 {
		cfg.Brokers = 3
	}
	var held *heldPorts
	if cfg.Ports == nil {
		held = newHeldPorts()
		for range cfg.Brokers {
			port, err := held.hold(0)
			if err != nil {
				held.close()
				return nil, err
			}
			cfg.Ports = append(cfg.Ports, port)
		}
		if cfg.Listen == nil {
			cfg.Listen = held.listen
		} else {
			held.close() // the brokers listen elsewhere (a VirtualNetwork): only the numbers were wanted
			held = nil
		}
	}
	if len(cfg.Ports) != cfg.Brokers {
		return nil, fmt.Errorf("faults: %d ports for %d brokers", len(cfg.Ports), cfg.Brokers)
	}
	c := &Cluster{cfg: cfg, held: held}
	kc, err := c.start()
	held.close() // whatever kfake did not take
	if err != nil {
		return nil, err
	}
	c.c = kc
	c.addrs = kc.ListenAddrs()
	return c, nil
}

func (c *Cluster) start() (*kfake.Cluster, error) {
	opts := append(slices.Clone(c.cfg.Opts), kfake.Ports(c.cfg.Ports...), kfake.DataDir(c.cfg.DataDir))
	if c.cfg.Listen != nil {
		opts = append(opts, kfake.ListenFn(c.cfg.Listen))
	}
	return kfake.NewCluster(opts...)
}

// Kfake returns the running kfake cluster (a new one after each Restart), or nil while
// the cluster is stopped.
func (c *Cluster) Kfake() *kfake.Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}

// Ports returns the brokers' ports, by node: the same after every restart. They are what
// NewNetwork takes to put faults in front of the brokers.
func (c *Cluster) Ports() []int { return slices.Clone(c.cfg.Ports) }

// Addrs returns the addresses the brokers advertise, by node: the same while the cluster
// is stopped and after it starts again.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.addrs)
}

// Stopped reports whether the cluster is stopped (Stop without Start).
func (c *Cluster) Stopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c == nil && !c.closed
}

// Restart stops every broker and starts them again on the same ports with the data they
// had: Stop, then Start. With shuffle, the partitions' leaders move as the brokers come
// back (a leader election that picks other brokers), before any client reconnects.
func (c *Cluster) Restart(shuffle bool) error {
	if err := c.Stop(); err != nil {
		return err
	}
	return c.Start(shuffle)
}

// Stop stops every broker until Start: connections are closed and new ones refused;
// requests the brokers had not answered are lost (they may or may not have been
// applied). kfake persists the log, topics and producer state in DataDir. Protocol faults
// do not survive it: they belonged to the old brokers.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("faults: cluster closed")
	}
	if c.c == nil {
		return errors.New("faults: cluster already stopped")
	}
	c.healLocked() // first: an injected fault must not answer the Cluster's own requests
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.dropHealedControls(ctx); err != nil {
		return err
	}
	before, err := c.leaders(ctx)
	if err != nil {
		return fmt.Errorf("faults: leader epochs before the stop: %w", err)
	}
	c.c.Close()
	c.held.holdStopped(c.cfg.Ports...)
	c.c, c.before = nil, before
	c.healed = nil // the new brokers have no controls
	return nil
}

// Start starts the stopped brokers again on the same ports, with their data.
//
// Each partition then gets a leader epoch above the one it had: a real cluster's leader
// epochs never go back (they live in the controller's metadata, and a restart elects
// leaders anew), but kfake derives a reloaded partition's epoch from its last batch, or
// starts it at 0, when its saved state does not match its log. Without this, clients that
// know the newer epoch rightly take every answer as stale and wait for the cluster to
// catch up, forever. With shuffle, every partition's leader then moves (kfake's
// ShufflePartitionLeaders), as an election after a restart may move them.
func (c *Cluster) Start(shuffle bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("faults: cluster closed")
	}
	if c.c != nil {
		return errors.New("faults: cluster not stopped")
	}
	kc, err := c.start()
	c.held.close() // whatever kfake did not take
	if err != nil {
		return fmt.Errorf("faults: restarting the cluster: %w", err)
	}
	c.c, c.away = kc, nil // every broker starts, those that had left too
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	after, err := c.leaders(ctx)
	if err != nil {
		return fmt.Errorf("faults: leader epochs after the restart: %w", err)
	}
	for tp, was := range c.before {
		now, ok := after[tp]
		if !ok {
			continue
		}
		// MoveTopicPartition to the same leader bumps the epoch by one.
		for e := now.epoch; e <= was.epoch; e++ {
			if err := kc.MoveTopicPartition(tp.topic, tp.partition, now.leader); err != nil {
				return fmt.Errorf("faults: restoring the leader epoch of %s[%d]: %w", tp.topic, tp.partition, err)
			}
		}
	}
	c.before = nil
	if shuffle {
		kc.ShufflePartitionLeaders()
	}
	return nil
}

// Leave takes broker node out of the cluster until Return (kfake's RemoveNode): it stops
// listening, its partitions get other leaders, and metadata no longer lists it, as a
// real cluster's metadata omits a broker that is down (one broker restarting, say). The
// controller cannot leave (see Controller).
func (c *Cluster) Leave(node int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return errors.New("faults: cluster stopped")
	}
	if node == c.controller() {
		return fmt.Errorf("faults: node %d is the controller, which cannot leave", node)
	}
	if c.away[node] {
		return fmt.Errorf("faults: node %d has left already", node)
	}
	if err := c.c.RemoveNode(node); err != nil {
		return fmt.Errorf("faults: node %d leaving: %w", node, err)
	}
	c.held.holdStopped(c.cfg.Ports[node])
	if c.away == nil {
		c.away = make(map[int32]bool)
	}
	c.away[node] = true
	return nil
}

// Return brings back a node that left, at its old port and so its old address (kfake's
// AddNode); kfake then moves every partition's leader, so it may lead some again.
func (c *Cluster) Return(node int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return errors.New("faults: cluster stopped")
	}
	if !c.away[node] {
		return fmt.Errorf("faults: node %d has not left", node)
	}
	if _, _, err := c.c.AddNode(node, c.cfg.Ports[node]); err != nil {
		return fmt.Errorf("faults: node %d returning: %w", node, err)
	}
	delete(c.away, node)
	return nil
}

// Controller is the node that kfake makes its controller: the last one. kfake chooses it
// once, when the cluster starts, and keeps the broker it chose: a controller that left
// and returned (a new broker with the same ID) would leave the cluster without a working
// controller, refusing to create or delete topics (NOT_CONTROLLER) until a restart.
func (c *Cluster) Controller() int32 { return c.controller() }

func (c *Cluster) controller() int32 { return int32(len(c.cfg.Ports) - 1) }

// Away lists the nodes that have left (Leave) and not returned, in order.
func (c *Cluster) Away() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int32
	for n := range int32(len(c.cfg.Ports)) {
		if c.away[n] {
			out = append(out, n)
		}
	}
	return out
}

// dropHealedControls makes every healed control remove itself before the brokers stop.
// kfake runs a control function on a goroutine of its own and, while it runs, serves
// other work, Close's shutdown included: a request that a control looked at and let
// through can then be applied after Close saved the cluster's state, so its batch is in
// the log but not in the producer's deduplication window, and a retry of it is appended
// again after the restart. A healed control drops itself the next time it runs, so one
// empty request of each kind it watches, sent here, removes it.
func (c *Cluster) dropHealedControls(ctx context.Context) error {
	if len(c.healed) == 0 {
		return nil
	}
	vreq := kmsg.NewPtrApiVersionsRequest()
	vreq.SetVersion(3)
	vreq.ClientSoftwareName, vreq.ClientSoftwareVersion = "faults", "1"
	resp, err := c.request(ctx, vreq)
	if err != nil {
		return fmt.Errorf("faults: ApiVersions: %w", err)
	}
	versions := make(map[int16]int16)
	for _, k := range resp.(*kmsg.ApiVersionsResponse).ApiKeys {
		versions[k.ApiKey] = k.MaxVersion
	}
	for key := range c.healed {
		req := kmsg.RequestForKey(int16(key))
		v, ok := versions[int16(key)]
		if req == nil || !ok {
			continue
		}
		req.SetVersion(min(v, req.MaxVersion()))
		if p, ok := req.(*kmsg.ProduceRequest); ok {
			p.Acks = -1
		}
		if _, err := c.request(ctx, req); err != nil {
			return fmt.Errorf("faults: an empty %s to drop healed controls: %w", kmsg.NameForKey(int16(key)), err)
		}
	}
	c.healed = nil
	return nil
}

type topicPartition struct {
	topic     string
	partition int32
}

type leadership struct {
	leader, epoch int32
}

// leaders asks a broker, directly, for the leader and leader epoch of every partition.
func (c *Cluster) leaders(ctx context.Context) (map[topicPartition]leadership, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	req.Topics = nil // every topic
	resp, err := c.request(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(map[topicPartition]leadership)
	for _, t := range resp.(*kmsg.MetadataResponse).Topics {
		if t.Topic == nil {
			continue
		}
		for _, p := range t.Partitions {
			out[topicPartition{*t.Topic, p.Partition}] = leadership{p.Leader, p.LeaderEpoch}
		}
	}
	return out, nil
}

// request sends req (its version set) to the first broker on a connection of its own,
// straight to its port, and returns the answer.
func (c *Cluster) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	dial := c.cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	port := c.cfg.Ports[0]
	for node, p := range c.cfg.Ports {
		if !c.away[int32(node)] {
			port = p
			break
		}
	}
	nc, err := dial(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	return kafkatest.RoundTrip(nc, req, "faults")
}

// Close stops the cluster (its data stays in DataDir).
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.healLocked()
	if c.c != nil {
		c.c.Close()
	}
	c.held.close()
}

// ProtocolFault is a fault at the Kafka protocol level: requests of one kind, for one
// topic's partitions, answered with an error code, or their connection closed.
type ProtocolFault struct {
	// Key is the request kind (kmsg.Produce, kmsg.Fetch, ...).
	Key kmsg.Key
	// Topic and Partitions select what is affected: a request is affected if it names one
	// of the partitions (nil Partitions: any) of Topic. For a closed connection ("" Err),
	// only Key and Node select.
	Topic      string
	Partitions []int32
	// Node, if not negative, restricts the fault to requests to that broker. Set it to
	// -1 for any broker.
	Node int32
	// Err is the error code to answer with. kfake answers REQUEST_TIMED_OUT and
	// NOT_ENOUGH_REPLICAS_AFTER_APPEND to a produce after appending the batch, any other
	// code before. Nil means: close the connection without answering (and without acting
	// on the request).
	Err *kerr.Error
	// Count is how many requests the fault affects (at least one).
	Count int
}

func (f ProtocolFault) String() string {
	what := "close connection"
	if f.Err != nil {
		what = f.Err.Message
	}
	node := "any node"
	if f.Node >= 0 {
		node = fmt.Sprintf("node %d", f.Node)
	}
	return fmt.Sprintf("%s %v %v on %s x%d: %s", kmsg.NameForKey(int16(f.Key)), f.Topic, f.Partitions, node, f.Count, what)
}

// Inject installs f until it has affected Count requests, or until HealProtocol or
// Stop. While the cluster is stopped it does nothing.
func (c *Cluster) Inject(f ProtocolFault) {
	count := max(f.Count, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return
	}
	if f.Err != nil {
		kf := kfake.Fault{Keys: []kmsg.Key{f.Key}, Topic: f.Topic, Partitions: f.Partitions, Err: f.Err, Count: count}
		if f.Node >= 0 {
			kf.Nodes = []int32{f.Node}
		}
		c.faults = append(c.faults, c.c.Fault(kf))
		return
	}
	ctl := &control{left: count, key: f.Key}
	kc := c.c
	kc.ControlKey(int16(f.Key), func(kmsg.Request) (kmsg.Response, error, bool) {
		if f.Node >= 0 && kc.CurrentNode() != f.Node {
			return nil, nil, false
		}
		if !ctl.take() {
			kc.DropControl()
			return nil, nil, false
		}
		kc.KeepControl()
		return nil, errInjectedClose, true
	})
	c.controls = append(c.controls, ctl)
}

var errInjectedClose = errors.New("faults: connection closed by an injected fault")

// HealProtocol removes every protocol fault still installed.
func (c *Cluster) HealProtocol() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.healLocked()
}

func (c *Cluster) healLocked() {
	for _, h := range c.faults {
		h.Remove()
	}
	c.faults = nil
	for _, ctl := range c.controls {
		ctl.heal()
		if c.healed == nil {
			c.healed = make(map[kmsg.Key]bool)
		}
		c.healed[ctl.key] = true
	}
	c.controls = nil
}

// control is the state of one closed-connection fault: kfake control functions cannot be
// removed from outside, so a healed one drops itself the next time it runs.
type control struct {
	mu   sync.Mutex
	left int
	key  kmsg.Key
}

func (c *control) take() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left <= 0 {
		return false
	}
	c.left--
	return true
}

func (c *control) heal() {
	c.mu.Lock()
	c.left = 0
	c.mu.Unlock()
}

// heldPorts holds the brokers' ports on 127.0.0.1 while no broker listens on them: from
// StartCluster choosing them until kfake first listens, and while a broker is stopped or
// has left. kfake's ListenFn takes the reservation of the address it listens on (listen).
// Letting a port go and binding it again left a window in which another process's
// connection could take the port as its local one (seen at the start as "bind: address
// already in use" with another test binary beside; a stop leaves the port free for as
// long as the test keeps the cluster down).
type heldPorts struct {
	mu   sync.Mutex
	held map[string]*reservation // by address, 127.0.0.1:port
}

func newHeldPorts() *heldPorts { return &heldPorts{held: make(map[string]*reservation)} }

// hold reserves port (0: a free one) and returns it. A nil heldPorts holds nothing.
func (h *heldPorts) hold(port int) (int, error) {
	if h == nil {
		return port, nil
	}
	r, err := reserve(port)
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held[fmt.Sprintf("127.0.0.1:%d", r.port)] = r
	return r.port, nil
}

// holdStopped holds the ports of brokers just stopped or gone, where a reservation
// refuses connections as the closed port did. A port that cannot be held (taken in the
// instant since the broker let it go) is bound afresh when a broker listens again, and
// fails then as it would have.
func (h *heldPorts) holdStopped(ports ...int) {
	if h == nil || !holdsWhileStopped {
		return
	}
	for _, p := range ports {
		_, _ = h.hold(p)
	}
}

// listen is kfake's ListenFn.
func (h *heldPorts) listen(network, address string) (net.Listener, error) {
	h.mu.Lock()
	r, ok := h.held[address]
	delete(h.held, address)
	h.mu.Unlock()
	if ok && network == "tcp" {
		return r.listen()
	}
	if ok {
		r.close()
	}
	return net.Listen(network, address)
}

// close lets go of the ports held. A nil heldPorts holds none.
func (h *heldPorts) close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for a, r := range h.held {
		r.close()
		delete(h.held, a)
	}
}
