package workload

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// Mode is what a run measures.
type Mode string

// The modes a runner supports. Whether the broker stores produced records or discards
// them (kfake.BlackholeProduce) is the broker's business: a runner produces the same way.
const (
	Produce Mode = "produce"
	Consume Mode = "consume"
	// Idle produces one record to each partition (Records is the partition count), then
	// measures the open producer doing nothing (Job.MeasureIdle).
	Idle Mode = "idle"
	// IdleConsume consumes the job's records (one per partition), then measures the
	// consumer, caught up and still polling, doing nothing (Job.MeasureIdle).
	IdleConsume Mode = "idle-consume"
)

// Job is one run of one client, as the driver asked for it on the command line, plus the
// clock of its timed phase. Runners call Ready once set up, then Finish once the work is
// done; Main does the rest.
type Job struct {
	// Mode is Produce or Consume.
	Mode Mode
	// Brokers are the seed addresses of the cluster.
	Brokers []string
	// Records is how many records to produce, or to consume before stopping.
	Records int
	// Partitions is the topic's partition count (the broker seeds the topic).
	Partitions int
	// Keyed says records carry keys (Key) for the client to partition with murmur2;
	// otherwise they have none and the client partitions round robin.
	Keyed bool
	// Spread keys record i for partition i (modulo Partitions), so that the first
	// Partitions records reach every partition once, as in the Idle mode.
	Spread bool
	// MetadataRefresh is the metadata refresh interval to give the client; zero leaves
	// the client's default.
	MetadataRefresh time.Duration
	// MaxBuffered caps the records the client buffers; zero leaves the runner's usual
	// setting.
	MaxBuffered int
	// Recycle makes a consumer give each batch's records back to its client once
	// counted, through the client's opt-in reuse of record memory.
	Recycle bool
	// IdleFor is how long MeasureIdle watches the idle producer.
	IdleFor time.Duration

	client     string
	module     string
	cpuprofile string
	memprofile string
	profile    *os.File
	config     string
	start, end time.Time
	cpuStart   time.Duration // process CPU time at start
	cpuEnd     time.Duration
	sysStart   time.Duration // the kernel's part of it
	sysEnd     time.Duration
	rtStart    []metrics.Sample // the runtime's view at start (idleMetrics)
	phase      PhaseRuntime
	stdin      *bufio.Reader
	keys       *KeySet

	setupStart    time.Time     // once the flags are parsed and the keys chosen
	setupCPUStart time.Duration // process CPU time then
	setup         time.Duration // from setupStart to ready
	setupCPU      time.Duration
	idle          *IdleResult
}

// Result is the line a runner prints when it is done; the driver parses it.
type Result struct {
	Client  string `json:"client"`
	Version string `json:"version"`
	Mode    Mode   `json:"mode"`
	// Records and Bytes (of values) the timed phase produced and had acknowledged, or
	// consumed.
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	// Seconds is the wall time from "go" to the last acknowledgement, or to the last
	// record consumed.
	Seconds float64 `json:"seconds"`
	// PhaseCPUSeconds is the process's user+sys CPU time during the same phase (the
	// driver measures the whole process's too, from its rusage at exit).
	PhaseCPUSeconds float64 `json:"phase_cpu_seconds"`
	// PhaseSysCPUSeconds is the part of PhaseCPUSeconds spent in the kernel (rusage's
	// sys time): socket reads and writes, page faults, the runtime giving memory back.
	PhaseSysCPUSeconds float64 `json:"phase_sys_cpu_seconds"`
	// SetupSeconds and SetupCPUSeconds are the wall and CPU time from the runner's
	// start to its "ready": creating the client, connecting, metadata, the warm-up.
	SetupSeconds    float64 `json:"setup_seconds"`
	SetupCPUSeconds float64 `json:"setup_cpu_seconds"`
	// Runtime is the Go runtime's view of the same phase.
	Runtime PhaseRuntime `json:"runtime"`
	// Idle is what Job.MeasureIdle measured (Idle mode only).
	Idle *IdleResult `json:"idle,omitempty"`
	// Config describes the client's configuration in this run, for the report.
	Config string `json:"config"`
	// Error is empty on success.
	Error string `json:"error,omitempty"`
}

