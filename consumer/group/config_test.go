package group

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsAreTheDocumentedOnes(t *testing.T) {
	cfg, err := Config{Group: "g", Topics: []string{"t"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Assignors) != 1 || cfg.Assignors[0].Name() != "range" {
		t.Errorf("default assignors %v, want range alone", cfg.Assignors)
	}
	if cfg.SessionTimeout != 45*time.Second || cfg.HeartbeatInterval != 3*time.Second || cfg.ProcessingTime != 5*time.Minute ||
		cfg.AutoCommitInterval != 5*time.Second || cfg.DisableAutoCommit ||
		cfg.Backoff.Min != 100*time.Millisecond || cfg.Backoff.Max != 5*time.Second {
		t.Errorf("defaults %+v", cfg)
	}
}

func TestConfigRefused(t *testing.T) {
	ok := Config{Group: "g", Topics: []string{"t"}, Assignors: []Assignor{Range()}}
	cases := map[string]func(*Config){
		"no group":                 func(c *Config) { c.Group = "" },
		"no topics":                func(c *Config) { c.Topics = nil },
		"an empty topic":           func(c *Config) { c.Topics = []string{""} },
		"a topic name too long":    func(c *Config) { c.Topics = []string{strings.Repeat("t", 250)} },
		"a nil assignor":           func(c *Config) { c.Assignors = []Assignor{nil} },
		"an assignor named twice":  func(c *Config) { c.Assignors = []Assignor{Range(), Range()} },
		"a negative timeout":       func(c *Config) { c.SessionTimeout = -1 },
		"a negative interval":      func(c *Config) { c.AutoCommitInterval = -1 },
		"heartbeat above session":  func(c *Config) { c.HeartbeatInterval = time.Minute },
		"a session above 2^31 ms":  func(c *Config) { c.SessionTimeout = 1000 * time.Hour },
		"processing above 2^31 ms": func(c *Config) { c.ProcessingTime = 1000 * time.Hour },
	}
	for name, change := range cases {
		cfg := ok
		change(&cfg)
		if _, err := cfg.withDefaults(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

// Cooperative assignors are accepted (KIP-429), alone or beside eager ones: the
// coordinator's choice decides how the group rebalances.
func TestConfigTakesCooperativeAssignors(t *testing.T) {
	for _, as := range [][]Assignor{{CooperativeSticky()}, {CooperativeSticky(), Range()}, {Range(), CooperativeSticky()}} {
		if _, err := (Config{Group: "g", Topics: []string{"t"}, Assignors: as}).withDefaults(); err != nil {
			t.Errorf("%v: %v", as, err)
		}
	}
}
