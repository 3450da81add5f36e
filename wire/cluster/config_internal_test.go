package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe/supervisor"
)

// TestTopicBackoffDefaults: a zero TopicBackoff starts at MinRefreshInterval (whatever it
// is) and stops at DefaultTopicBackoffMax; a Max below Min is raised to Min; a negative
// field is refused.
func TestTopicBackoffDefaults(t *testing.T) {
	seeds := []string{"127.0.0.1:9092"}
	for _, tc := range []struct {
		name     string
		cfg      Config
		min, max time.Duration
	}{
		{"zero", Config{Seeds: seeds}, DefaultMinRefreshInterval, DefaultTopicBackoffMax},
		{"follows MinRefreshInterval", Config{Seeds: seeds, MinRefreshInterval: 10 * time.Millisecond}, 10 * time.Millisecond, DefaultTopicBackoffMax},
		{"set", Config{Seeds: seeds, TopicBackoff: supervisor.Backoff{Min: time.Second, Max: 3 * time.Second}}, time.Second, 3 * time.Second},
		{"max below min", Config{Seeds: seeds, TopicBackoff: supervisor.Backoff{Min: 3 * time.Second, Max: time.Second}}, 3 * time.Second, 3 * time.Second},
	} {
		got, err := tc.cfg.withDefaults()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.TopicBackoff.Min != tc.min || got.TopicBackoff.Max != tc.max {
			t.Errorf("%s: TopicBackoff %+v, want {Min:%v Max:%v}", tc.name, got.TopicBackoff, tc.min, tc.max)
		}
	}
	for _, b := range []supervisor.Backoff{{Min: -1}, {Max: -1}} {
		if _, err := (Config{Seeds: seeds, TopicBackoff: b}).withDefaults(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("TopicBackoff %+v: %v, want ErrInvalidConfig", b, err)
		}
	}
}
