package api_test

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"
)

// broker is a plain TCP connection to an in-process kfake cluster, enough to send one
// request at a time and read its response. (The connection actor is package wire's job.)
type broker struct {
	t    *testing.T
	conn net.Conn
	corr int32
}

var clientID = "troupe-test"

// startKfake starts a one-broker kfake cluster on 127.0.0.1 with topic "t" (3 partitions)
// and connects to it; both are closed when the test ends.
func startKfake(t *testing.T, opts ...kfake.Opt) *broker {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, "t")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	conn, err := net.DialTimeout("tcp", c.ListenAddrs()[0], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &broker{t: t, conn: conn}
}

// do sends req at version and returns the decoded response, failing the test on any
// error. Every exchange has a deadline.
func (b *broker) do(req api.Request, version int16) api.Response {
	b.t.Helper()
	if err := req.Validate(version); err != nil {
		b.t.Fatalf("%v v%d: %v", req.APIKey(), version, err)
	}
	b.corr++
	if err := b.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		b.t.Fatal(err)
	}
	frame, err := api.AppendRequest(nil, req, version, b.corr, &clientID)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.conn.Write(frame); err != nil {
		b.t.Fatalf("%v v%d: write: %v", req.APIKey(), version, err)
	}
	body, err := codec.ReadFrame(b.conn, nil, 64<<20)
	if err != nil {
		b.t.Fatalf("%v v%d: read: %v", req.APIKey(), version, err)
	}
	resp, _ := api.NewResponse(req.APIKey())
	if err := api.ReadResponse(body, resp, version, b.corr); err != nil {
		b.t.Fatalf("%v v%d: %v", req.APIKey(), version, err)
	}
	return resp
}

func (b *broker) apiVersions(version int16) *api.APIVersionsResponse {
	b.t.Helper()
	req := new(api.APIVersionsRequest)
	req.Default()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "troupe", "0.0.1"
	resp := b.do(req, version).(*api.APIVersionsResponse)
	if resp.ErrorCode != 0 {
		b.t.Fatalf("ApiVersions v%d: error %d", version, resp.ErrorCode)
	}
	return resp
}

// versions runs fn at every version troupe speaks for k, oldest first.
func versions(k api.Key, fn func(v int16)) {
	min, max, _ := api.SupportedVersions(k)
	for v := min; v <= max; v++ {
		fn(v)
	}
}

func TestKfakeAPIVersions(t *testing.T) {
	b := startKfake(t)
	versions(api.APIVersions, func(v int16) {
		resp := b.apiVersions(v)
		// troupe's newest versions are kfake's newest: negotiation picks them.
		for _, k := range api.SupportedKeys() {
			_, max, _ := api.SupportedVersions(k)
			got, err := api.PickVersion(resp, k)
			if err != nil || got != max {
				t.Errorf("ApiVersions v%d: %v negotiates to %d (%v), want %d", v, k, got, err, max)
			}
		}
		if v >= 3 && resp.FinalizedFeaturesEpoch == 0 && len(resp.SupportedFeatures) == 0 && len(resp.UnknownTags) != 0 {
			t.Errorf("ApiVersions v%d: tagged fields not decoded", v)
		}
	})
}

// topic returns the ID and partition 0 leader epoch of topic "t", from Metadata v13.
func (b *broker) topic() (codec.UUID, int32) {
	b.t.Helper()
	req := new(api.MetadataRequest)
	req.Default()
	req.Topics = []api.MetadataRequestTopic{{Name: ptr("t")}}
	resp := b.do(req, 13).(*api.MetadataResponse)
	return resp.Topics[0].TopicID, resp.Topics[0].Partitions[0].LeaderEpoch
}

func TestKfakeMetadata(t *testing.T) {
	b := startKfake(t)
	versions(api.Metadata, func(v int16) {
		req := new(api.MetadataRequest)
		req.Default()
		req.Topics = []api.MetadataRequestTopic{{Name: ptr("t")}}
		resp := b.do(req, v).(*api.MetadataResponse)
		if len(resp.Brokers) != 1 || resp.Brokers[0].Port == 0 || resp.Brokers[0].Host == "" {
			t.Fatalf("Metadata v%d: brokers %+v", v, resp.Brokers)
		}
		if len(resp.Topics) != 1 {
			t.Fatalf("Metadata v%d: topics %+v", v, resp.Topics)
		}
		tp := resp.Topics[0]
		if tp.ErrorCode != 0 || tp.Name == nil || *tp.Name != "t" || len(tp.Partitions) != 3 {
			t.Fatalf("Metadata v%d: topic %+v", v, tp)
		}
		for _, p := range tp.Partitions {
			if p.ErrorCode != 0 || p.LeaderID != resp.Brokers[0].NodeID || len(p.ReplicaNodes) != 1 {
				t.Errorf("Metadata v%d: partition %+v", v, p)
			}
		}
		if v >= 2 && resp.ClusterID == nil {
			t.Errorf("Metadata v%d: no cluster ID", v)
		}
		if v >= 10 && tp.TopicID.IsZero() {
			t.Errorf("Metadata v%d: no topic ID", v)
		}
		if resp.ErrorCode != 0 {
			t.Errorf("Metadata v%d: top-level error %d", v, resp.ErrorCode)
		}
	})
}

