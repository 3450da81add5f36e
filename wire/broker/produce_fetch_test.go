package broker_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/record"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestProduceAndFetchCompressedBatches writes a batch in every codec through a produce
// connection and reads it back through a fetch connection: the whole wire layer end to
// end (codec, record batches, compression, connections) against kfake.
func TestProduceAndFetchCompressedBatches(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "z"))
	p := startPool(t, broker.Config{})
	node := broker.Node{ID: -1, Addr: seeds[0]}
	prod, _ := p.Conn(node, broker.Produce)
	fetch, _ := p.Conn(node, broker.Fetch)

	ts := time.UnixMilli(time.Now().UnixMilli())
	var want []troupe.Record
	for _, codec := range []record.Codec{record.None, record.Gzip, record.Snappy, record.LZ4, record.Zstd} {
		comp, err := record.NewCompressor(record.Compression{Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		b := record.NewBuilder(comp)
		b.Reset(nil)
		for i := range 50 {
			r := troupe.Record{
				Key:       []byte(fmt.Sprintf("%s-key-%d", codec, i)),
				Value:     bytes.Repeat([]byte{byte(i)}, 100),
				Headers:   []troupe.Header{{Key: "codec", Value: []byte(codec.String())}},
				Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
			}
			b.Append(&r)
			want = append(want, r)
		}
		batch, err := b.Seal(record.NoProducer())
		if err != nil {
			t.Fatal(err)
		}
		var req api.ProduceRequest
		req.Default()
		req.Acks, req.TimeoutMs = -1, 5000
		req.TopicData = []api.ProduceRequestTopicProduceData{{Name: "z", PartitionData: []api.ProduceRequestPartitionProduceData{{Index: 0, Records: batch}}}}
		c := &broker.Call{Request: &req, VersionCap: 12}
		if err := prod.DoCall(ctxT(t), c); err != nil {
			t.Fatal(err)
		}
		pr := c.Response.(*api.ProduceResponse).Responses[0].PartitionResponses[0]
		if err := errcode.ForCode(pr.ErrorCode); err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
	}

	var got []troupe.Record
	var dec record.Decoder
	for offset := int64(0); offset < int64(len(want)); {
		var req api.FetchRequest
		req.Default()
		req.MaxWaitMs, req.MinBytes, req.MaxBytes = 100, 1, 1<<20
		part := api.FetchRequestPartition{}
		part.Default()
		part.Partition, part.FetchOffset, part.PartitionMaxBytes = 0, offset, 1<<20
		req.Topics = []api.FetchRequestTopic{{Topic: "z", Partitions: []api.FetchRequestPartition{part}}}
		call := &broker.Call{Request: &req, VersionCap: 12} // v13+ names topics by ID
		if err := fetch.DoCall(ctxT(t), call); err != nil {
			t.Fatal(err)
		}
		pd := call.Response.(*api.FetchResponse).Responses[0].Partitions[0]
		if err := errcode.ForCode(pd.ErrorCode); err != nil {
			t.Fatal(err)
		}
		var s record.Scanner
		s.Reset(pd.Records)
		for s.Next() {
			b := s.Batch()
			var err error
			if got, err = dec.Decode(got, b, "z", 0); err != nil {
				t.Fatal(err)
			}
			offset = b.NextOffset()
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("fetched %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Offset != int64(i) || !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) ||
			!g.Timestamp.Equal(w.Timestamp) || len(g.Headers) != 1 || !bytes.Equal(g.Headers[0].Value, w.Headers[0].Value) {
			t.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
	}
}
