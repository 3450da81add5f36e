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
	start, cpu := time.Now(), processCPU()
	time.Sleep(j.IdleFor)
	r := &IdleResult{Seconds: time.Since(start).Seconds(), CPUSeconds: (processCPU() - cpu).Seconds()}
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
