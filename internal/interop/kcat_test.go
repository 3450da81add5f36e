package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
	"github.com/twmb/franz-go/pkg/kfake"
)

// kcat returns the path of kcat, or skips the test.
func kcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not found: install the Debian package kcat (apt-get install -y kcat); .ci/run does")
	}
	return path
}

func runKcat(t *testing.T, stdin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// kcatRecord is one record of kcat's JSON envelope (-J).
type kcatRecord struct {
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	TS        int64    `json:"ts"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
	Headers   []string `json:"headers"`
}

func readWithKcat(t *testing.T, broker, topic string) []kcatRecord {
	t.Helper()
	out := runKcat(t, "", "-b", broker, "-C", "-t", topic, "-e", "-q", "-J", "-o", "beginning")
	var recs []kcatRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r kcatRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("kcat output %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b kcatRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return recs
}

func codecs() []record.Codec {
	return []record.Codec{record.None, record.Gzip, record.Snappy, record.LZ4, record.Zstd}
}

// TestKcatReadsWhatTroupeWrites: records produced by troupe in every codec, with keys,
// headers and timestamps, read back by kcat (librdkafka) byte for byte.
func TestKcatReadsWhatTroupeWrites(t *testing.T) {
	kcat(t)
	for _, codec := range codecs() {
		t.Run(codec.String(), func(t *testing.T) {
			_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
			p, err := producer.New(producer.Config{Seeds: seeds, Compression: record.Compression{Codec: codec}})
			if err != nil {
				t.Fatal(err)
			}
			ts := time.UnixMilli(time.Now().UnixMilli() - 3600_000)
			var sent []*troupe.Record
			for i := range 200 {
				r := &troupe.Record{
					Topic:     "t",
					Key:       []byte(fmt.Sprintf("key-%d", i)),
					Value:     []byte(fmt.Sprintf("%s value %d %s", codec, i, strings.Repeat("x", i))),
					Headers:   []troupe.Header{{Key: "h1", Value: []byte(fmt.Sprint(i))}, {Key: "codec", Value: []byte(codec.String())}},
					Timestamp: ts.Add(time.Duration(i) * time.Millisecond),
				}
				sent = append(sent, r)
				if err := p.ProduceSync(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := readWithKcat(t, seeds[0], "t")
			if len(got) != len(sent) {
				t.Fatalf("kcat read %d records, troupe wrote %d", len(got), len(sent))
			}
			byPos := map[[2]int64]kcatRecord{}
			for _, g := range got {
				byPos[[2]int64{int64(g.Partition), g.Offset}] = g
			}
			for _, r := range sent {
				g, ok := byPos[[2]int64{int64(r.Partition), r.Offset}]
				switch {
				case !ok:
					t.Fatalf("kcat did not see %s at %d[%d]", r.Key, r.Partition, r.Offset)
				case g.Key == nil || *g.Key != string(r.Key) || g.Payload == nil || *g.Payload != string(r.Value):
					t.Fatalf("at %d[%d] kcat read key %v value %v, troupe wrote %s %s", r.Partition, r.Offset, g.Key, g.Payload, r.Key, r.Value)
				case g.TS != r.Timestamp.UnixMilli():
					t.Fatalf("timestamp %d, want %d", g.TS, r.Timestamp.UnixMilli())
				case !slices.Equal(g.Headers, []string{"h1", string(r.Headers[0].Value), "codec", codec.String()}):
					t.Fatalf("headers %q", g.Headers)
				}
			}
		})
	}
}

// TestTroupeReadsWhatKcatWrites: records produced by kcat in every codec, idempotence on
// and off, with keys and headers, read back by troupe's consumer.
func TestTroupeReadsWhatKcatWrites(t *testing.T) {
	kcat(t)
	for _, codec := range codecs() {
		for _, idempotent := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/idempotent=%v", codec, idempotent), func(t *testing.T) {
				_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
				var in strings.Builder
				for i := range 100 {
					fmt.Fprintf(&in, "key-%d:value %d of %s\n", i, i, codec)
				}
				args := []string{"-b", seeds[0], "-P", "-t", "t", "-p", "0", "-K", ":", "-H", "from=kcat",
					"-X", fmt.Sprintf("enable.idempotence=%v", idempotent)}
				if codec != record.None {
					args = append(args, "-z", codec.String())
				}
				runKcat(t, in.String(), args...)
				got := consumeAll(t, seeds, "t", 0, 100)
				for i, r := range got {
					if string(r.Key) != fmt.Sprintf("key-%d", i) || string(r.Value) != fmt.Sprintf("value %d of %s", i, codec) ||
						r.Offset != int64(i) || len(r.Headers) != 1 || r.Headers[0].Key != "from" || string(r.Headers[0].Value) != "kcat" {
						t.Fatalf("record %d: %+v", i, r)
					}
				}
			})
		}
	}
}

// consumeAll reads n records of a partition from offset 0 with troupe's consumer.
func consumeAll(t *testing.T, seeds []string, topic string, partition int32, n int) []troupe.Record {
	t.Helper()
	c, err := consumer.New(consumer.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := c.ConsumePartition(ctx, topic, partition, consumer.Oldest())
	if err != nil {
		t.Fatal(err)
	}
	var got []troupe.Record
	for len(got) < n {
		b, err := pc.Next(ctx)
		if err != nil {
			t.Fatalf("after %d records: %v", len(got), err)
		}
		for _, r := range b.Records {
			r.Key, r.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
			got = append(got, r)
		}
	}
	if err := pc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestKcatMetadataMatchesTroupe: kcat's listing of a cluster and troupe's view agree on
// brokers, topics, partitions and leaders.
func TestKcatMetadataMatchesTroupe(t *testing.T) {
	kcat(t)
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(4, "a"), kfake.SeedTopics(2, "b"))
	var listing struct {
		Brokers []struct {
			ID   int32  `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string `json:"topic"`
			Partitions []struct {
				Partition int32 `json:"partition"`
				Leader    int32 `json:"leader"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(runKcat(t, "", "-b", seeds[0], "-L", "-J"), &listing); err != nil {
		t.Fatal(err)
	}
	cl, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := cl.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listing.Brokers) != len(snap.Brokers) {
		t.Fatalf("kcat lists %d brokers, troupe %d", len(listing.Brokers), len(snap.Brokers))
	}
	for _, b := range listing.Brokers {
		if mine, ok := snap.Brokers[b.ID]; !ok || mine.Node().Addr != b.Name {
			t.Fatalf("broker %d: kcat %s, troupe %+v", b.ID, b.Name, mine)
		}
	}
	if len(listing.Topics) != len(snap.Topics) {
		t.Fatalf("kcat lists %d topics, troupe %d", len(listing.Topics), len(snap.Topics))
	}
	for _, tp := range listing.Topics {
		mine := snap.Topic(tp.Topic)
		if mine == nil || len(mine.Partitions) != len(tp.Partitions) {
			t.Fatalf("topic %s: kcat %d partitions, troupe %+v", tp.Topic, len(tp.Partitions), mine)
		}
		for _, p := range tp.Partitions {
			if mine.Partitions[p.Partition].Leader != p.Leader {
				t.Fatalf("%s[%d]: kcat says leader %d, troupe %d", tp.Topic, p.Partition, p.Leader, mine.Partitions[p.Partition].Leader)
			}
		}
	}
}
