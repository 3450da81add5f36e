package main

// The scale mode (-scale): the producers and consumers of troupe and kgo at 6 to 10000
// partitions, and an idle producer and consumer of thousands of partitions. Its report is
// its own section of docs/benchmarks.md (scalereport.go) with charts of its own
// (scalechart.go).

import (
	"flag"
	"fmt"
	"log"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
)

// scaleOptions are the scale mode's flags.
type scaleOptions struct {
	on              bool
	partitionList   string
	partitions      []int
	perPartition    int64
	minRecords      int64
	storedMax       int
	scenarios       []scenario
	idle            time.Duration
	idlePartitions  int
	metadataRefresh time.Duration
	maxBuffered     int
	recycle         bool
}

// scaleScenarios are what the scale mode can measure (-modes).
var scaleScenarios = []scenario{
	{key: "blackhole", title: "produce, BlackholeProduce", mode: workload.Produce, blackhole: true},
	{key: "stored", title: "produce, stored", mode: workload.Produce},
	{key: "idle", title: "idle producer", mode: workload.Idle},
	{key: "consume", title: "consume", mode: workload.Consume},
	{key: "idle-consume", title: "idle consumer", mode: workload.IdleConsume},
}

// consumes reports whether sc's runs are consumers, which run against a broker prepared
// once per point (runScaleConsume).
func consumes(sc scenario) bool {
	return sc.mode == workload.Consume || sc.mode == workload.IdleConsume
}

// idles reports whether sc watches an idle client.
func idles(sc scenario) bool {
	return sc.mode == workload.Idle || sc.mode == workload.IdleConsume
}

// scaleClients are the clients whose runners take keyed records and the idle mode.
var scaleClients = []string{"troupe", "kgo", baseClient}

// scaleFlags declares the scale mode's flags.
func scaleFlags(s *scaleOptions) {
	flag.BoolVar(&s.on, "scale", false, "the scale mode: troupe's and kgo's producers and consumers at each of -partitions, and idle ones; see README.md")
	flag.StringVar(&s.partitionList, "partitions", "6,300,3000,10000", "scale mode: the partition counts, comma-separated")
	flag.Int64Var(&s.perPartition, "per-partition", 1000, "scale mode: records per partition in a run (a run has at least -min-records)")
	flag.Int64Var(&s.minRecords, "min-records", 1_000_000, "scale mode: the least records in a run, whatever the partition count")
	flag.IntVar(&s.storedMax, "stored-max", 3000, "scale mode: the stored mode runs only at partition counts up to this (kfake keeps every record in memory)")
	flag.DurationVar(&s.idle, "idle", 10*time.Second, "scale mode: how long the idle producer is watched")
	flag.IntVar(&s.idlePartitions, "idle-partitions", 3000, "scale mode: the idle producer's partitions (it writes one record to each first)")
	flag.DurationVar(&s.metadataRefresh, "metadata-refresh", 5*time.Minute, "scale mode: the metadata refresh interval given to every client")
	flag.BoolVar(&s.recycle, "recycle", false, "scale mode: every consumer gives each batch's records back to its client once counted (troupe Reader.Release; kgo WithPools with a PoolRecords and Record.Recycle): each client's opt-in reuse of record memory, off by default as in either client")
	flag.IntVar(&s.maxBuffered, "max-buffered", 0, "scale mode: the cap on buffered records given to every client (0: each runner's usual setting: troupe's default, 20000 or 10 per partition above 2000 partitions; kgo 100000)")
}

// scaleOnly are the flags that only the scale mode reads.
var scaleOnly = []string{"partitions", "per-partition", "min-records", "stored-max", "idle", "idle-partitions", "metadata-refresh", "max-buffered", "recycle"}

// checkScaleFlags refuses flags that the chosen mode would ignore (set holds the flags
// given on the command line).
func checkScaleFlags(scale bool, set map[string]bool) error {
	if scale && set["records"] {
		return fmt.Errorf("-records does not apply to -scale: use -per-partition and -min-records")
	}
	if !scale {
		for _, f := range scaleOnly {
			if set[f] {
				return fmt.Errorf("-%s applies only with -scale", f)
			}
		}
	}
	return nil
}

