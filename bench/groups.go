package main

// The group mode (-groups): N members of one consumer group, each a process of its own,
// over a topic of P partitions preloaded with records; troupe's members against kgo's.
// A run measures the time until every partition is being fetched after the members start
// (join), after one of them leaves (leave) and after a new one joins the running group
// (join into), and the CPU and throughput of the members reading every record. The
// report is its own section of docs/benchmarks.md (groupreport.go).

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
)

// groupOptions are the group mode's flags.
type groupOptions struct {
	on         bool
	partitions []int
	members    []int
	assignors  []string
	records    int64
	heartbeat  time.Duration
	settle     time.Duration
	trickle    int // records per second written during the leave and join-into phases
	cycles     int // leave and join-into phases per run
	section    string
	events     bool // keep every run's events in a file (dump), not only a failed run's
	recycle    bool // members give their records back once counted (as the scale mode's -recycle)
}

// groupClients are the clients whose runners have a group mode.
var groupClients = []string{"troupe", "kgo", baseClient}

// groupOnly are the flags that only the group mode reads.
var groupOnly = []string{"group-partitions", "members", "assignors", "group-records", "heartbeat", "settle", "trickle", "cycles", "group-section", "group-events", "group-recycle"}

// groupFlag is the raw text of the list flags.
type groupFlagText struct{ partitions, members, assignors string }

var groupText groupFlagText

func groupFlags(g *groupOptions) {
	flag.BoolVar(&g.on, "groups", false, "the group mode: troupe's and kgo's group members join, leave and consume; see README.md")
	flag.StringVar(&groupText.partitions, "group-partitions", "300,3000", "group mode: the topic's partition counts, comma-separated")
	flag.StringVar(&groupText.members, "members", "3,10", "group mode: the group sizes, comma-separated")
	flag.StringVar(&groupText.assignors, "assignors", "range,cooperative-sticky", "group mode: the assignors (both clients use the same one), comma-separated: range, cooperative-sticky, kip848 (the consumer protocol of KIP-848, the coordinator's uniform assignor)")
	flag.IntVar(&g.cycles, "cycles", 1, "group mode: leave and join-into phases per run (each one rebalance trial of each kind)")
	flag.BoolVar(&g.recycle, "group-recycle", false, "group mode: every member gives each poll's records back to its client once counted (troupe Member.Release; kgo WithPools with a PoolRecords and Record.Recycle), as the scale mode's -recycle")
	flag.BoolVar(&g.events, "group-events", false, "group mode: write every run's events (the members' lines, in time order) to a file next to the runner binaries, and log its name")
	flag.StringVar(&g.section, "group-section", "groups", "group mode: the section of docs/benchmarks.md written, between the bench-<name>:begin and bench-<name>:end markers")
	flag.Int64Var(&g.records, "group-records", 1_000_000, "group mode: records preloaded (keyed, the same share in every partition)")
	flag.DurationVar(&g.heartbeat, "heartbeat", 250*time.Millisecond, "group mode: the heartbeat interval given to every member")
	flag.IntVar(&g.trickle, "trickle", 20000, "group mode: records per second kgo writes over every partition in turn during the leave and join-into phases, so that a partition's new owner has a record to fetch")
	flag.DurationVar(&g.settle, "settle", 2*time.Second, "group mode: how long the group must stay fetching every partition, with no assignment changing, for a phase to end")
}

