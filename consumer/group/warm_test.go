package group

import (
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestJoinLoadsTheTopicsMetadata: a member asks for its subscribed topics' metadata
// while it looks for its coordinator, so that its first assignment does not wait for
// it. The coordinator cannot be found until a metadata request has described the topic;
// without that request Join would never return.
func TestJoinLoadsTheTopicsMetadata(t *testing.T) {
	kc, seeds := startKfake(t, 3, kfake.SeedTopics(1, "o"))
	c := newConsumer(t, seeds)
	// The client knows the brokers and another topic, not "t": nothing else would ask
	// for every topic (the member would, to find a broker to ask for its coordinator).
	if _, err := c.Client().Refresh(ctxT(t), "o"); err != nil {
		t.Fatal(err)
	}
	var described atomic.Bool
	kc.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		r := req.(*kmsg.MetadataRequest)
		if r.Topics == nil { // every topic
			described.Store(true)
		}
		for _, tp := range r.Topics {
			if tp.Topic != nil && *tp.Topic == "t" {
				described.Store(true)
			}
		}
		return nil, nil, false
	})
	var refused atomic.Int32
	kc.ControlKey(int16(kmsg.FindCoordinator), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if described.Load() {
			return nil, nil, false
		}
		kc.KeepControl()
		refused.Add(1)
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		for _, key := range req.(*kmsg.FindCoordinatorRequest).CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, kmsg.FindCoordinatorResponseCoordinator{Key: key, ErrorCode: kerr.CoordinatorNotAvailable.Code})
		}
		return resp, nil, true
	})
	joinOn(t, c, testGroupConfig("gw"), "m1") // fails the test if Join does not return
	t.Logf("the coordinator was refused %d times before the topic was described", refused.Load())
}
