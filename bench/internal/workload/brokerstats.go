package workload

// BrokerStats is the JSON line bench/cmd/kfakebroker answers to "stats": what the broker
// saw since its counters were last reset (the driver resets them when a runner is
// ready, so warm-up traffic is not counted).
type BrokerStats struct {
	// ProduceRequests, Batches and Records count Produce requests, the record batches in
	// them and the records those batches declare; RecordBytes sums the batches' sizes.
	ProduceRequests int64 `json:"produce_requests"`
	Batches         int64 `json:"batches"`
	Records         int64 `json:"records"`
	RecordBytes     int64 `json:"record_bytes"`
	// FetchRequests counts Fetch requests.
	FetchRequests int64 `json:"fetch_requests"`
	// TotalRecords counts every record produced since the broker started; resets do
	// not clear it. In stored mode it is how many records a consumer finds.
	TotalRecords int64 `json:"total_records"`
	// CPUSeconds is the broker process's user+sys CPU time since the last reset.
	CPUSeconds float64 `json:"cpu_seconds"`
}