// groupDefaults checks the group mode's flags and applies its defaults to the flags not
// given (names is the raw -clients).
func (o *options) groupDefaults(set map[string]bool, names string) error {
	g := &o.groups
	for _, f := range []string{"records", "partitions", "per-partition", "min-records", "modes"} {
		if set[f] {
			return fmt.Errorf("-%s does not apply to -groups", f)
		}
	}
	if set["quick"] {
		if !set["group-partitions"] {
			groupText.partitions = "300"
		}
		if !set["members"] {
			groupText.members = "3"
		}
		if !set["assignors"] {
			groupText.assignors = "range"
		}
		if !set["group-records"] {
			g.records = 100_000
		}
	}
	if !set["runs"] && set["quick"] {
		o.runs = 1
	}
	if !set["timeout"] {
		o.timeout = 5 * time.Minute
	}
	if !set["clients"] {
		names = "troupe,kgo"
		if o.base != "" {
			names += "," + baseClient
		}
	}
	var err error
	if g.partitions, err = positives("-group-partitions", groupText.partitions); err != nil {
		return err
	}
	if g.members, err = positives("-members", groupText.members); err != nil {
		return err
	}
	for _, a := range strings.Split(groupText.assignors, ",") {
		if !contains(workload.Assignors, a) {
			return fmt.Errorf("-assignors: one of %v, not %q", workload.Assignors, a)
		}
		g.assignors = append(g.assignors, a)
	}
	for _, n := range g.members {
		for _, p := range g.partitions {
			if n+1 > p {
				return fmt.Errorf("-members %d: a group of %d (and one joining) needs at least as many partitions, not %d", n, n+1, p)
			}
		}
	}
	if o.runs <= 0 || g.records <= 0 || g.heartbeat <= 0 || g.settle <= 0 || g.trickle <= 0 || g.cycles <= 0 {
		return fmt.Errorf("-runs, -group-records, -heartbeat, -settle, -trickle and -cycles must be positive")
	}
	if g.section == "" || strings.ContainsAny(g.section, " \n>") {
		return fmt.Errorf("-group-section: a name without spaces, not %q", g.section)
	}
	o.clients = nil
	for _, n := range strings.Split(names, ",") {
		if !contains(groupClients, n) {
			return fmt.Errorf("-groups: client %q has no group mode; use troupe,kgo", n)
		}
		o.clients = append(o.clients, n)
	}
	if !contains(scaleClients, o.preloader) {
		return fmt.Errorf("-groups: the preloader %q cannot write keyed records; use kgo or troupe", o.preloader)
	}
	return nil
}

