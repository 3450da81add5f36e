package cluster_test

import (
	"testing"
	"time"

	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/api"
)

func metadataReq() *api.MetadataRequest {
	var r api.MetadataRequest
	r.Default()
	r.Topics = []api.MetadataRequestTopic{}
	return &r
}

func breakerCfg(errors int, timeout time.Duration) supervisor.BreakerConfig {
	return supervisor.BreakerConfig{Errors: errors, Timeout: timeout}
}

// waitFor waits, up to 20s, for cond to hold, checking every millisecond.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatal("condition not met within 20s")
		case <-tick.C:
		}
	}
}
