package main

import (
	"slices"
)

// scenarioResult holds every run of one scenario, per client.
type scenarioResult struct {
	scenario
	clients []string
	runs    map[string][]measurement
	// preload is the run that wrote the consumers' records; stored is how many records
	// the topic then held. Consume scenarios only.
	preload measurement
	stored  int64
	// partitions and records are the topic's partition count and the records per run
	// of a scale point; zero in the usual mode (6 partitions, -records).
	partitions int
	records    int64
	// synthetic is the record count of the canned batch a scale point's consumers read
	// (kfake.SyntheticFetch); zero when they read what the preloader stored.
	synthetic int
}

func newScenarioResult(s scenario, clients []string) scenarioResult {
	return scenarioResult{scenario: s, clients: clients, runs: map[string][]measurement{}}
}

func (sr *scenarioResult) add(client string, m measurement) {
	sr.runs[client] = append(sr.runs[client], m)
}

// summary is one client's figures in one scenario: medians over its successful runs.
type summary struct {
	client, version, config string
	ok, failed              int
	firstErr                error

	recordsPerSecond float64
	cpuPerMillion    float64
	maxRSS           float64 // bytes
	recordsPerBatch  float64
	fetchRequests    float64
	brokerCPU        float64 // the broker process's CPU seconds per 1M records
	phaseCPU         float64 // CPU seconds per 1M records in the timed phase alone
	phaseSys         float64 // the kernel's part of phaseCPU (sys time)
	setupCPU         float64 // CPU seconds before "ready"
	setupSeconds     float64 // wall seconds before "ready"
	closeCPU         float64 // CPU seconds after the timed phase (and the idle watch)
	// The idle watch (idle mode): CPU seconds, live heap bytes and goroutines at its end.
	idleCPU, liveHeap, goroutines float64
	// spread is (max-min)/median of records/s over the runs: how noisy they were.
	spread float64
}

// summarize takes the medians of a client's runs. Each figure's median is taken on its
// own (the median CPU need not come from the median-throughput run).
func (sr *scenarioResult) summarize(client string) summary {
	s := summary{client: client}
	var rps, cpu, rss, rpb, fetches, broker []float64
	var phase, phaseSys, setup, setupWall, closing, idle, heap, gs []float64
	for _, m := range sr.runs[client] {
		if m.err != nil {
			s.failed++
			if s.firstErr == nil {
				s.firstErr = m.err
			}
			continue
		}
		s.ok++
		s.version, s.config = m.result.Version, m.result.Config
		rps = append(rps, m.recordsPerSecond())
		cpu = append(cpu, m.cpuPerMillion())
		rss = append(rss, float64(m.maxRSS))
		fetches = append(fetches, float64(m.broker.FetchRequests))
		phase = append(phase, m.phaseCPUPerMillion())
		phaseSys = append(phaseSys, m.phaseSysPerMillion())
		setup = append(setup, m.setupCPU())
		setupWall = append(setupWall, m.result.SetupSeconds)
		closing = append(closing, m.closeCPU())
		if i := m.result.Idle; i != nil {
			idle = append(idle, i.CPUSeconds)
			heap = append(heap, float64(i.LiveHeapBytes))
			gs = append(gs, float64(i.Goroutines))
		}
		if m.result.Records > 0 {
			broker = append(broker, m.broker.CPUSeconds*1e6/float64(m.result.Records))
		}
		if sr.mode == "consume" {
			rpb = append(rpb, ratio(sr.preload.broker.Records, sr.preload.broker.Batches))
		} else {
			rpb = append(rpb, ratio(m.broker.Records, m.broker.Batches))
		}
	}
	if s.ok == 0 {
		return s
	}
	s.recordsPerSecond = median(rps)
	s.cpuPerMillion = median(cpu)
	s.maxRSS = median(rss)
	s.recordsPerBatch = median(rpb)
	s.fetchRequests = median(fetches)
	s.brokerCPU = median(broker)
	s.phaseCPU = median(phase)
	s.phaseSys = median(phaseSys)
	s.setupCPU, s.setupSeconds, s.closeCPU = median(setup), median(setupWall), median(closing)
	s.idleCPU, s.liveHeap, s.goroutines = median(idle), median(heap), median(gs)
	if s.recordsPerSecond > 0 {
		s.spread = (slices.Max(rps) - slices.Min(rps)) / s.recordsPerSecond
	}
	return s
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// p90 is the 90th percentile of xs by nearest rank (the smallest value at least 90% of
// xs are at or below; with fewer than 10 values, the largest); 0 for none.
func p90(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(9*len(s)+9)/10-1]
}