func positives(name, list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive count", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// groupPoint is one configuration measured: partitions, members, assignor.
type groupPoint struct {
	partitions, members int
	assignor            string
	runs                map[string][]groupRun
}

// groupRun is what one run of one client yields.
type groupRun struct {
	join time.Duration // until every partition is fetched
	// One per cycle (-cycles): until every partition is fetched again after a member
	// leaves, and after one joins.
	leave, joinInto []time.Duration
	// One per cycle: the longest from an assignment to its first record, less the wait
	// for a record to exist (fetchLag).
	leaveLag, joinIntoLag []time.Duration
	// One per cycle: the longest from a revoke callback's start to the client's release
	// of those partitions (revokeLag); -1 when nothing was revoked in the phase.
	leaveRevoke, joinIntoRevoke []time.Duration
	peakRSS                     int64         // the largest peak RSS of the members that consumed (bytes)
	consume                     time.Duration // from go to the last partition's last record
	cpu                         time.Duration // the members' CPU time from go to the mark after the consume
	records                     int64         // records the members received until the mark (re-reads included)
	stored                      int64         // records the topic held at the start of the run: the preload and its warm-up record
	config                      string
	err                         error
}

// runGroups runs the group mode: per round, every point with every client, the
// clients' order rotating from round to round; every run on a fresh broker, preloaded.
func runGroups(o options, bins string) ([]*groupPoint, error) {
	g := o.groups
	var points []*groupPoint
	for _, parts := range g.partitions {
		for _, a := range g.assignors {
			for _, n := range g.members {
				points = append(points, &groupPoint{partitions: parts, members: n, assignor: a, runs: map[string][]groupRun{}})
			}
		}
	}
	for r := range o.runs {
		for _, pt := range points {
			for i := range o.clients {
				c := o.clients[(i+r)%len(o.clients)]
				b, err := preloadedBroker(o, bins, pt.partitions, o.groups.heartbeat)
				if err != nil {
					return nil, err
				}
				gr := runGroup(o, bins, b, pt, c, fmt.Sprintf("bench-%s-%d-%d-%s-%d", binary(c), pt.partitions, pt.members, pt.assignor, r))
				if err := b.stop(); err != nil {
					return nil, fmt.Errorf("stopping the broker: %w", err)
				}
				pt.runs[c] = append(pt.runs[c], gr)
				logGroupRun(pt, r, o.runs, c, gr)
			}
		}
	}
	return points, nil
}

// preloadedBroker starts a broker of a topic of parts partitions and fills it with the
// preloader's keyed records (the same share in every partition).
func preloadedBroker(o options, bins string, parts int, heartbeat time.Duration) (*broker, error) {
	b, err := startBroker(bins, brokerOptions{partitions: parts, groupHeartbeat: heartbeat}, o.verbose)
	if err != nil {
		return nil, err
	}
	j := runJob{bins: bins, client: binary(o.preloader), mode: workload.Produce, records: o.groups.records, timeout: o.timeout,
		verbose: o.verbose, partitions: parts, keyed: true}
	if pre := runClient(j, b); pre.err != nil {
		b.stop()
		return nil, fmt.Errorf("preloading %d partitions with %s: %w", parts, o.preloader, pre.err)
	}
	return b, nil
}

func logGroupRun(pt *groupPoint, r, runs int, c string, gr groupRun) {
	what := fmt.Sprintf("group %s, %d partitions, %d members", pt.assignor, pt.partitions, pt.members)
	if gr.err != nil {
		log.Printf("%-52s run %d/%d  %-11s FAILED: %v", what, r+1, runs, c, gr.err)
		return
	}
	secs := func(ds []time.Duration) string {
		var b strings.Builder
		for i, d := range ds {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%.3f", d.Seconds())
		}
		return b.String()
	}
	log.Printf("%-52s run %d/%d  %-11s join %6.3fs  leave %ss (assigned to first fetch %ss, revoke to release %ss)  join into %ss (%ss, %ss)  consume %6.3fM records/s  %5.2f CPU-s/1M  (%.2fx records received)  peak RSS %.0f MiB",
		what, r+1, runs, c, gr.join.Seconds(), secs(gr.leave), secs(gr.leaveLag), secs(gr.leaveRevoke), secs(gr.joinInto), secs(gr.joinIntoLag), secs(gr.joinIntoRevoke),
		float64(gr.stored)/gr.consume.Seconds()/1e6, gr.cpu.Seconds()*1e6/float64(gr.stored), float64(gr.records)/float64(gr.stored), float64(gr.peakRSS)/(1<<20))
}

// memberEvent is one line of a member (workload.Member), or one of the driver's own
// events: "live" (the driver said go), "leave" (the driver said leave), "exit" (the
// member's output ended).
type memberEvent struct {
	member  int
	kind    string
	ts      int64 // Unix nanoseconds
	parts   []int32
	rts     int64 // "first": the record's timestamp, Unix nanoseconds (0: not given)
	cpu     int64 // "go", "cpu": process CPU nanoseconds
	records int64 // "cpu"
	text    string
}

// groupState is a run in progress: its member processes and every event so far.
type groupState struct {
	o       options
	bins    string
	broker  *broker
	pt      *groupPoint
	client  string
	group   string
	procs   []*proc
	trickle *proc
	events  chan memberEvent
	log     []memberEvent
	goCPU   map[int]int64
	markCPU map[int]int64
	records map[int]int64
	ended   map[int32]int64 // partition -> the first "end" seen
	config  string
}

// runGroup is one run of client c at point pt, in group group.
func runGroup(o options, bins string, b *broker, pt *groupPoint, c, group string) (gr groupRun) {
	s := &groupState{o: o, bins: bins, broker: b, pt: pt, client: c, group: group, events: make(chan memberEvent, 1024),
		goCPU: map[int]int64{}, markCPU: map[int]int64{}, records: map[int]int64{}, ended: map[int32]int64{}}
	defer func() {
		s.teardown()
		gr.peakRSS = s.peakRSS(pt.members)
		if o.groups.events && gr.err == nil {
			log.Printf("%s: events in %s", group, s.dumpIn(os.TempDir())) // bins is removed at the end
		}
	}()
	deadline := time.Now().Add(o.timeout)
	fail := func(err error) groupRun {
		gr.err = fmt.Errorf("%w (the run's events: %s)", err, s.dump())
		return gr
	}
	st, err := b.stats()
	if err != nil {
		return fail(err)
	}
	gr.stored = st.TotalRecords
	for range pt.members {
		if err := s.start(deadline); err != nil {
			return fail(err)
		}
	}
	// From here on kgo writes records to every partition in turn: whatever the members
	// committed, a partition's next owner has a record to fetch.
	if err := s.startTrickle(deadline); err != nil {
		return fail(err)
	}
	// Join, with the consume of every record.
	t0 := s.now()
	for i := range s.procs {
		s.driver(i, "live", t0)
		if err := s.procs[i].send("go"); err != nil {
			return fail(err)
		}
	}
	marked := false
	settled, err := s.wait(t0, deadline, func() bool {
		if len(s.ended) == pt.partitions && !marked {
			marked = true
			for _, p := range s.procs {
				_ = p.send("mark")
			}
		}
		return marked && len(s.markCPU) == len(s.procs)
	})
	if err != nil {
		return fail(fmt.Errorf("join: %w", err))
	}
	gr.join = settled
	var last int64
	for _, ts := range s.ended {
		last = max(last, ts)
	}
	gr.consume = time.Duration(last - t0)
	for i := range s.procs {
		gr.cpu += time.Duration(s.markCPU[i] - s.goCPU[i])
		gr.records += s.records[i]
	}
	for range o.groups.cycles {
		// Leave: the last member closes.
		leaver := len(s.procs) - 1
		t1 := s.now()
		s.driver(leaver, "leave", t1)
		if err := s.procs[leaver].send("leave"); err != nil {
			return fail(err)
		}
		leave, err := s.wait(t1, deadline, nil)
		if err != nil {
			return fail(fmt.Errorf("leave: %w", err))
		}
		gr.leave = append(gr.leave, leave)
		gr.leaveLag = append(gr.leaveLag, fetchLag(s.log, pt.partitions, t1))
		gr.leaveRevoke = append(gr.leaveRevoke, revokeLag(s.log, t1))
		// Join into the running group: a new member.
		if err := s.start(deadline); err != nil {
			return fail(err)
		}
		joiner := len(s.procs) - 1
		t2 := s.now()
		s.driver(joiner, "live", t2)
		if err := s.procs[joiner].send("go"); err != nil {
			return fail(err)
		}
		into, err := s.wait(t2, deadline, nil)
		if err != nil {
			return fail(fmt.Errorf("join into: %w", err))
		}
		gr.joinInto = append(gr.joinInto, into)
		gr.joinIntoLag = append(gr.joinIntoLag, fetchLag(s.log, pt.partitions, t2))
		gr.joinIntoRevoke = append(gr.joinIntoRevoke, revokeLag(s.log, t2))
	}
	if err := s.stopTrickle(); err != nil {
		return fail(err)
	}
	gr.config = s.config
	return gr
}

// dump writes the run's events, in time order, to a file next to the binaries and
// returns its name.
func (s *groupState) dump() string { return s.dumpIn(s.bins) }

// dumpIn writes the run's events, in time order, to a new file in dir and returns its
// name.
func (s *groupState) dumpIn(dir string) string {
	f, err := os.CreateTemp(dir, s.group+"-*.events")
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	for _, e := range sorted(s.log) {
		fmt.Fprintf(f, "%d member %d %s %v %s\n", e.ts, e.member, e.kind, e.parts, e.text)
	}
	return f.Name()
}

func (s *groupState) now() int64 { return time.Now().UnixNano() }

// driver logs one of the driver's own events.
func (s *groupState) driver(member int, kind string, ts int64) {
	s.log = append(s.log, memberEvent{member: member, kind: kind, ts: ts})
}

// startTrickle starts kgo's trickle producer (workload.Trickle) and says go to it.
func (s *groupState) startTrickle(deadline time.Time) error {
	args := []string{"-mode", string(workload.TrickleMode), "-brokers", s.broker.addrs, "-partitions", strconv.Itoa(s.pt.partitions),
		"-rate", strconv.Itoa(s.o.groups.trickle)}
	p, err := start("kgo trickle", s.bins+"/"+binary(baseline), args, s.o.verbose)
	if err != nil {
		return err
	}
	s.trickle = p
	line, err := p.readLine(time.Until(deadline))
	if err != nil {
		return err
	}
	if line != "ready" {
		return fmt.Errorf("kgo trickle: expected ready, got %q", line)
	}
	return p.send("go")
}

// stopTrickle stops the trickle producer and checks that it wrote without errors.
func (s *groupState) stopTrickle() error {
	p := s.trickle
	s.trickle = nil
	if err := p.send("stop"); err != nil {
		p.kill()
		return err
	}
	line, err := p.readLine(30 * time.Second)
	if err == nil && !strings.HasPrefix(line, "stopped ") {
		err = fmt.Errorf("kgo trickle: %s", line)
	}
	if werr := p.wait(10 * time.Second); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		p.kill()
	}
	return err
}

