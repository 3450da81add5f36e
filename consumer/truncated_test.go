package consumer

import (
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/wire/record"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// cutLog is a partition log built by the test, served by a kfake control function that
// cuts every fetch at the partition's limit to the byte — also inside the first batch,
// which a real broker returns whole only to the first partition of a response with data
// (KIP-74). The consumer must then raise the partition's fetch size.
type cutLog struct {
	raw    []byte  // the batches back to back, offsets stamped
	starts []int64 // base offset of each batch
	pos    []int   // byte position of each batch in raw
	end    int64
}

func buildCutLog(t *testing.T, topic string, partition int32) *cutLog {
	t.Helper()
	codecs := []record.Codec{record.None, record.Gzip, record.Snappy, record.LZ4, record.Zstd}
	l := &cutLog{}
	n := 0
	for i := range 20 {
		comp, err := record.NewCompressor(record.Compression{Codec: codecs[i%len(codecs)]})
		if err != nil {
			t.Fatal(err)
		}
		b := record.NewBuilder(comp)
		b.Reset(nil)
		count := 1 + (i*7)%23 // 1 to 23 records; big ones are several KiB
		for k := range count {
			r := troupe.Record{Value: []byte(value(topic, partition, n+k)), Key: make([]byte, 40*k)}
			b.Append(&r)
		}
		batch, err := b.Seal(record.NoProducer())
		if err != nil {
			t.Fatal(err)
		}
		binary.BigEndian.PutUint64(batch[0:], uint64(n)) // outside the CRC, as a broker stamps it
		l.starts = append(l.starts, int64(n))
		l.pos = append(l.pos, len(l.raw))
		l.raw = append(l.raw, batch...)
		n += count
	}
	l.end = int64(n)
	return l
}

// serve returns the bytes a fetch from offset with limit bytes gets.
func (l *cutLog) serve(offset int64, limit int32) []byte {
	i := len(l.starts) - 1
	for i >= 0 && l.starts[i] > offset {
		i--
	}
	if offset >= l.end || i < 0 {
		return []byte{}
	}
	out := l.raw[l.pos[i]:]
	return out[:min(len(out), int(limit))]
}

func TestTruncatedBatchesAreFetchedAgainAndGrown(t *testing.T) {
	kc, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "cut"))
	l := buildCutLog(t, "cut", 0)
	var requests, grown, cutFirst, cutAfter atomic.Int32
	const base = 300
	kc.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		fr := req.(*kmsg.FetchRequest)
		resp := fr.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range fr.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				requests.Add(1)
				if rp.PartitionMaxBytes > base {
					grown.Add(1)
				}
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = l.end, l.end, 0
				sp.RecordBatches = l.serve(rp.FetchOffset, rp.PartitionMaxBytes)
				var s record.Scanner
				s.Reset(sp.RecordBatches)
				for s.Next() {
				}
				if tail := s.Tail(); tail.Truncated() && tail.First {
					cutFirst.Add(1)
				} else if tail.Truncated() {
					cutAfter.Add(1)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	cfg := testConfig(seeds, newRecorder())
	cfg.MaxPartitionBytes = base
	cfg.MaxBytes = 64 << 10
	c := newConsumer(t, cfg)
	r := newReader(t, consume(t, c, "cut", 0, At(0)), 0)
	r.mustRead(int(l.end))
	if cutFirst.Load() == 0 || cutAfter.Load() == 0 || grown.Load() == 0 {
		t.Fatalf("%d fetches: %d with the first batch cut, %d cut after whole batches, %d with a raised size: the test did not cut both ways",
			requests.Load(), cutFirst.Load(), cutAfter.Load(), grown.Load())
	}
	t.Logf("%d records in %d fetches: %d with the first batch cut, %d cut after whole batches, %d with a raised size",
		l.end, requests.Load(), cutFirst.Load(), cutAfter.Load(), grown.Load())
}
