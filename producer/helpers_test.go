package producer_test

import (
	"time"

	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/record"
)

func clusterAuto() cluster.Config { return cluster.Config{AllowAutoTopicCreation: true} }

func codecs() []record.Compression {
	return []record.Compression{{Codec: record.None}, {Codec: record.Gzip}, {Codec: record.Snappy}, {Codec: record.LZ4}, {Codec: record.Zstd}}
}

func clusterFast() cluster.Config { return cluster.Config{MinRefreshInterval: 10 * time.Millisecond} }
