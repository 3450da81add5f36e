// Command bench runs troupe's producer and consumer side by side with franz-go's kgo,
// IBM's sarama and segmentio's kafka-go against a kfake cluster in a separate process,
// and writes the median figures to docs/benchmarks.md with a chart (docs/benchmarks.svg).
//
// Run it from bench/:
//
//	go run .                           # the full run: 1M records, 3 runs per client and mode
//	go run . -quick                    # a sanity run: 100k records, 1 run, docs left alone
//	go run . -runs 5 -cpuprofile prof  # more runs; CPU profiles of every client run
//	go run . -rev HEAD                 # troupe as committed, not the working tree
//	go run . -base HEAD -clients troupe,kgo -docs ''   # A/B: the working tree against HEAD
//	go run . -scale                    # troupe and kgo at 6 to 10000 partitions (scale.go)
//	go run . -scale -quick             # its smoke run: 6 and 300 partitions, docs left alone
//
// Every client runs in a process of its own (bench/cmd/<client>), so that its CPU time
// (user+sys) and peak RSS can be read from the process's rusage; the broker
// (bench/cmd/kfakebroker) runs in another, restarted for every producer run, and counts
// the record batches it receives so records per batch are measured the same way for
// every client. See README.md.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/troupe-go/troupe/bench/internal/workload"
)

// scenario is one column group of the report: a mode and how the broker treats produced
// records.
type scenario struct {
	key       string // flag value and file-name part
	title     string
	mode      workload.Mode
	blackhole bool
}

var scenarios = []scenario{
	{key: "stored", title: "produce, stored", mode: workload.Produce},
	{key: "blackhole", title: "produce, BlackholeProduce", mode: workload.Produce, blackhole: true},
	{key: "consume", title: "consume", mode: workload.Consume},
}

// clients maps the names used on the command line and in reports to runner binaries.
var clients = []struct{ name, bin string }{
	{"troupe", "troupe"},
	{"kgo", "kgo"},
	{"sarama", "sarama"},
	{"kafka-go", "kafkago"},
}