func TestKfakeCreateTopics(t *testing.T) {
	b := startKfake(t)
	versions(api.CreateTopics, func(v int16) {
		req := new(api.CreateTopicsRequest)
		req.Default()
		req.TimeoutMs = 5000
		req.Topics = []api.CreateTopicsRequestCreatableTopic{{Name: fmt.Sprintf("created-v%d", v), NumPartitions: 2, ReplicationFactor: 1}}
		resp := b.do(req, v).(*api.CreateTopicsResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("CreateTopics v%d: %+v", v, resp.Topics)
		}
		r := resp.Topics[0]
		if v >= 5 && (r.NumPartitions != 2 || r.ReplicationFactor != 1) {
			t.Errorf("CreateTopics v%d: %+v", v, r)
		}
		if v >= 7 && r.TopicID.IsZero() {
			t.Errorf("CreateTopics v%d: no topic ID", v)
		}
	})
}

func TestKfakeInitProducerID(t *testing.T) {
	b := startKfake(t)
	versions(api.InitProducerID, func(v int16) {
		req := new(api.InitProducerIDRequest)
		req.Default()
		req.TransactionTimeoutMs = 60000
		resp := b.do(req, v).(*api.InitProducerIDResponse)
		if resp.ErrorCode != 0 || resp.ProducerID < 0 || resp.ProducerEpoch < 0 {
			t.Fatalf("InitProducerId v%d: %+v", v, resp)
		}
	})
}

// TestKfakeProduceFetchListOffsets produces one record at every Produce version, fetches
// them back at every Fetch version and lists offsets at every ListOffsets version.
func TestKfakeProduceFetchListOffsets(t *testing.T) {
	b := startKfake(t)
	id, _ := b.topic()
	var produced int64
	versions(api.Produce, func(v int16) {
		req := new(api.ProduceRequest)
		req.Default()
		req.Acks, req.TimeoutMs = -1, 5000
		td := api.ProduceRequestTopicProduceData{Name: "t"}
		if v >= 13 {
			td = api.ProduceRequestTopicProduceData{TopicID: id}
		}
		td.PartitionData = []api.ProduceRequestPartitionProduceData{{Index: 0, Records: recordBatch(time.Now().UnixMilli(), fmt.Sprintf("v%d", v))}}
		req.TopicData = []api.ProduceRequestTopicProduceData{td}
		resp := b.do(req, v).(*api.ProduceResponse)
		if len(resp.Responses) != 1 || len(resp.Responses[0].PartitionResponses) != 1 {
			t.Fatalf("Produce v%d: %+v", v, resp)
		}
		if v >= 13 && resp.Responses[0].TopicID != id {
			t.Errorf("Produce v%d: topic ID %v", v, resp.Responses[0].TopicID)
		}
		p := resp.Responses[0].PartitionResponses[0]
		if p.ErrorCode != 0 || p.BaseOffset != produced {
			t.Fatalf("Produce v%d: partition %+v, want base offset %d", v, p, produced)
		}
		produced++
	})

	versions(api.Fetch, func(v int16) {
		req := new(api.FetchRequest)
		req.Default()
		req.MaxWaitMs, req.MinBytes, req.MaxBytes = 100, 1, 1<<20
		part := api.FetchRequestPartition{}
		part.Default()
		part.Partition, part.FetchOffset, part.PartitionMaxBytes = 0, 0, 1<<20
		topic := api.FetchRequestTopic{Topic: "t", Partitions: []api.FetchRequestPartition{part}}
		if v >= 13 {
			topic.Topic, topic.TopicID = "", id
		}
		req.Topics = []api.FetchRequestTopic{topic}
		resp := b.do(req, v).(*api.FetchResponse)
		if resp.ErrorCode != 0 || len(resp.Responses) != 1 || len(resp.Responses[0].Partitions) != 1 {
			t.Fatalf("Fetch v%d: %+v", v, resp)
		}
		p := resp.Responses[0].Partitions[0]
		if p.ErrorCode != 0 || p.HighWatermark != produced || len(p.Records) < 61 {
			t.Fatalf("Fetch v%d: partition error %d, high watermark %d (want %d), %d record bytes", v, p.ErrorCode, p.HighWatermark, produced, len(p.Records))
		}
		// The records start with the first batch: base offset 0, magic 2.
		d := codec.NewDecoder(p.Records)
		if base, _, _, magic := d.Int64(), d.Int32(), d.Int32(), d.Int8(); base != 0 || magic != 2 {
			t.Errorf("Fetch v%d: first batch base offset %d magic %d", v, base, magic)
		}
	})

	versions(api.ListOffsets, func(v int16) {
		for _, c := range []struct{ ts, want int64 }{{-1, produced}, {-2, 0}} {
			req := new(api.ListOffsetsRequest)
			req.Default()
			part := api.ListOffsetsRequestPartition{}
			part.Default()
			part.PartitionIndex, part.Timestamp = 0, c.ts
			req.Topics = []api.ListOffsetsRequestTopic{{Name: "t", Partitions: []api.ListOffsetsRequestPartition{part}}}
			resp := b.do(req, v).(*api.ListOffsetsResponse)
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != 0 || p.Offset != c.want {
				t.Errorf("ListOffsets v%d timestamp %d: %+v, want offset %d", v, c.ts, p, c.want)
			}
		}
	})
}

