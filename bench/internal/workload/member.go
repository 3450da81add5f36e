package workload

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Group is the group mode: the runner is one member of a consumer group that reads
// Topic. It speaks its own line protocol (see Member), not the Result line.
const Group Mode = "group"

// TrickleMode is the producer that runs beside the group mode's members (Trickle).
const TrickleMode Mode = "trickle"

// Option adds to what Main can run.
type Option func(*options)

type options struct {
	group   func(*Member) error
	trickle func(*Trickle) (int64, error)
}

// WithTrickle gives the runner a trickle mode: Main runs produce for -mode trickle.
func WithTrickle(produce func(*Trickle) (int64, error)) Option {
	return func(o *options) { o.trickle = produce }
}

// Trickle is the trickle mode: while the group mode measures a rebalance, a producer
// writes Rate records a second to Topic, to each of its Partitions partitions in turn,
// so that a partition's new owner always has a record to fetch, whatever its
// predecessor committed. Protocol: the runner prints "ready", the driver says "go", the
// runner produces until the driver says "stop" (or closes stdin), then prints
// "stopped <ts> <records>" and exits.
type Trickle struct {
	Brokers    []string
	Partitions int
	Rate       int
	stop       chan struct{}
}

// Stopped is closed when the driver says "stop".
func (t *Trickle) Stopped() <-chan struct{} { return t.stop }

// runTrickle runs the trickle mode.
func runTrickle(client string, brokers []string, partitions, rate int, produce func(*Trickle) (int64, error)) error {
	if produce == nil {
		return fmt.Errorf("the %s runner has no trickle mode", client)
	}
	if rate <= 0 {
		return fmt.Errorf("-rate must be positive")
	}
	t := &Trickle{Brokers: brokers, Partitions: partitions, Rate: rate, stop: make(chan struct{})}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if line, err := in.ReadString('\n'); err != nil || strings.TrimSpace(line) != "go" {
		return fmt.Errorf("waiting for go: %q, %v", line, err)
	}
	go func() {
		defer close(t.stop)
		for {
			line, err := in.ReadString('\n')
			if err != nil || strings.TrimSpace(line) == "stop" {
				return
			}
		}
	}()
	n, err := produce(t)
	if err == nil {
		fmt.Printf("stopped %d %d\n", time.Now().UnixNano(), n)
	}
	return err
}

// WithGroup gives the runner a group mode: Main runs member for -mode group.
func WithGroup(member func(*Member) error) Option {
	return func(o *options) { o.group = member }
}

// Member is one process of the group mode: a member of group Group, reading Topic's
// Partitions partitions. Its protocol on stdin/stdout, one line each, timestamps in Unix
// nanoseconds of this machine's clock (every process of a run shares it):
//
//	runner -> driver   "ready"                      the process is up; no client yet
//	driver -> runner   "go"                         create the client and join
//	runner -> driver   "go <ts> <cpu-ns>"           the join starts (process CPU so far)
//	runner -> driver   "received <ts> p,p,..."      the client has an assignment in hand (Received)
//	runner -> driver   "assigned <ts> p,p,..."      the member now owns these partitions
//	runner -> driver   "revoking <ts> p,p,..."      the client's revoke callback starts (Revoking)
//	runner -> driver   "revoked <ts> p,p,..."       ... no longer owns these (revoked or lost)
//	runner -> driver   "released <ts> p,p,..."      the client has released revoked partitions (Released)
//	runner -> driver   "first <ts> <p> <rts>"       the first record of p since p was assigned, and
//	                                                that record's timestamp (Unix ns, ms precision)
//	runner -> driver   "end <ts> <p>"               a record at p's high watermark - 1 (once per p)
//	runner -> driver   "config <ts> <text>"         the client's configuration, for the report
//	driver -> runner   "mark"                       report the CPU time spent so far
//	runner -> driver   "cpu <ts> <cpu-ns> <records>" the process's CPU time and records received
//	driver -> runner   "leave"                      close the client (leaving the group) and exit
//	runner -> driver   "left <ts>"                  closed; the process exits next
//
// "first" is what fetching means in the group mode, the same for every client: a
// partition is being fetched by a member once a record of it has reached the member's
// user code after the member was assigned it. Assigned, Revoked and Batch are safe for
// concurrent use.
type Member struct {
	Brokers    []string
	Partitions int
	// Group is the group's name; Assignor is one of Assignors.
	Group    string
	Assignor string
	// Heartbeat is the heartbeat interval to give the client.
	Heartbeat time.Duration
	// Recycle: give each poll's records back to the client once counted (-recycle).
	Recycle bool

	job              *Job
	stopProfilesOnce sync.Once
	ctx              context.Context
	cancel           context.CancelFunc
	stdin            *bufio.Reader

	mu       sync.Mutex
	out      *bufio.Writer
	owned    []bool // per partition: assigned and not revoked since
	fetching []bool // per partition: owned and a record seen since
	ended    []bool // per partition: its last record seen (once per process)
	records  int64
}

// Assignors are the group mode's assignors: the classic protocol's range and
// cooperative-sticky (the group's leader assigns), and KIP848, the consumer protocol of
// KIP-848 with the coordinator's uniform assignor.
var Assignors = []string{"range", "cooperative-sticky", KIP848}

// KIP848 is the assignor name of the consumer protocol (KIP-848) with the coordinator's
// uniform assignor.
const KIP848 = "kip848"