// start starts one member process and waits for its "ready".
func (s *groupState) start(deadline time.Time) error {
	i := len(s.procs)
	args := []string{"-mode", string(workload.Group), "-brokers", s.broker.addrs, "-partitions", strconv.Itoa(s.pt.partitions),
		"-group", s.group, "-assignor", s.pt.assignor, "-heartbeat", s.o.groups.heartbeat.String()}
	if s.o.groups.recycle {
		args = append(args, "-recycle")
	}
	if i < s.pt.members { // the members that consume: profiles of the consume (go to mark)
		if s.o.cpuprofile != "" {
			args = append(args, "-cpuprofile", filepath.Join(s.o.cpuprofile, fmt.Sprintf("%s-m%d.pprof", s.group, i)))
		}
		if s.o.memprofile != "" {
			args = append(args, "-memprofile", filepath.Join(s.o.memprofile, fmt.Sprintf("%s-m%d.heap.pprof", s.group, i)))
		}
	}
	p, err := start(fmt.Sprintf("%s member %d", s.client, i), s.bins+"/"+binary(s.client), args, s.o.verbose)
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	line, err := p.readLine(time.Until(deadline))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "ready") {
		return fmt.Errorf("%s: expected ready, got %q; stderr:\n%s", p.name, line, lastLines(p.errs.String(), 20))
	}
	go s.forward(i, p)
	return nil
}