func TestKfakeGroupOffsets(t *testing.T) {
	b := startKfake(t)
	id, _ := b.topic()
	versions(api.FindCoordinator, func(v int16) {
		req := new(api.FindCoordinatorRequest)
		req.Default()
		if v < 4 {
			req.Key = "g"
		} else {
			req.CoordinatorKeys = []string{"g"}
		}
		resp := b.do(req, v).(*api.FindCoordinatorResponse)
		port, code := resp.Port, resp.ErrorCode
		if v >= 4 {
			if len(resp.Coordinators) != 1 || resp.Coordinators[0].Key != "g" {
				t.Fatalf("FindCoordinator v%d: %+v", v, resp)
			}
			port, code = resp.Coordinators[0].Port, resp.Coordinators[0].ErrorCode
		}
		if code != 0 || port == 0 {
			t.Errorf("FindCoordinator v%d: error %d port %d", v, code, port)
		}
	})

	var last int64
	versions(api.OffsetCommit, func(v int16) {
		req := new(api.OffsetCommitRequest)
		req.Default()
		req.GroupID = "g"
		part := api.OffsetCommitRequestPartition{}
		part.Default()
		part.PartitionIndex, part.CommittedOffset = 0, int64(100+v)
		topic := api.OffsetCommitRequestTopic{Name: "t", Partitions: []api.OffsetCommitRequestPartition{part}}
		if v >= 10 {
			topic.Name, topic.TopicID = "", id
		}
		req.Topics = []api.OffsetCommitRequestTopic{topic}
		resp := b.do(req, v).(*api.OffsetCommitResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("OffsetCommit v%d: %+v", v, resp)
		}
		last = part.CommittedOffset
	})

	versions(api.OffsetFetch, func(v int16) {
		req := new(api.OffsetFetchRequest)
		req.Default()
		var committed int64 = -2
		if v < 8 {
			req.GroupID = "g"
			req.Topics = []api.OffsetFetchRequestTopic{{Name: "t", PartitionIndexes: []int32{0}}}
			resp := b.do(req, v).(*api.OffsetFetchResponse)
			if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
				t.Fatalf("OffsetFetch v%d: %+v", v, resp)
			}
			committed = resp.Topics[0].Partitions[0].CommittedOffset
		} else {
			topic := api.OffsetFetchRequestTopics{Name: "t", PartitionIndexes: []int32{0}}
			if v >= 10 {
				topic.Name, topic.TopicID = "", id
			}
			g := api.OffsetFetchRequestGroup{}
			g.Default()
			g.GroupID, g.Topics = "g", []api.OffsetFetchRequestTopics{topic}
			req.Groups = []api.OffsetFetchRequestGroup{g}
			resp := b.do(req, v).(*api.OffsetFetchResponse)
			if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || len(resp.Groups[0].Topics) != 1 {
				t.Fatalf("OffsetFetch v%d: %+v", v, resp)
			}
			p := resp.Groups[0].Topics[0].Partitions[0]
			if p.ErrorCode != 0 {
				t.Fatalf("OffsetFetch v%d: partition error %d", v, p.ErrorCode)
			}
			committed = p.CommittedOffset
		}
		if committed != last {
			t.Errorf("OffsetFetch v%d: committed offset %d, want %d", v, committed, last)
		}
	})
}

