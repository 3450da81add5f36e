package workload

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// IdleResult is what MeasureIdle saw of a producer or a consumer with nothing to do.
type IdleResult struct {
	// Seconds is how long the producer was watched; CPUSeconds the process's user+sys
	// CPU time meanwhile: what the client's timers, tickers and refreshes cost.
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// LiveHeapBytes is the heap a garbage collection at the end of the watch found live
	// (runtime/metrics /gc/heap/live:bytes): the client's state for its partitions, plus
	// the runner's few MiB (value and key slabs), the same for every client.
	LiveHeapBytes uint64 `json:"live_heap_bytes"`
	// Goroutines is runtime.NumGoroutine() then, the runner's main goroutine included.
	Goroutines int `json:"goroutines"`
	// What the runtime says of the watch: bytes allocated, garbage collections and the
	// GC's CPU (PhaseRuntime), and the CPU seconds of the scavenger (which returns freed
	// memory to the OS, in the background, after the collection that starts the watch).
	// What the client's own code allocates while idle shows in AllocBytes; a collection
	// or the scavenger's work can make a watch cost a millisecond more than another
	// without the client doing anything.
	PhaseRuntime
	ScavengeSeconds float64 `json:"scavenge_cpu_seconds"`
}

// PhaseRuntime is the Go runtime's view of a run's timed phase, or of an idle watch
// (runtime/metrics deltas; its CPU classes are estimates). A client that keeps a small
// live heap makes the collector run more often for the same garbage (the caller's
// records are most of it): the collections' count and CPU say how much of the phase's
// CPU that is.
type PhaseRuntime struct {
	AllocBytes   uint64  `json:"alloc_bytes"`
	GCCycles     uint64  `json:"gc_cycles"`
	GCCPUSeconds float64 `json:"gc_cpu_seconds"`
}

// set fills r from the samples (idleMetrics) at the phase's start and end.
func (r *PhaseRuntime) set(before, after []metrics.Sample) {
	r.AllocBytes, r.GCCycles, r.GCCPUSeconds = deltaUint(before, after, 0), deltaUint(before, after, 1), deltaFloat(before, after, 2)
}

// idleMetrics are the runtime/metrics samples IdleResult's runtime fields come from (and
// PhaseRuntime's).
func idleMetrics() []metrics.Sample {
	return []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/scavenge/total:cpu-seconds"},
	}
}

// setRuntime fills r's runtime fields from the samples before and after the watch.
func (r *IdleResult) setRuntime(before, after []metrics.Sample) {
	r.PhaseRuntime.set(before, after)
	r.ScavengeSeconds = deltaFloat(before, after, 3)
}

// deltaUint and deltaFloat are how much sample i grew from before to after (zero if the
// runtime does not have it).
func deltaUint(before, after []metrics.Sample, i int) uint64 {
	if after[i].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return after[i].Value.Uint64() - before[i].Value.Uint64()
}

func deltaFloat(before, after []metrics.Sample, i int) float64 {
	if after[i].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return after[i].Value.Float64() - before[i].Value.Float64()
}

// MeasureIdle watches the idle client for IdleFor: call it in the Idle and IdleConsume
// modes after Finish, with the client still open (a consumer still polling, as a user
// waiting for records would). It collects garbage first, so the watch does not pay for
// the work before it, then reads the process's CPU time before and after, then collects
// again and reads the live heap and the goroutine count. In other modes, and once it has
// measured, it does nothing.
func (j *Job) MeasureIdle() {
	if j.Mode != Idle && j.Mode != IdleConsume || j.idle != nil {
		return
	}
	runtime.GC()
	_ = j.startProfile() // a profile that cannot be written is not the watch's failure
	before, after := idleMetrics(), idleMetrics()
	metrics.Read(before)
	start, cpu := time.Now(), processCPU()
	time.Sleep(j.IdleFor)
	r := &IdleResult{Seconds: time.Since(start).Seconds(), CPUSeconds: (processCPU() - cpu).Seconds()}
	metrics.Read(after)
	r.setRuntime(before, after)
	runtime.GC()
	defer j.stopProfiles() // after the live heap is read: its writing allocates
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	if live[0].Value.Kind() == metrics.KindUint64 {
		r.LiveHeapBytes = live[0].Value.Uint64()
	} else {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		r.LiveHeapBytes = ms.HeapAlloc
	}
	r.Goroutines = runtime.NumGoroutine()
	j.idle = r
}
