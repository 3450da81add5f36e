package consumer

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestConsumeFromOldest(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "t"))
	produce(t, seeds, "t", 0, 0, 100)
	produce(t, seeds, "t", 1, 0, 50)
	rec := newRecorder()
	c := newConsumer(t, testConfig(seeds, rec))
	r0 := newReader(t, consume(t, c, "t", 0, Oldest), 0)
	r1 := newReader(t, consume(t, c, "t", 1, Oldest), 0)
	r0.read(100)
	r1.read(50)
	produce(t, seeds, "t", 0, 100, 10)
	r0.read(10)
}