// forward parses member i's lines into s.events until its output ends.
func (s *groupState) forward(i int, p *proc) {
	for line := range p.lines {
		s.events <- parseMemberLine(i, line)
	}
	s.events <- memberEvent{member: i, kind: "exit", ts: time.Now().UnixNano()}
}

// parseMemberLine parses "<kind> <ts> <rest>"; a line that does not parse becomes an
// "error" event carrying it.
func parseMemberLine(i int, line string) memberEvent {
	f := strings.SplitN(line, " ", 3)
	e := memberEvent{member: i, kind: "error", text: line}
	if len(f) < 2 {
		return e
	}
	ts, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return e
	}
	rest := ""
	if len(f) == 3 {
		rest = f[2]
	}
	e.kind, e.ts, e.text = f[0], ts, rest
	switch e.kind {
	case "assigned", "revoked", "revoking", "released", "received":
		for _, x := range strings.Split(rest, ",") {
			if x == "" {
				continue
			}
			n, err := strconv.Atoi(x)
			if err != nil {
				return memberEvent{member: i, kind: "error", text: line}
			}
			e.parts = append(e.parts, int32(n))
		}
	case "first", "end":
		f := strings.Fields(rest)
		if len(f) == 0 || (e.kind == "end" && len(f) > 1) || len(f) > 2 {
			return memberEvent{member: i, kind: "error", text: line}
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return memberEvent{member: i, kind: "error", text: line}
		}
		e.parts = []int32{int32(n)}
		if len(f) == 2 {
			if e.rts, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				return memberEvent{member: i, kind: "error", text: line}
			}
		}
	case "go", "cpu":
		var r []int64
		for _, x := range strings.Fields(rest) {
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return memberEvent{member: i, kind: "error", text: line}
			}
			r = append(r, n)
		}
		if len(r) > 0 {
			e.cpu = r[0]
		}
		if len(r) > 1 {
			e.records = r[1]
		}
	}
	return e
}

// wait reads events until the group has settled after from: every partition fetched by a
// live member, every live member owning a partition, no assignment changing for the
// settle period, and more() (if given) true. more is called after every event; the
// group is replayed every settle/8. It returns how long after from the group
// last came to fetch every partition (settledAt).
func (s *groupState) wait(from int64, deadline time.Time, more func() bool) (time.Duration, error) {
	tick := time.NewTicker(s.o.groups.settle / 8)
	defer tick.Stop()
	lastChange := time.Now()
	for {
		select {
		case e := <-s.events:
			if err := s.apply(e); err != nil {
				return 0, err
			}
			if e.kind == "assigned" || e.kind == "revoked" {
				lastChange = time.Now()
			}
			if more != nil {
				more() // at once: it sends the mark, which stops the consume's CPU count
			}
			// The group is replayed on ticks only: a replay sorts every event so far, and
			// doing it per event (thousands of "first" lines at 3000 partitions) took the
			// driver seconds of CPU on the members' cores, and minutes behind them.
			continue
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("not settled within %v; %s", s.o.timeout, s.describe(from))
		}
		if more != nil && !more() {
			continue
		}
		at, ok := settledAt(s.log, s.pt.partitions, from)
		if ok && time.Since(lastChange) >= s.o.groups.settle {
			return time.Duration(at - from), nil
		}
	}
}