// options are the command line.
type options struct {
	records    int64
	runs       int
	clients    []string
	scenarios  []scenario
	preloader  string
	docs       string
	cpuprofile string
	memprofile string
	rev        string
	base       string // also run troupe built from this revision, as client baseClient
	timeout    time.Duration
	verbose    bool
	args       string // the command line's arguments, for the report
	scale      scaleOptions
	groups     groupOptions
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	o, err := parseFlags()
	if err != nil {
		log.Fatal(err)
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func parseFlags() (options, error) {
	var o options
	var names, modes string
	quick := flag.Bool("quick", false, "a sanity run: -records 100000 -runs 1, and docs are not written (unless -docs is given)")
	flag.Int64Var(&o.records, "records", 1_000_000, "records per run")
	flag.IntVar(&o.runs, "runs", 3, "runs per client and mode; the report gives medians")
	flag.StringVar(&names, "clients", "troupe,kgo,sarama,kafka-go", "clients to run, comma-separated (kgo is the baseline of the ratios)")
	flag.StringVar(&modes, "modes", "stored,blackhole,consume", "what to measure, comma-separated: stored, blackhole (producers), consume")
	flag.StringVar(&o.preloader, "preloader", "kgo", "the client that writes the records every consumer reads")
	flag.StringVar(&o.docs, "docs", "../docs", "directory of benchmarks.md and benchmarks.svg to update; empty: print only")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of every client run's timed phase into `dir`")
	flag.StringVar(&o.memprofile, "memprofile", "", "write a heap profile at the end of every client run's timed phase into `dir`")
	flag.StringVar(&o.rev, "rev", "", "build troupe from this git `revision` (e.g. HEAD) instead of the working tree")
	flag.StringVar(&o.base, "base", "", "also run troupe built from this git `revision`, as client "+baseClient+", in the same invocation (an A/B comparison); docs are not written unless -docs is given")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "longest a client run may take before it is killed (with a goroutine dump)")
	flag.BoolVar(&o.verbose, "v", false, "copy the runners' and the broker's stderr to ours")
	scaleFlags(&o.scale)
	groupFlags(&o.groups)
	flag.Parse()
	for _, a := range os.Args[1:] {
		o.args += " " + a
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["records"] {
			o.records = 100_000
		}
		if !set["runs"] {
			o.runs = 1
		}
		if !set["docs"] {
			o.docs = ""
		}
	}
	if o.base != "" {
		clients = append(clients, struct{ name, bin string }{baseClient, baseBinary})
		names += "," + baseClient
		if !set["docs"] {
			o.docs = ""
		}
	}
	if err := checkScaleFlags(o.scale.on, set); err != nil {
		return o, err
	}
	if o.scale.on && o.groups.on {
		return o, fmt.Errorf("-scale and -groups are separate modes: give one")
	}
	if !o.groups.on {
		for _, f := range groupOnly {
			if set[f] {
				return o, fmt.Errorf("-%s applies only with -groups", f)
			}
		}
	}
	if o.groups.on {
		return o, o.groupDefaults(set, names)
	}
	if o.scale.on {
		return o, o.scaleDefaults(set, names, modes)
	}
	if o.records <= 0 || o.runs <= 0 {
		return o, fmt.Errorf("-records and -runs must be positive")
	}
	for _, n := range strings.Split(names, ",") {
		if binary(n) == "" {
			return o, fmt.Errorf("unknown client %q", n)
		}
		o.clients = append(o.clients, n)
	}
	if binary(o.preloader) == "" {
		return o, fmt.Errorf("unknown preloader %q", o.preloader)
	}
	for _, m := range strings.Split(modes, ",") {
		found := false
		for _, s := range scenarios {
			if s.key == m {
				o.scenarios = append(o.scenarios, s)
				found = true
			}
		}
		if !found {
			return o, fmt.Errorf("unknown mode %q", m)
		}
	}
	return o, nil
}

// baseClient and baseBinary name troupe built from -base's revision.
const (
	baseClient = "troupe@base"
	baseBinary = "troupe-base"
)

// binary is the runner binary of the named client, or "" if there is none.
func binary(client string) string {
	for _, c := range clients {
		if c.name == client {
			return c.bin
		}
	}
	return ""
}

// run builds the runners, runs every scenario and reports.
func run(o options) error {
	if _, err := os.Stat("cmd/kfakebroker"); err != nil {
		return fmt.Errorf("run me from bench/ (go run .): %w", err)
	}
	for _, dir := range []string{o.cpuprofile, o.memprofile} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	bins, err := os.MkdirTemp("", "troupe-bench-")
	if err != nil {
		return err
	}
	log.Printf("building the broker and the client runners into %s", bins)
	env := describeMachine()
	if env.troupe, err = buildRunners(bins, o.rev); err != nil {
		return err
	}
	if o.base != "" {
		if env.base, err = buildBase(bins, o.base); err != nil {
			return err
		}
	}
	from := env.troupe
	if env.base != "" {
		from += ", " + baseClient + " from " + env.base
	}
	if o.groups.on {
		log.Printf("%s; troupe from %s; group mode, %d runs per client and point", env.summary(), from, o.runs)
		return groups(o, bins, env)
	}
	if o.scale.on {
		log.Printf("%s; troupe from %s; scale mode, %d runs per client and point", env.summary(), from, o.runs)
		return scale(o, bins, env)
	}
	log.Printf("%s; troupe from %s; %d records per run, %d runs per client and mode", env.summary(), from, o.records, o.runs)

	rep := &report{opts: o, env: env, started: time.Now()}
	for _, s := range o.scenarios {
		var sr scenarioResult
		var err error
		if s.mode == workload.Consume {
			sr, err = runConsume(o, s, bins)
		} else {
			sr, err = runProduce(o, s, bins)
		}
		if err != nil {
			return err
		}
		rep.results = append(rep.results, sr)
	}
	rep.finished = time.Now()
	rep.env.loadEnd = loadAverage()
	fmt.Println()
	fmt.Println(rep.tables())
	if o.docs != "" {
		if err := rep.write(o.docs); err != nil {
			return err
		}
		log.Printf("wrote %s and %s", filepath.Join(o.docs, "benchmarks.md"), filepath.Join(o.docs, "benchmarks.svg"))
	}
	if n := rep.failures(); n > 0 {
		return fmt.Errorf("%d runs failed; the runner binaries and the failed runs' stderr are in %s", n, bins)
	}
	return os.RemoveAll(bins)
}

// runProduce runs every client's producer o.runs times, each run on a fresh broker. The
// client order rotates from run to run, so slow drift of the machine's load spreads over
// all clients.
func runProduce(o options, s scenario, bins string) (scenarioResult, error) {
	sr := newScenarioResult(s, o.clients)
	for r := range o.runs {
		for i := range o.clients {
			c := o.clients[(i+r)%len(o.clients)]
			b, err := startBroker(bins, brokerOptions{blackhole: s.blackhole}, o.verbose)
			if err != nil {
				return sr, err
			}
			m := runClient(o.job(bins, c, s, r, o.records), b)
			if err := b.stop(); err != nil {
				return sr, fmt.Errorf("stopping the broker: %w", err)
			}
			sr.add(c, m)
			logRun(s, r, o.runs, c, m)
		}
	}
	return sr, nil
}

// runConsume preloads one broker with the preloader's records, then runs every client's
// consumer o.runs times against it (consumers change nothing on the broker: no group, no
// commits).
func runConsume(o options, s scenario, bins string) (scenarioResult, error) {
	sr := newScenarioResult(s, o.clients)
	b, err := startBroker(bins, brokerOptions{}, o.verbose)
	if err != nil {
		return sr, err
	}
	defer b.stop()
	pre := runClient(runJob{bins: bins, client: binary(o.preloader), mode: workload.Produce, records: o.records, timeout: o.timeout, verbose: o.verbose}, b)
	if pre.err != nil {
		return sr, fmt.Errorf("preloading with %s: %w", o.preloader, pre.err)
	}
	st, err := b.stats()
	if err != nil {
		return sr, err
	}
	sr.preload = pre
	sr.stored = st.TotalRecords
	log.Printf("consume: preloaded %d records (%d incl. the warm-up record) with %s in %d batches, %.0f records per batch",
		pre.result.Records, st.TotalRecords, o.preloader, pre.broker.Batches, ratio(pre.broker.Records, pre.broker.Batches))
	for r := range o.runs {
		for i := range o.clients {
			c := o.clients[(i+r)%len(o.clients)]
			m := runClient(o.job(bins, c, s, r, st.TotalRecords), b)
			sr.add(c, m)
			logRun(s, r, o.runs, c, m)
		}
	}
	return sr, nil
}

// job is the runner invocation of client c in run r of scenario s.
func (o options) job(bins, c string, s scenario, r int, records int64) runJob {
	j := runJob{bins: bins, client: binary(c), mode: s.mode, records: records, timeout: o.timeout, verbose: o.verbose}
	name := fmt.Sprintf("%s-%s-%d.pprof", s.key, binary(c), r+1)
	if o.cpuprofile != "" {
		j.cpuprofile = filepath.Join(o.cpuprofile, name)
	}
	if o.memprofile != "" { // named apart, so that one directory can take both profiles
		j.memprofile = filepath.Join(o.memprofile, strings.TrimSuffix(name, ".pprof")+".heap.pprof")
	}
	return j
}

func logRun(s scenario, r, runs int, c string, m measurement) {
	if m.err != nil {
		log.Printf("%-26s run %d/%d  %-8s FAILED: %v", s.title, r+1, runs, c, m.err)
		return
	}
	extra := fmt.Sprintf("%6.0f records/batch", ratio(m.broker.Records, m.broker.Batches))
	if s.mode == workload.Consume {
		extra = fmt.Sprintf("%6d fetch requests", m.broker.FetchRequests)
	}
	log.Printf("%-26s run %d/%d  %-8s %6.3fM records/s  %5.2f CPU-s/1M (timed phase %4.2f)  %6.1f MiB peak RSS  %s  (broker %.2f CPU-s)",
		s.title, r+1, runs, c, m.recordsPerSecond()/1e6, m.cpuPerMillion(), m.phaseCPUPerMillion(), mib(m.maxRSS), extra, m.broker.CPUSeconds)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