// Describe reports the client's configuration, for the report.
func (m *Member) Describe(config string) { m.say("config", config) }

// Fail reports an error that does not end the member (a failed commit, say); the driver
// fails the run with it.
func (m *Member) Fail(err error) { m.say("error", strings.ReplaceAll(err.Error(), "\n", " ")) }

// Context ends when the driver says "leave": the runner then closes its client (which
// leaves the group) and returns from its member function.
func (m *Member) Context() context.Context { return m.ctx }

// Assigned reports partitions the member was given.
func (m *Member) Assigned(parts []int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range parts {
		if m.valid(p) {
			m.owned[p], m.fetching[p] = true, false
		}
	}
	m.line("assigned", list(parts))
}

// Revoked reports partitions the member gave up, revoked or lost.
func (m *Member) Revoked(parts []int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range parts {
		if m.valid(p) {
			m.owned[p], m.fetching[p] = false, false
		}
	}
	m.line("revoked", list(parts))
}

// Received reports an assignment the client has in hand, for a client whose assigned
// callback comes later (troupe's runs after it fetched the committed offsets; kgo's
// before, so kgo's runner does not call this): the assignment half of a rebalance is
// timed from it.
func (m *Member) Received(parts []int32) { m.say("received", list(parts)) }

// Revoking reports that the client's revoke callback started for parts: the client has
// told its user the partitions are going (for troupe, after it stopped fetching them and
// the user came back from the batches in hand; for kgo, as the callback begins).
func (m *Member) Revoking(parts []int32) { m.say("revoking", list(parts)) }

// Released reports that the client has released revoked partitions: what it commits on
// revocation is committed, and the partitions are no longer the member's.
func (m *Member) Released(parts []int32) { m.say("released", list(parts)) }

// Batch reports n records of partition p reaching the user, the first with timestamp
// firstTs, the last at offset last, with the partition's high watermark hwm as the
// fetch reported it.
func (m *Member) Batch(p int32, n int, firstTs time.Time, last, hwm int64) {
	if n == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records += int64(n)
	if !m.valid(p) {
		m.line("bad-partition", strconv.Itoa(int(p)))
		return
	}
	if m.owned[p] && !m.fetching[p] {
		m.fetching[p] = true
		m.line("first", strconv.Itoa(int(p))+" "+strconv.FormatInt(firstTs.UnixNano(), 10))
	}
	if !m.ended[p] && last+1 >= hwm {
		m.ended[p] = true
		m.line("end", strconv.Itoa(int(p)))
	}
}

func (m *Member) valid(p int32) bool { return p >= 0 && int(p) < m.Partitions }

// line writes one event line stamped with the time now; the caller holds m.mu.
func (m *Member) line(event, rest string) {
	fmt.Fprintf(m.out, "%s %d %s\n", event, time.Now().UnixNano(), rest)
	m.out.Flush()
}

func (m *Member) say(event, rest string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.line(event, rest)
}

func list(parts []int32) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

// runMember runs the group mode: the handshake, the member function, the commands. The
// job's -cpuprofile covers "go" to the first "mark" (the consume), and its -memprofile is
// written at that mark.
func runMember(client string, j *Job, member func(*Member) error) error {
	brokers, partitions := j.Brokers, j.Partitions
	fs := flag.CommandLine
	m := &Member{
		job:     j,
		Brokers: brokers, Partitions: partitions, Recycle: j.Recycle,
		Group:    fs.Lookup("group").Value.String(),
		Assignor: fs.Lookup("assignor").Value.String(),
		stdin:    bufio.NewReader(os.Stdin),
		out:      bufio.NewWriter(os.Stdout),
		owned:    make([]bool, partitions),
		fetching: make([]bool, partitions),
		ended:    make([]bool, partitions),
	}
	hb, err := time.ParseDuration(fs.Lookup("heartbeat").Value.String())
	if err != nil || hb <= 0 {
		return fmt.Errorf("-heartbeat: a positive duration, not %q", fs.Lookup("heartbeat").Value.String())
	}
	m.Heartbeat = hb
	if m.Group == "" {
		return fmt.Errorf("-group is required in the group mode")
	}
	if !slices.Contains(Assignors, m.Assignor) {
		return fmt.Errorf("-assignor: one of %v, not %q", Assignors, m.Assignor)
	}
	if member == nil {
		return fmt.Errorf("the %s runner has no group mode", client)
	}
	m.say("ready", "")
	if line, err := m.stdin.ReadString('\n'); err != nil || strings.TrimSpace(line) != "go" {
		return fmt.Errorf("waiting for go: %q, %v", line, err)
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	defer m.cancel()
	if err := j.startProfile(); err != nil {
		return err
	}
	defer m.stopProfilesOnce.Do(j.stopProfiles)
	m.say("go", strconv.FormatInt(int64(processCPU()), 10))
	go m.commands()
	err = member(m)
	m.say("left", "")
	return err
}

// commands answers the driver's commands until "leave" or the end of input, either of
// which ends the member's context.
func (m *Member) commands() {
	defer m.cancel()
	for {
		line, err := m.stdin.ReadString('\n')
		switch strings.TrimSpace(line) {
		case "mark":
			m.mu.Lock()
			m.line("cpu", fmt.Sprintf("%d %d", int64(processCPU()), m.records))
			m.mu.Unlock()
			m.stopProfilesOnce.Do(m.job.stopProfiles)
		case "leave":
			return
		}
		if err != nil {
			return
		}
	}
}