// apply records one event.
func (s *groupState) apply(e memberEvent) error {
	switch e.kind {
	case "error":
		return fmt.Errorf("%s member %d: %s; stderr:\n%s", s.client, e.member, e.text, lastLines(s.procs[e.member].errs.String(), 20))
	case "exit":
		if !s.left(e.member) {
			return fmt.Errorf("%s member %d exited unasked; stderr:\n%s", s.client, e.member, lastLines(s.procs[e.member].errs.String(), 20))
		}
	case "config":
		s.config = e.text
	case "go":
		s.goCPU[e.member] = e.cpu
	case "cpu":
		s.markCPU[e.member], s.records[e.member] = e.cpu, e.records
	case "end":
		if _, ok := s.ended[e.parts[0]]; !ok {
			s.ended[e.parts[0]] = e.ts
		}
	}
	s.log = append(s.log, e)
	return nil
}

// left reports whether the driver told member i to leave.
func (s *groupState) left(i int) bool {
	for _, e := range s.log {
		if e.member == i && e.kind == "leave" {
			return true
		}
	}
	return false
}

// describe says what the group looks like now, for a timeout's error.
func (s *groupState) describe(from int64) string {
	st := replay(s.log, s.pt.partitions, time.Now().UnixNano())
	unowned, unfetched := 0, 0
	for p := range st.owner {
		if st.owner[p] < 0 {
			unowned++
		} else if !st.fetching[p] {
			unfetched++
		}
	}
	return fmt.Sprintf("%d partitions unowned, %d owned but not fetched, %d live members of which %d own none", unowned, unfetched, len(st.live), st.idleMembers())
}

// groupView is the group as the events so far describe it.
type groupView struct {
	owner    []int  // per partition: the live member owning it, or -1
	fetching []bool // per partition: its owner has received a record of it since it was assigned
	owns     map[int]int
	live     map[int]bool
}

func (v *groupView) idleMembers() int {
	n := 0
	for m := range v.live {
		if v.owns[m] == 0 {
			n++
		}
	}
	return n
}

// all reports whether every partition is being fetched by a live member and every live
// member owns a partition: the group is fetching everything.
func (v *groupView) all() bool {
	for p := range v.owner {
		if v.owner[p] < 0 || !v.fetching[p] {
			return false
		}
	}
	return v.idleMembers() == 0
}

func (v *groupView) drop(m, p int) {
	if v.owner[p] == m {
		v.owner[p], v.fetching[p] = -1, false
		v.owns[m]--
	}
}

// apply moves the view by one event.
func (v *groupView) apply(e memberEvent) {
	switch e.kind {
	case "live":
		v.live[e.member] = true
	case "leave":
		delete(v.live, e.member)
		for p := range v.owner {
			v.drop(e.member, p)
		}
	}
	if !v.live[e.member] {
		return
	}
	switch e.kind {
	case "assigned":
		for _, p := range e.parts {
			if int(p) >= len(v.owner) {
				continue
			}
			if o := v.owner[p]; o >= 0 {
				v.drop(o, int(p)) // assigned before its old owner reported the revoke
			}
			v.owner[p], v.fetching[p] = e.member, false
			v.owns[e.member]++
		}
	case "revoked":
		for _, p := range e.parts {
			if int(p) < len(v.owner) {
				v.drop(e.member, int(p))
			}
		}
	case "first":
		if p := e.parts[0]; int(p) < len(v.owner) && v.owner[p] == e.member {
			v.fetching[p] = true
		}
	}
}

// replay applies the events up to time until in time order.
func replay(log []memberEvent, partitions int, until int64) *groupView {
	v := &groupView{owner: make([]int, partitions), fetching: make([]bool, partitions), owns: map[int]int{}, live: map[int]bool{}}
	for p := range v.owner {
		v.owner[p] = -1
	}
	for _, e := range sorted(log) {
		if e.ts > until {
			break
		}
		v.apply(e)
	}
	return v
}

