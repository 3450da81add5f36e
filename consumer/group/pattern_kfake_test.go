package group

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/consumer"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Subscription by pattern against kfake, both protocols: topics created after the member
// joined are read, topics the pattern does not match are not, internal topics are left
// out unless asked for, and the errors a pattern can meet.

// patternConsumer is a test consumer whose client lists the cluster's topics every
// 50ms (its RefreshInterval), which is how often a classic pattern member looks for
// new topics.
func patternConsumer(t *testing.T, seeds []string) *consumer.Consumer {
	t.Helper()
	return newConsumerWith(t, seeds, func(c *consumer.Config) { c.Cluster.RefreshInterval = 50 * time.Millisecond })
}

// patternConfig is the test config of protocol p subscribing to pattern.
func patternConfig(group string, p Protocol, pattern string) Config {
	cfg := testGroupConfig(group)
	if p == Consumer {
		cfg = consumerConfig(group)
	}
	cfg.Topics, cfg.TopicPattern = nil, pattern
	return cfg
}

// waitReadTopic waits until col has read offsets 0 to n-1 of each of parts partitions of
// topic.
func waitReadTopic(t *testing.T, col *collector, topic string, parts, n int) {
	t.Helper()
	col.waitFor(t, "read-through of "+topic, func() bool {
		for p := range parts {
			offs := col.seen[consumer.About{Topic: topic, Partition: int32(p)}]
			for o := range int64(n) {
				if !slices.Contains(offs, o) {
					return false
				}
			}
		}
		return true
	})
}

func assignedTopics(m *Member) []string {
	var out []string
	for _, a := range m.Assigned() {
		out = append(out, a.Topic)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestPatternPicksUpNewTopics(t *testing.T) {
	for _, p := range []Protocol{Classic, Consumer} {
		t.Run(p.String(), func(t *testing.T) {
			const n = 10
			kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "ev-a", "other", "xev-a"),
				kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": "50"}))
			produceTo(t, seeds, "ev-a", 2, n)
			produceTo(t, seeds, "other", 2, n)
			produceTo(t, seeds, "xev-a", 2, n) // "ev-.*" matches whole names only
			m1 := joinOn(t, patternConsumer(t, seeds), patternConfig("gp-"+p.String(), p, "ev-.*"), "m1")
			waitReadTopic(t, m1, "ev-a", 2, n)
			if got := assignedTopics(m1.m); !slices.Equal(got, []string{"ev-a"}) {
				t.Fatalf("assigned topics %q, want ev-a", got)
			}

			// A topic created after the member joined is read; one that does not match is not.
			if err := kc.CreateTopic("ev-b", 3, nil); err != nil {
				t.Fatal(err)
			}
			if err := kc.CreateTopic("later-other", 1, nil); err != nil {
				t.Fatal(err)
			}
			produceTo(t, seeds, "ev-b", 3, n)
			produceTo(t, seeds, "later-other", 1, n)
			waitReadTopic(t, m1, "ev-b", 3, n)
			m1.waitFor(t, "ev-a and ev-b assigned", func() bool {
				return slices.Equal(assignedTopics(m1.m), []string{"ev-a", "ev-b"})
			})
			// Nothing read twice: ev-a's records were committed when the classic
			// member gave everything up to rejoin (a KIP-848 member keeps ev-a).
			for a, offs := range union(m1) {
				if a.Topic != "ev-a" && a.Topic != "ev-b" {
					t.Errorf("read %s, which the pattern does not match", a)
				}
				for o, c := range offs {
					if c > 1 {
						t.Errorf("%s offset %d read %d times", a, o, c)
					}
				}
			}
		})
	}
}

func TestPatternClassicDropsDeletedTopics(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "ev-a", "ev-b"))
	cfg := patternConfig("gd", Classic, "ev-.*")
	c := patternConsumer(t, seeds)
	m, err := Join(ctxT(t), c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Close(ctxT(t)); err != nil {
			t.Error(err)
		}
	}()
	waitTopics := func(want ...string) {
		t.Helper()
		deadline := time.After(testTimeout)
		for {
			settled := m.settled() // before looking: a change after it wakes the wait
			if slices.Equal(assignedTopics(m), want) {
				return
			}
			select {
			case <-settled:
			case <-deadline:
				t.Fatalf("assigned %q, want %q", assignedTopics(m), want)
			}
		}
	}
	waitTopics("ev-a", "ev-b")
	if err := kc.DeleteTopic("ev-b"); err != nil {
		t.Fatal(err)
	}
	waitTopics("ev-a")
}

