package api_test

import (
	"bytes"
	"fmt"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
)

// Negotiate a version from a broker's ApiVersions response, then frame a Metadata request
// at it.
func ExamplePickVersion() {
	broker := &api.APIVersionsResponse{APIKeys: []api.APIVersionsResponseAPIVersion{
		{APIKey: int16(api.Metadata), MinVersion: 0, MaxVersion: 12}, // a Kafka 3.x broker
	}}
	version, err := api.PickVersion(broker, api.Metadata)
	if err != nil {
		panic(err)
	}
	req := new(api.MetadataRequest)
	req.Default()
	req.Topics = []api.MetadataRequestTopic{{Name: ptr("orders")}}
	frame, err := api.AppendRequest(nil, req, version, 1, nil)
	if err != nil {
		panic(err)
	}
	body, _ := codec.ReadFrame(bytes.NewReader(frame), nil, 1<<20)
	fmt.Printf("Metadata v%d, frame body of %d bytes\n", version, len(body))
	// Output: Metadata v12, frame body of 39 bytes
}