func sorted(log []memberEvent) []memberEvent {
	s := slices.Clone(log)
	slices.SortStableFunc(s, func(a, b memberEvent) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	return s
}

// settledAt replays the events in time order and returns the last time at or after from
// when the group came to fetch every partition (groupView.all), and whether it fetches
// every partition after the last event. Events are timestamped by each member's process
// from the one machine clock, so their order across members is the order they happened.
func settledAt(log []memberEvent, partitions int, from int64) (int64, bool) {
	v := &groupView{owner: make([]int, partitions), fetching: make([]bool, partitions), owns: map[int]int{}, live: map[int]bool{}}
	for p := range v.owner {
		v.owner[p] = -1
	}
	was, at := false, from
	for _, e := range sorted(log) {
		v.apply(e)
		now := v.all()
		if now && !was && e.ts >= from {
			at = e.ts
		}
		was = now
	}
	return at, was
}

// fetchLag replays the events in time order and returns, over the partitions assigned
// at or after from, the longest time from a member's assignment of a partition to its
// first record of it: the part of a rebalance the member controls once the coordinator
// has spoken (its committed offsets, its first fetches), counted from the member's
// "received" of the partition when it reported one before its "assigned" (troupe's
// assigned callback comes after the committed offsets), else from its "assigned". A record that did not exist yet
// when the partition was assigned (the trickle's next one) could not be fetched before
// its timestamp, so the time is counted from the later of the assignment and the
// record's timestamp (which has millisecond precision: the lag may read up to 1 ms
// long).
func fetchLag(log []memberEvent, partitions int, from int64) time.Duration {
	v := &groupView{owner: make([]int, partitions), fetching: make([]bool, partitions), owns: map[int]int{}, live: map[int]bool{}}
	for p := range v.owner {
		v.owner[p] = -1
	}
	assignedAt := make([]int64, partitions)
	type rec struct {
		member int
		ts     int64
	}
	receivedAt := map[int32]rec{}
	var lag int64
	for _, e := range sorted(log) {
		v.apply(e)
		if e.ts < from || !v.live[e.member] {
			continue
		}
		switch e.kind {
		case "received":
			for _, p := range e.parts {
				receivedAt[p] = rec{e.member, e.ts}
			}
		case "assigned":
			for _, p := range e.parts {
				if int(p) < partitions {
					assignedAt[p] = e.ts
					if r, ok := receivedAt[p]; ok && r.member == e.member {
						assignedAt[p] = r.ts
					}
					delete(receivedAt, p)
				}
			}
		case "first":
			if p := e.parts[0]; int(p) < partitions && v.owner[p] == e.member && assignedAt[p] > 0 {
				lag = max(lag, e.ts-max(assignedAt[p], e.rts))
			}
		}
	}
	return time.Duration(lag)
}

// revokeLag returns, over the revocations whose callback started at or after from, the
// longest time from a member's "revoking" (its revoke callback starts) to its next
// "released" (the client has committed and released those partitions); -1 when no
// revocation in the phase was released.
func revokeLag(log []memberEvent, from int64) time.Duration {
	started := map[int]int64{}
	lag := int64(-1)
	for _, e := range sorted(log) {
		if e.ts < from {
			continue
		}
		switch e.kind {
		case "revoking":
			if _, ok := started[e.member]; !ok {
				started[e.member] = e.ts
			}
		case "released":
			if t, ok := started[e.member]; ok {
				lag = max(lag, e.ts-t)
				delete(started, e.member)
			}
		}
	}
	return time.Duration(lag)
}

// peakRSS is the largest peak RSS of the first n members (those that consumed), once
// they have exited.
func (s *groupState) peakRSS(n int) int64 {
	var peak int64
	for i, p := range s.procs {
		if i >= n {
			break
		}
		select {
		case <-p.done:
			_, rss := p.usage()
			peak = max(peak, rss)
		default:
		}
	}
	return peak
}

// teardown tells every member still running to leave and waits until every member's
// output has ended, killing those still running after ten seconds.
func (s *groupState) teardown() {
	if s.trickle != nil {
		_ = s.stopTrickle()
	}
	for i, p := range s.procs {
		if !s.left(i) {
			_ = p.send("leave")
		}
	}
	exited := 0
	for _, e := range s.log {
		if e.kind == "exit" {
			exited++
		}
	}
	kill := time.NewTimer(10 * time.Second)
	defer kill.Stop()
	for exited < len(s.procs) {
		select {
		case e := <-s.events:
			if e.kind == "exit" {
				exited++
			}
		case <-kill.C:
			for _, p := range s.procs {
				select {
				case <-p.done:
				default:
					log.Printf("%s did not leave within 10s: killed", p.name)
					_ = p.cmd.Process.Kill()
				}
			}
		}
	}
	for _, p := range s.procs {
		<-p.done
	}
}
