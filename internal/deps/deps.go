package deps

import (
	_ "github.com/Shopify/toxiproxy/v2"
	_ "github.com/eapache/go-resiliency/breaker"
	_ "github.com/eapache/queue"
	_ "github.com/klauspost/compress/gzip"
	_ "github.com/klauspost/compress/s2"
	_ "github.com/klauspost/compress/snappy"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/pierrec/lz4/v4"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kmsg"
	_ "go.uber.org/goleak"
	_ "pgregory.net/rapid"
)
