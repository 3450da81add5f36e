// Package kafkatest starts in-process Kafka clusters (github.com/twmb/franz-go/pkg/kfake)
// for troupe's tests, examples and benchmarks. It is a test helper shared by several
// packages; nothing in the client depends on it.
package kafkatest

import (
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Start starts a kfake cluster on 127.0.0.1 with opts (default: one broker, automatic
// topic creation off) and closes it when the test ends. It returns the cluster and its
// seed addresses.
func Start(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	port, _ := strconv.Atoi(p)
	return port
}

// Embedded starts a kfake cluster of brokers on 127.0.0.1 for an example program (no
// testing.TB): the caller closes it. topics are created with partitions each.
func Embedded(brokers int, partitions int32, topics ...string) (*kfake.Cluster, []string, error) {
	opts := []kfake.Opt{kfake.NumBrokers(brokers)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, nil, err
	}
	return c, c.ListenAddrs(), nil
}