// Main parses the runner's flags (for the client named client, whose Go module is module)
// and runs produce or consume, then prints the Result line. It exits with status 1 when
// the run failed, after printing the Result with its Error.
//
// With WithGroup, -mode group runs the member function instead, under the group mode's
// own protocol (Member); it exits with status 1 after an "error" line when it fails.
func Main(client, module string, produce, consume func(*Job, *Tally) error, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	j := &Job{client: client, module: module, stdin: bufio.NewReader(os.Stdin)}
	mode := flag.String("mode", "", "produce or consume")
	brokers := flag.String("brokers", "", "comma-separated seed addresses")
	flag.IntVar(&j.Records, "records", 1_000_000, "records to produce, or to consume before stopping")
	flag.IntVar(&j.Partitions, "partitions", Partitions, "the topic's partition count")
	flag.BoolVar(&j.Keyed, "keyed", false, "give records keys, partitioned by murmur2 (otherwise no keys, round robin)")
	flag.BoolVar(&j.Spread, "spread", false, "with -keyed: key record i for partition i (one record per partition in turn)")
	flag.DurationVar(&j.MetadataRefresh, "metadata-refresh", 0, "the client's metadata refresh interval (0: the client's default)")
	flag.IntVar(&j.MaxBuffered, "max-buffered", 0, "the client's cap on buffered records (0: the runner's usual setting)")
	flag.BoolVar(&j.Recycle, "recycle", false, "consumers: give each batch's records back to the client once counted")
	flag.DurationVar(&j.IdleFor, "idle", 10*time.Second, "how long the idle mode watches the idle producer")
	flag.StringVar(&j.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed phase (idle modes: of the idle watch) to `file`")
	flag.StringVar(&j.memprofile, "memprofile", "", "write a heap profile to `file` at the end of the timed phase (idle modes: of the live heap after the idle watch, sampled every 4 KiB)")
	flag.String("group", "", "group mode: the consumer group's name")
	flag.String("assignor", "range", "group mode: range, cooperative-sticky or kip848 (the consumer protocol, KIP-848, with the coordinator's uniform assignor)")
	flag.String("heartbeat", "250ms", "group mode: the heartbeat interval")
	rate := flag.Int("rate", 20000, "trickle mode: records per second")
	flag.Parse()
	j.Mode = Mode(*mode)
	if j.idles() && j.memprofile != "" {
		// The idle heap is a few MiB: the default rate (a sample per 512 KiB) would
		// show a handful of allocation sites.
		runtime.MemProfileRate = 4096
	}
	j.Brokers = strings.Split(*brokers, ",")
	if j.Mode == Group || j.Mode == TrickleMode {
		run := func() error { return runMember(client, j, o.group) }
		if j.Mode == TrickleMode {
			run = func() error { return runTrickle(client, j.Brokers, j.Partitions, *rate, o.trickle) }
		}
		if err := run(); err != nil {
			fmt.Printf("error %d %s\n", time.Now().UnixNano(), strings.ReplaceAll(err.Error(), "\n", " "))
			os.Exit(1)
		}
		return
	}

	var err error
	if j.Partitions <= 0 || j.Records <= 0 || j.IdleFor < 0 {
		err = fmt.Errorf("-partitions and -records must be positive, -idle not negative")
	}
	if j.Keyed && err == nil {
		j.keys = NewKeySet(j.Partitions)
	}
	j.setupStart, j.setupCPUStart = time.Now(), processCPU()
	tally := newTally(j.Records)
	switch {
	case err != nil:
	case *brokers == "":
		err = fmt.Errorf("-brokers is required")
	case j.Mode == Produce:
		err = produce(j, tally)
	case j.Mode == Idle:
		if err = produce(j, tally); err == nil && j.idle == nil {
			err = fmt.Errorf("the %s runner has no idle mode (it does not call Job.MeasureIdle)", client)
		}
	case j.Mode == Consume:
		err = consume(j, tally)
	case j.Mode == IdleConsume:
		if err = consume(j, tally); err == nil && j.idle == nil {
			err = fmt.Errorf("the %s runner has no idle consume mode (it does not call Job.MeasureIdle)", client)
		}
	default:
		err = fmt.Errorf("-mode must be produce, idle, consume or idle-consume, not %q", *mode)
	}
	j.Finish()
	records, bytes := tally.Counts()
	res := Result{
		Client:  client,
		Version: moduleVersion(module),
		Mode:    j.Mode,
		Records: records,
		Bytes:   bytes,
		Seconds: j.end.Sub(j.start).Seconds(),
		Config:  j.config,
		Idle:    j.idle,
		Runtime: j.phase,

		PhaseCPUSeconds:    (j.cpuEnd - j.cpuStart).Seconds(),
		PhaseSysCPUSeconds: (j.sysEnd - j.sysStart).Seconds(),
		SetupSeconds:       j.setup.Seconds(),
		SetupCPUSeconds:    j.setupCPU.Seconds(),
	}
	if err == nil {
		err = tally.Err()
	}
	if err != nil {
		res.Error = err.Error()
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	if err != nil {
		os.Exit(1)
	}
}

// Describe records the client's configuration for the report: the settings that matter
// for the comparison, in the client's own terms.
func (j *Job) Describe(config string) { j.config = config }

// Ready tells the driver the runner is set up and waits for its "go"; the timed phase
// (and the CPU profile, if asked for) starts when Ready returns.
func (j *Job) Ready() error {
	j.setup, j.setupCPU = time.Since(j.setupStart), processCPU()-j.setupCPUStart
	fmt.Println("ready")
	line, err := j.stdin.ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for go: %w", err)
	}
	if strings.TrimSpace(line) != "go" {
		return fmt.Errorf("waiting for go: got %q", line)
	}
	if !j.idles() {
		if err := j.startProfile(); err != nil {
			return err
		}
	}
	j.rtStart = idleMetrics()
	metrics.Read(j.rtStart)
	j.cpuStart, j.sysStart = processCPUSplit()
	j.start = time.Now()
	return nil
}

// idles reports whether the job watches an idle client; its profiles are then of the
// idle watch (MeasureIdle), not of the timed phase.
func (j *Job) idles() bool { return j.Mode == Idle || j.Mode == IdleConsume }

// startProfile starts the CPU profile, if one is asked for.
func (j *Job) startProfile() error {
	if j.cpuprofile == "" {
		return nil
	}
	f, err := os.Create(j.cpuprofile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	j.profile = f
	return nil
}

// stopProfiles ends the CPU profile and writes the heap profile, if asked for.
func (j *Job) stopProfiles() {
	if j.profile != nil {
		pprof.StopCPUProfile()
		j.profile.Close()
		j.profile = nil
	}
	if j.memprofile != "" {
		if f, err := os.Create(j.memprofile); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
}

// Finish ends the timed phase: call it once every record is acknowledged or consumed,
// before closing the client. Later calls do nothing.
func (j *Job) Finish() {
	if !j.end.IsZero() || j.start.IsZero() {
		return
	}
	j.end = time.Now()
	j.cpuEnd, j.sysEnd = processCPUSplit()
	end := idleMetrics()
	metrics.Read(end)
	j.phase.set(j.rtStart, end)
	if !j.idles() {
		j.stopProfiles()
	}
}

// Key returns the key of record i: nil unless Keyed; in Idle mode or with Spread a key
// of partition i, so that the records 0 to Partitions-1 reach every partition once.
// Callers must not modify it.
func (j *Job) Key(i int) []byte {
	switch {
	case j.keys == nil:
		return nil
	case j.Mode == Idle || j.Spread:
		return j.keys.ForPartition(i)
	}
	return j.keys.Key(i)
}

// processCPU is the user+sys CPU time of this process (all its threads) so far.
func processCPU() time.Duration {
	cpu, _ := processCPUSplit()
	return cpu
}

// processCPUSplit is processCPU and the part of it spent in the kernel (sys).
func processCPUSplit() (cpu, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano())
}

// moduleVersion is the version of module linked into this binary, with the replacement
// noted when a replace directive points elsewhere (troupe is built from the checkout).
func moduleVersion(module string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range info.Deps {
		if m.Path != module {
			continue
		}
		if m.Replace != nil {
			return "local checkout (replace => " + m.Replace.Path + ")"
		}
		return m.Version
	}
	return "unknown"
}
