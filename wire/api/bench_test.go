package api_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
)

// produceRequest is a typical Produce request: one topic, six partitions, one 16 KiB batch
// each.
func produceRequest() *api.ProduceRequest {
	req := new(api.ProduceRequest)
	req.Default()
	req.Acks, req.TimeoutMs = -1, 30000
	td := api.ProduceRequestTopicProduceData{Name: "topic"}
	for p := range int32(6) {
		td.PartitionData = append(td.PartitionData, api.ProduceRequestPartitionProduceData{Index: p, Records: bytes.Repeat([]byte{byte(p)}, 16<<10)})
	}
	req.TopicData = []api.ProduceRequestTopicProduceData{td}
	return req
}

// TestEncodeDoesNotAllocate checks that encoding into a reused buffer allocates nothing.
func TestEncodeDoesNotAllocate(t *testing.T) {
	req := produceRequest()
	buf := req.Encode(nil, 13)
	allocs := testing.AllocsPerRun(20, func() { buf = req.Encode(buf[:0], 13) })
	if allocs != 0 {
		t.Fatalf("Produce encode allocated %v times", allocs)
	}
	frameBuf, _ := api.AppendRequest(nil, req, 9, 1, &clientID)
	allocs = testing.AllocsPerRun(20, func() { frameBuf, _ = api.AppendRequest(frameBuf[:0], req, 9, 1, &clientID) })
	if allocs != 0 {
		t.Fatalf("Produce framing allocated %v times", allocs)
	}
}

func BenchmarkProduceRequestEncode(b *testing.B) {
	for _, v := range []int16{3, 9, 13} {
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			req := produceRequest()
			buf := req.Encode(nil, v)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = req.Encode(buf[:0], v)
			}
		})
	}
}

func BenchmarkProduceRequestDecode(b *testing.B) {
	for _, v := range []int16{3, 9, 13} {
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			buf := produceRequest().Encode(nil, v)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			var req api.ProduceRequest
			for b.Loop() {
				if err := req.Decode(buf, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFetchResponseDecode decodes a Fetch response of six partitions with 64 KiB of
// records each: the header path a consumer pays per fetch (record bytes alias the input).
func BenchmarkFetchResponseDecode(b *testing.B) {
	for _, v := range []int16{4, 12, 18} {
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			resp := new(api.FetchResponse)
			resp.Default()
			topic := api.FetchResponseFetchableTopicResponse{Topic: "topic"}
			for p := range int32(6) {
				part := api.FetchResponsePartitionData{}
				part.Default()
				part.PartitionIndex, part.HighWatermark, part.Records = p, 1000, bytes.Repeat([]byte{1}, 64<<10)
				topic.Partitions = append(topic.Partitions, part)
			}
			resp.Responses = []api.FetchResponseFetchableTopicResponse{topic}
			buf := resp.Encode(nil, v)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			var got api.FetchResponse
			for b.Loop() {
				if err := got.Decode(buf, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