func TestKfakeOffsetForLeaderEpoch(t *testing.T) {
	b := startKfake(t)
	_, epoch := b.topic()
	versions(api.OffsetForLeaderEpoch, func(v int16) {
		if v < 3 {
			return // kfake accepts only v3 and v4; v2 is checked against kmsg only
		}
		req := new(api.OffsetForLeaderEpochRequest)
		req.Default()
		part := api.OffsetForLeaderEpochRequestOffsetForLeaderPartition{}
		part.Default()
		part.Partition, part.LeaderEpoch = 0, epoch
		req.Topics = []api.OffsetForLeaderEpochRequestOffsetForLeaderTopic{{Topic: "t", Partitions: []api.OffsetForLeaderEpochRequestOffsetForLeaderPartition{part}}}
		resp := b.do(req, v).(*api.OffsetForLeaderEpochResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.LeaderEpoch != epoch || p.EndOffset < 0 {
			t.Errorf("OffsetForLeaderEpoch v%d: %+v", v, p)
		}
	})
}

func TestKfakeDeleteRecords(t *testing.T) {
	b := startKfake(t)
	req := new(api.ProduceRequest)
	req.Default()
	req.Acks, req.TimeoutMs = -1, 5000
	req.TopicData = []api.ProduceRequestTopicProduceData{{Name: "t", PartitionData: []api.ProduceRequestPartitionProduceData{{Index: 1, Records: recordBatch(time.Now().UnixMilli(), "a", "b", "c", "d")}}}}
	if p := b.do(req, 9).(*api.ProduceResponse).Responses[0].PartitionResponses[0]; p.ErrorCode != 0 {
		t.Fatalf("produce: %+v", p)
	}
	versions(api.DeleteRecords, func(v int16) {
		req := new(api.DeleteRecordsRequest)
		req.Default()
		req.TimeoutMs = 5000
		req.Topics = []api.DeleteRecordsRequestTopic{{Name: "t", Partitions: []api.DeleteRecordsRequestPartition{{PartitionIndex: 1, Offset: int64(v + 1)}}}}
		resp := b.do(req, v).(*api.DeleteRecordsResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.LowWatermark != int64(v+1) {
			t.Errorf("DeleteRecords v%d: %+v", v, p)
		}
	})
}

// TestKfakeOlderBroker emulates older brokers: negotiation picks each broker's newest
// version where troupe speaks it, requests at those versions work, and a broker older than
// the KIP-896 baselines shares no Produce version with troupe.
func TestKfakeOlderBroker(t *testing.T) {
	b := startKfake(t, kfake.MaxVersions(kversion.V2_8_0()))
	resp := b.apiVersions(3)
	want := map[api.Key]int16{api.Produce: 9, api.Fetch: 12, api.Metadata: 11, api.ListOffsets: 6, api.APIVersions: 3}
	for k, w := range want {
		if got, err := api.PickVersion(resp, k); err != nil || got != w {
			t.Errorf("Kafka 2.8: %v negotiates to %d (%v), want %d", k, got, err, w)
		}
	}
	v, _ := api.PickVersion(resp, api.Metadata)
	req := new(api.MetadataRequest)
	req.Default()
	md := b.do(req, v).(*api.MetadataResponse)
	if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 {
		t.Fatalf("Metadata v%d on a 2.8 broker: %+v", v, md.Topics)
	}
	pv, _ := api.PickVersion(resp, api.Produce)
	preq := new(api.ProduceRequest)
	preq.Default()
	preq.Acks, preq.TimeoutMs = -1, 5000
	preq.TopicData = []api.ProduceRequestTopicProduceData{{Name: "t", PartitionData: []api.ProduceRequestPartitionProduceData{{Index: 2, Records: recordBatch(time.Now().UnixMilli(), "old")}}}}
	if p := b.do(preq, pv).(*api.ProduceResponse).Responses[0].PartitionResponses[0]; p.ErrorCode != 0 {
		t.Fatalf("Produce v%d on a 2.8 broker: %+v", pv, p)
	}

	ancient := startKfake(t, kfake.MaxVersions(kversion.V0_10_0()))
	old := ancient.apiVersions(0)
	if _, err := api.PickVersion(old, api.Produce); !errors.Is(err, api.ErrNoCommonVersion) {
		t.Errorf("Kafka 0.10.0 (Produce v2 at most): %v", err)
	}
}