// scaleDefaults applies the scale mode's defaults to the flags not given (names and
// modes are the raw -clients and -modes) and checks them.
func (o *options) scaleDefaults(set map[string]bool, names, modes string) error {
	s := &o.scale
	quick := set["quick"] // -quick set records and runs for the usual mode: redo it here
	if !set["runs"] {
		o.runs = 5
		if quick {
			o.runs = 1
		}
	}
	if quick {
		if !set["partitions"] {
			s.partitionList = "6,300"
		}
		if !set["per-partition"] {
			s.perPartition = 200
		}
		if !set["min-records"] {
			s.minRecords = 0
		}
		if !set["idle"] {
			s.idle = 2 * time.Second
		}
		if !set["idle-partitions"] {
			s.idlePartitions = 300
		}
	}
	if !set["clients"] {
		names = "troupe,kgo"
		if o.base != "" {
			names += "," + baseClient
		}
	}
	if !set["modes"] {
		modes = "blackhole,stored,idle,consume,idle-consume"
	}
	if !set["timeout"] {
		o.timeout = 15 * time.Minute
	}
	if o.runs <= 0 || s.perPartition < 0 || s.minRecords < 0 || s.idlePartitions <= 0 || s.idle <= 0 || s.maxBuffered < 0 || s.metadataRefresh < 0 {
		return fmt.Errorf("-runs, -idle-partitions and -idle must be positive; -per-partition, -min-records, -max-buffered and -metadata-refresh not negative")
	}
	s.partitions = nil
	for _, f := range strings.Split(s.partitionList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("-partitions: %q is not a positive partition count", f)
		}
		s.partitions = append(s.partitions, n)
	}
	o.clients = nil
	for _, n := range strings.Split(names, ",") {
		if !contains(scaleClients, n) {
			return fmt.Errorf("-scale: client %q has no scale mode (keyed records, idle); use %s", n, strings.Join(scaleClients[:2], ","))
		}
		o.clients = append(o.clients, n)
	}
	for _, m := range strings.Split(modes, ",") {
		found := false
		for _, sc := range scaleScenarios {
			if sc.key == m {
				s.scenarios = append(s.scenarios, sc)
				found = true
			}
		}
		if !found {
			return fmt.Errorf("-scale: unknown mode %q (blackhole, stored, idle, consume, idle-consume)", m)
		}
	}
	if !contains(scaleClients, o.preloader) {
		return fmt.Errorf("-scale: the preloader %q cannot write keyed records; use kgo or troupe", o.preloader)
	}
	if s.records(s.partitions[0]) <= 0 {
		return fmt.Errorf("-scale: -per-partition and -min-records give no records")
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// records is the records per run at n partitions.
func (s scaleOptions) records(n int) int64 {
	return max(s.minRecords, s.perPartition*int64(n))
}

// measures reports whether scenario sc runs at n partitions.
func (s scaleOptions) measures(sc scenario, n int) bool {
	return !(sc.key == "stored" && n > s.storedMax)
}

// runScale runs the scale mode and returns every point measured, in the report's order.
// The producer points run in o.runs rounds, each of every point with every client, the
// clients' order rotating from round to round, each run on a fresh broker. Then each
// consume point runs its rounds against one broker: preloaded once, or synthetic.
func runScale(o options, bins string) ([]*scenarioResult, error) {
	s := o.scale
	var points, produce []*scenarioResult
	for _, sc := range s.scenarios {
		counts := s.partitions
		if idles(sc) {
			counts = []int{s.idlePartitions}
		}
		for _, n := range counts {
			if !s.measures(sc, n) {
				continue
			}
			sr := newScenarioResult(sc, o.clients)
			sr.partitions, sr.records = n, s.records(n)
			switch {
			case idles(sc):
				sr.records = int64(n)
			case sc.mode == workload.Consume && n > s.storedMax:
				sr.synthetic = int(min(max(s.perPartition, 1), 10_000))
			}
			points = append(points, &sr)
			if !consumes(sc) {
				produce = append(produce, &sr)
			}
		}
	}
	for r := range o.runs {
		for _, sr := range produce {
			for i := range o.clients {
				c := o.clients[(i+r)%len(o.clients)]
				b, err := startBroker(bins, brokerOptions{blackhole: sr.blackhole, partitions: sr.partitions}, o.verbose)
				if err != nil {
					return nil, err
				}
				m := runClient(o.scaleJob(bins, c, sr, r), b)
				if err := b.stop(); err != nil {
					return nil, fmt.Errorf("stopping the broker: %w", err)
				}
				sr.add(c, m)
				logScaleRun(sr, r, o.runs, c, m)
			}
		}
	}
	for _, sr := range points {
		if consumes(sr.scenario) {
			if err := runScaleConsume(o, bins, sr); err != nil {
				return nil, err
			}
		}
	}
	return points, nil
}

// runScaleConsume runs one consume or idle-consume point: a broker that either the
// preloader fills with the point's records (keyed, so every partition holds its share;
// for the idle consumer one record per partition) or that answers every fetch from a
// canned batch (sr.synthetic), then o.runs rounds of every client's consumer against it.
func runScaleConsume(o options, bins string, sr *scenarioResult) error {
	b, err := startBroker(bins, brokerOptions{partitions: sr.partitions, synthetic: sr.synthetic}, o.verbose)
	if err != nil {
		return err
	}
	defer b.stop()
	sr.stored = sr.records
	if sr.synthetic == 0 {
		j := o.scaleJob(bins, o.preloader, sr, 0)
		j.mode, j.idle, j.cpuprofile, j.memprofile = workload.Produce, 0, "", ""
		j.spread = sr.mode == workload.IdleConsume
		pre := runClient(j, b)
		if pre.err != nil {
			return fmt.Errorf("preloading %d partitions with %s: %w", sr.partitions, o.preloader, pre.err)
		}
		st, err := b.stats()
		if err != nil {
			return err
		}
		sr.preload, sr.stored = pre, st.TotalRecords
		log.Printf("%s, %d partitions: preloaded %d records (%d incl. the warm-up record) with %s in %d batches, %.1f records per batch",
			sr.title, sr.partitions, pre.result.Records, st.TotalRecords, o.preloader, pre.broker.Batches, ratio(pre.broker.Records, pre.broker.Batches))
	} else {
		// A synthetic broker's first consumer pays for its warming up: at 10000 partitions
		// the first run of an invocation cost the broker 12–17 CPU-s against 1–5 for the
		// others, and its client two to three times the CPU of the later runs, whichever
		// client it was (2026-12-08). One unmeasured run by the preloader warms it, as the
		// preload does a stored broker.
		j := o.scaleJob(bins, o.preloader, sr, 0)
		j.records, j.cpuprofile, j.memprofile = sr.stored, "", ""
		if w := runClient(j, b); w.err != nil {
			return fmt.Errorf("warming the synthetic broker of %d partitions with %s: %w", sr.partitions, o.preloader, w.err)
		}
		log.Printf("%s, %d partitions: warmed the synthetic broker with one unmeasured %s run", sr.title, sr.partitions, o.preloader)
	}
	for r := range o.runs {
		for i := range o.clients {
			c := o.clients[(i+r)%len(o.clients)]
			j := o.scaleJob(bins, c, sr, r)
			j.records = sr.stored
			m := runClient(j, b)
			sr.add(c, m)
			logScaleRun(sr, r, o.runs, c, m)
		}
	}
	return nil
}

// pointKey names one point of the scale mode.
func pointKey(sc scenario, partitions int) string {
	return fmt.Sprintf("%s-%d", sc.key, partitions)
}

// scaleJob is the runner invocation of client c in run r at point sr.
func (o options) scaleJob(bins, c string, sr *scenarioResult, r int) runJob {
	s := o.scale
	j := runJob{
		bins: bins, client: binary(c), mode: sr.mode, records: sr.records, timeout: o.timeout, verbose: o.verbose,
		partitions: sr.partitions, keyed: true, metadataRefresh: s.metadataRefresh, maxBuffered: s.maxBuffered,
		recycle: s.recycle,
	}
	if idles(sr.scenario) {
		j.idle = s.idle
	}
	name := fmt.Sprintf("scale-%s-%s-%d.pprof", pointKey(sr.scenario, sr.partitions), binary(c), r+1)
	if o.cpuprofile != "" {
		j.cpuprofile = filepath.Join(o.cpuprofile, name)
	}
	if o.memprofile != "" { // named apart, so that one directory can take both profiles
		j.memprofile = filepath.Join(o.memprofile, strings.TrimSuffix(name, ".pprof")+".heap.pprof")
	}
	return j
}

// logScaleRun prints one run's figures as it ends.
func logScaleRun(sr *scenarioResult, r, runs int, c string, m measurement) {
	what := fmt.Sprintf("%s, %d partitions", sr.title, sr.partitions)
	switch {
	case m.err != nil:
		log.Printf("%-40s run %d/%d  %-11s FAILED: %v", what, r+1, runs, c, m.err)
	case sr.mode == workload.Consume:
		log.Printf("%-40s run %d/%d  %-11s %6.3fM records/s  %5.2f CPU-s/1M (timed phase; %s)  %6.1f MiB peak RSS  %6d fetch requests  (broker %.2f CPU-s)",
			what, r+1, runs, c, m.recordsPerSecond()/1e6, m.phaseCPUPerMillion(), m.phaseView(), mib(m.maxRSS), m.broker.FetchRequests, m.broker.CPUSeconds)
	case m.result.Idle != nil:
		i := m.result.Idle
		log.Printf("%-40s run %d/%d  %-11s %7.1f CPU-ms in %.0fs idle  %6.1f MiB live heap  %5d goroutines  %6.1f MiB peak RSS  (setup %.3f CPU-s, %.2fs; the runtime's view of the watch: %d KiB allocated, %d GCs, GC %.1f CPU-ms, scavenger %.1f CPU-ms)",
			what, r+1, runs, c, 1000*i.CPUSeconds, i.Seconds, mib(int64(i.LiveHeapBytes)), i.Goroutines, mib(m.maxRSS), m.setupCPU(), m.result.SetupSeconds,
			i.AllocBytes>>10, i.GCCycles, 1000*i.GCCPUSeconds, 1000*i.ScavengeSeconds)
	default:
		log.Printf("%-40s run %d/%d  %-11s %6.3fM records/s  %5.2f CPU-s/1M (timed phase; %s)  %6.1f MiB peak RSS  %6.1f records/batch  setup %.3f CPU-s (%.2fs)  close %.3f CPU-s  (broker %.2f CPU-s)",
			what, r+1, runs, c, m.recordsPerSecond()/1e6, m.phaseCPUPerMillion(), m.phaseView(), mib(m.maxRSS), ratio(m.broker.Records, m.broker.Batches),
			m.setupCPU(), m.result.SetupSeconds, m.closeCPU(), m.broker.CPUSeconds)
	}
}