func TestPatternClassicSkipsInternalTopics(t *testing.T) {
	const n = 5
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "ev-a"))
	if err := kc.CreateTopic("ev-internal", 1, map[string]string{"kfake.is_internal": "true"}); err != nil {
		t.Fatal(err)
	}
	produceTo(t, seeds, "ev-a", 1, n)
	produceTo(t, seeds, "ev-internal", 1, n)

	skip := joinOn(t, patternConsumer(t, seeds), patternConfig("gi1", Classic, "ev-.*"), "skip")
	cfg := patternConfig("gi2", Classic, "ev-.*")
	cfg.MatchInternalTopics = true
	take := joinOn(t, patternConsumer(t, seeds), cfg, "take")
	waitReadTopic(t, skip, "ev-a", 1, n)
	waitReadTopic(t, take, "ev-internal", 1, n)
	if got := assignedTopics(skip.m); !slices.Equal(got, []string{"ev-a"}) {
		t.Fatalf("without MatchInternalTopics: assigned %q", got)
	}
	if got := assignedTopics(take.m); !slices.Equal(got, []string{"ev-a", "ev-internal"}) {
		t.Fatalf("with MatchInternalTopics: assigned %q", got)
	}
}

func TestPatternErrors(t *testing.T) {
	t.Run("an invalid pattern", func(t *testing.T) {
		_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
		cfg := patternConfig("ge", Classic, "ev-(")
		if _, err := Join(ctxT(t), newConsumer(t, seeds), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Join: %v, want ErrInvalidConfig", err)
		}
	})
	t.Run("INVALID_REGULAR_EXPRESSION from the coordinator", func(t *testing.T) {
		kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "ev-a"))
		kc.ControlKey(int16(kmsg.ConsumerGroupHeartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
			kc.KeepControl()
			r := req.(*kmsg.ConsumerGroupHeartbeatRequest)
			if r.SubscribedTopicRegex == nil {
				return nil, nil, false
			}
			resp := r.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
			resp.ErrorCode = errcode.InvalidRegularExpression.Code
			return resp, nil, true
		})
		_, err := Join(ctxT(t), newConsumer(t, seeds), patternConfig("ge", Consumer, "ev-.*"))
		if !errors.Is(err, errcode.InvalidRegularExpression) {
			t.Fatalf("Join: %v, want INVALID_REGULAR_EXPRESSION", err)
		}
	})
	t.Run("a coordinator of ConsumerGroupHeartbeat v0", func(t *testing.T) {
		v := kversion.Stable()
		v.SetMaxKeyVersion(int16(kmsg.ConsumerGroupHeartbeat), 0)
		_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "ev-a"), kfake.MaxVersions(v))
		_, err := Join(ctxT(t), newConsumer(t, seeds), patternConfig("ge", Consumer, "ev-.*"))
		if !errors.Is(err, ErrPatternNotSupported) {
			t.Fatalf("Join: %v, want ErrPatternNotSupported", err)
		}
	})
}

