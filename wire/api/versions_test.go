package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSupportedRanges pins the versions troupe speaks: from the KIP-896 baseline of Kafka
// 4.0 to the newest version the test broker (kfake) accepts.
func TestSupportedRanges(t *testing.T) {
	want := map[api.Key][2]int16{
		api.Produce:                {3, 13},
		api.Fetch:                  {4, 18},
		api.ListOffsets:            {1, 10},
		api.Metadata:               {0, 13},
		api.OffsetCommit:           {2, 10},
		api.OffsetFetch:            {1, 10},
		api.FindCoordinator:        {1, 6},
		api.APIVersions:            {0, 5},
		api.CreateTopics:           {2, 7},
		api.DeleteRecords:          {0, 2},
		api.InitProducerID:         {0, 5},
		api.OffsetForLeaderEpoch:   {2, 4},
		api.SaslHandshake:          {1, 1},
		api.SaslAuthenticate:       {0, 2},
		api.JoinGroup:              {2, 9},
		api.Heartbeat:              {0, 4},
		api.LeaveGroup:             {0, 5},
		api.SyncGroup:              {0, 5},
		api.DescribeGroups:         {0, 5},
		api.ListGroups:             {0, 5},
		api.DeleteGroups:           {0, 2},
		api.OffsetDelete:           {0, 0},
		api.ConsumerGroupHeartbeat: {0, 1},
		api.ConsumerGroupDescribe:  {0, 0},
	}
	keys := api.SupportedKeys()
	if len(keys) != len(want) {
		t.Fatalf("supported keys %v", keys)
	}
	for k, r := range want {
		min, max, ok := api.SupportedVersions(k)
		if !ok || min != r[0] || max != r[1] {
			t.Errorf("%v: supported %d-%d (%v), want %d-%d", k, min, max, ok, r[0], r[1])
		}
		// kmsg, generated from newer schemas, must know every version troupe speaks.
		if km := kmsg.RequestForKey(int16(k)); km == nil || km.MaxVersion() < max {
			t.Errorf("%v: kmsg cannot check version %d", k, max)
		}
	}
	if _, _, ok := api.SupportedVersions(api.DescribeAcls); ok {
		t.Error("DescribeAcls is not implemented yet")
	}
}

func TestKeyNames(t *testing.T) {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for k := api.Key(0); k <= api.DeleteShareGroupOffsets; k++ {
		name := kmsg.NameForKey(int16(k))
		if name == "" || strings.HasPrefix(name, "Unknown") {
			continue // kmsg does not know this key
		}
		if k == api.AlterPartitionReassignments {
			name = "AlterPartitionReassignments" // Kafka's name (KIP-455); kmsg shortens it
		}
		if norm(k.String()) != norm(name) {
			t.Errorf("key %d: troupe %q, kmsg %q", k, k.String(), name)
		}
	}
	if api.Key(999).String() != "Key(999)" {
		t.Error(api.Key(999).String())
	}
}

func apiVersions(entries ...[3]int16) *api.APIVersionsResponse {
	r := new(api.APIVersionsResponse)
	for _, e := range entries {
		r.APIKeys = append(r.APIKeys, api.APIVersionsResponseAPIVersion{APIKey: e[0], MinVersion: e[1], MaxVersion: e[2]})
	}
	return r
}

func TestPickVersion(t *testing.T) {
	resp := apiVersions([3]int16{0, 0, 20}, [3]int16{1, 4, 12}, [3]int16{2, 11, 15}, [3]int16{3, 0, 1})
	cases := []struct {
		key  api.Key
		want int16
		err  error
	}{
		{api.Produce, 13, nil},                       // broker newer than troupe: troupe's max
		{api.Fetch, 12, nil},                         // broker older: broker's max
		{api.ListOffsets, 0, api.ErrNoCommonVersion}, // broker min above troupe's max
		{api.Metadata, 1, nil},
		{api.CreateTopics, 0, api.ErrNoCommonVersion}, // not offered
		{api.DescribeAcls, 0, api.ErrUnknownKey},
	}
	for _, c := range cases {
		got, err := api.PickVersion(resp, c.key)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("%v: got %d, %v; want %d, %v", c.key, got, err, c.want, c.err)
		}
	}
	// A broker whose newest Produce is below troupe's baseline (v3) shares nothing.
	if _, err := api.PickVersion(apiVersions([3]int16{0, 0, 2}), api.Produce); !errors.Is(err, api.ErrNoCommonVersion) {
		t.Errorf("old broker: %v", err)
	}
}

func TestHeaderVersions(t *testing.T) {
	cases := []struct {
		key       api.Key
		version   int16
		req, resp int16
	}{
		{api.Produce, 8, 1, 0},
		{api.Produce, 9, 2, 1},
		{api.Metadata, 9, 2, 1},
		{api.APIVersions, 3, 2, 0}, // ApiVersions responses always use header v0
		{api.APIVersions, 0, 1, 0},
		{api.Fetch, 12, 2, 1},
	}
	for _, c := range cases {
		req, err1 := api.RequestHeaderVersion(c.key, c.version)
		resp, err2 := api.ResponseHeaderVersion(c.key, c.version)
		if req != c.req || resp != c.resp || err1 != nil || err2 != nil {
			t.Errorf("%v v%d: header versions %d/%d (%v %v), want %d/%d", c.key, c.version, req, resp, err1, err2, c.req, c.resp)
		}
	}
	if _, err := api.RequestHeaderVersion(api.DescribeAcls, 0); !errors.Is(err, api.ErrUnknownKey) {
		t.Error(err)
	}
}