// TestPatternWithAKgoMember: a troupe member and a franz-go member (ConsumeRegex) share
// one classic group, each subscribed by the same pattern, and split the topics it
// matches, a topic created after both joined included: together they read every record
// of the matched topics, and nothing else.
func TestPatternWithAKgoMember(t *testing.T) {
	const n = 10
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "ev-a", "other"))
	// Anchored: kgo matches anywhere in a name, troupe the whole name; anchors make
	// them agree.
	const pattern = "^ev-.*$"
	m1 := joinOn(t, patternConsumer(t, seeds), patternConfig("gk", Classic, pattern), "troupe")

	var mu sync.Mutex
	kgoSeen := make(map[consumer.About]map[int64]int)
	changed := make(chan struct{}, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup("gk"), kgo.ConsumeRegex(), kgo.ConsumeTopics(pattern),
		kgo.Balancers(kgo.RangeBalancer()), kgo.DisableAutoCommit(), kgo.HeartbeatInterval(50*time.Millisecond),
		kgo.MetadataMinAge(20*time.Millisecond), kgo.MetadataMaxAge(50*time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				a := consumer.About{Topic: r.Topic, Partition: r.Partition}
				if kgoSeen[a] == nil {
					kgoSeen[a] = make(map[int64]int)
				}
				kgoSeen[a][r.Offset]++
			})
			mu.Unlock()
			signalCh(changed)
		}
	}()
	defer func() {
		cancel()
		<-polled
		cl.Close()
	}()

	// readAll reports whether the two have read every record of topics.
	readAll := func(topics ...string) bool {
		got := union(m1)
		mu.Lock()
		defer mu.Unlock()
		for _, topic := range topics {
			for p := range int32(2) {
				a := consumer.About{Topic: topic, Partition: p}
				for o := range int64(n) {
					if got[a][o] == 0 && kgoSeen[a][o] == 0 {
						return false
					}
				}
			}
		}
		return true
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for {
			// The channels first: a change after cond looked wakes the wait.
			m1.mu.Lock()
			ch := m1.change
			m1.mu.Unlock()
			settled := m1.m.settled()
			if cond() {
				return
			}
			select {
			case <-changed:
			case <-ch:
			case <-settled:
			case <-ctx.Done():
				t.Fatalf("%s: not so within %v: troupe owns %v", what, testTimeout, m1.m.Assigned())
			}
		}
	}
	produceTo(t, seeds, "ev-a", 2, n)
	produceTo(t, seeds, "other", 2, n)
	// troupe owns one partition of ev-a once kgo joined, subscribed to it too.
	waitOwns(t, m1.m, map[string]int{"ev-a": 1})
	wait("ev-a read", func() bool { return readAll("ev-a") })

	// Created once both have joined.
	if err := kc.CreateTopic("ev-b", 2, nil); err != nil {
		t.Fatal(err)
	}
	produceTo(t, seeds, "ev-b", 2, n)
	wait("ev-b read", func() bool { return readAll("ev-a", "ev-b") })
	// Once both subscribe to ev-b, range gives each one partition of each topic: troupe
	// owns one of ev-b only if kgo subscribes to it too.
	waitOwns(t, m1.m, map[string]int{"ev-a": 1, "ev-b": 1})
	mu.Lock()
	defer mu.Unlock()
	for a := range kgoSeen {
		if a.Topic == "other" {
			t.Errorf("kgo read %s", a)
		}
	}
	for a := range union(m1) {
		if a.Topic == "other" {
			t.Errorf("troupe read %s", a)
		}
	}
}

// TestPatternOthersTakeANewTopicInTheSameRebalance: of two classic members subscribed by
// one pattern, the one that lists the cluster's topics often notices a new topic and
// rejoins; the other, whose own listing would come only in an hour, lists them again
// before it rejoins in that rebalance, so it subscribes to the new topic at once (range
// gives it one of its partitions only if it does).
func TestPatternOthersTakeANewTopicInTheSameRebalance(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "ev-a"))
	m1 := joinOn(t, patternConsumer(t, seeds), patternConfig("gs", Classic, "ev-.*"), "often")
	slow := newConsumerWith(t, seeds, func(c *consumer.Config) { c.Cluster.RefreshInterval = time.Hour })
	m2 := joinOn(t, slow, patternConfig("gs", Classic, "ev-.*"), "hourly")
	waitOwns(t, m2.m, map[string]int{"ev-a": 1})
	if err := kc.CreateTopic("ev-b", 2, nil); err != nil {
		t.Fatal(err)
	}
	waitOwns(t, m2.m, map[string]int{"ev-a": 1, "ev-b": 1})
	waitOwns(t, m1.m, map[string]int{"ev-a": 1, "ev-b": 1})
}

// owns reports whether m owns, of each topic, as many partitions as want says (and of no
// other topic).
func owns(m *Member, want map[string]int) bool {
	by := map[string]int{}
	for _, a := range m.Assigned() {
		by[a.Topic]++
	}
	return maps.Equal(by, want)
}

// waitOwns waits until owns(m, want).
func waitOwns(t *testing.T, m *Member, want map[string]int) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		settled := m.settled() // before looking: a change after it wakes the wait
		if owns(m, want) {
			return
		}
		select {
		case <-settled:
		case <-deadline:
			t.Fatalf("%s owns %v, want partitions of %v", m.MemberID(), m.Assigned(), want)
		}
	}
}

// TestPatternMatchingNothingYet: a member whose pattern matches no topic joins with an
// empty subscription (Join returns, owning nothing) and reads the first topic the pattern
// matches once it is created.
func TestPatternMatchingNothingYet(t *testing.T) {
	for _, p := range []Protocol{Classic, Consumer} {
		t.Run(p.String(), func(t *testing.T) {
			const n = 5
			kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "other"),
				kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": "50"}))
			m1 := joinOn(t, patternConsumer(t, seeds), patternConfig("gn-"+p.String(), p, "new-.*"), "m1")
			if got := m1.m.Assigned(); len(got) != 0 {
				t.Fatalf("assigned %v before any topic matches", got)
			}
			if err := kc.CreateTopic("new-a", 2, nil); err != nil {
				t.Fatal(err)
			}
			produceTo(t, seeds, "new-a", 2, n)
			waitReadTopic(t, m1, "new-a", 2, n)
		})
	}
}
