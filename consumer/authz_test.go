package consumer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAuthorizationFailuresEndThePartition: a cluster that refuses the user is not a
// fault that heals by waiting. Without Describe on the topic, ConsumePartition fails with
// TOPIC_AUTHORIZATION_FAILED (not as an unknown topic); with Describe but without Read,
// the partition starts and then ends with that error instead of fetching again and again.
func TestAuthorizationFailuresEndThePartition(t *testing.T) {
	allow := func(op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "t", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	const user, password = "alice", "alice-pa55"
	start := func(t *testing.T, acls ...kfake.ACL) *Consumer {
		sc := kafkatest.StartSecure(t, kafkatest.Security{Mechanism: "PLAIN"},
			kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.EnableACLs(), kfake.User("PLAIN", user, password, acls...))
		cfg := testConfig(sc.Seeds, newRecorder())
		cfg.Cluster.Broker.SASL = sasl.Plain{User: user, Password: password}
		return newConsumer(t, cfg)
	}
	t.Run("no describe", func(t *testing.T) {
		c := start(t)
		_, err := c.ConsumePartition(ctxT(t), "t", 0, Oldest())
		if !errors.Is(err, errcode.TopicAuthorizationFailed) || errors.Is(err, ErrUnknownTopic) {
			t.Fatalf("err = %v; want TOPIC_AUTHORIZATION_FAILED, not an unknown topic", err)
		}
	})
	t.Run("no read", func(t *testing.T) {
		c := start(t, allow(kmsg.ACLOperationDescribe))
		pc, err := c.ConsumePartition(ctxT(t), "t", 0, Oldest())
		if err != nil {
			if errors.Is(err, errcode.TopicAuthorizationFailed) {
				t.Log("refused while looking up the offset to start from")
				return
			}
			t.Fatal(err)
		}
		_, err = pc.Next(ctxT(t))
		if !errors.Is(err, errcode.TopicAuthorizationFailed) {
			t.Fatalf("Next: %v; want TOPIC_AUTHORIZATION_FAILED", err)
		}
		<-pc.Done()
		if !errors.Is(pc.Err(), errcode.TopicAuthorizationFailed) {
			t.Fatalf("Err() = %v; want TOPIC_AUTHORIZATION_FAILED", pc.Err())
		}
	})
}

// TestWrongPasswordFailsAtOnce: an authentication failure does not go away by waiting, so
// ConsumePartition fails at once with it (naming the broker), not after retries.
func TestWrongPasswordFailsAtOnce(t *testing.T) {
	sc := kafkatest.StartSecure(t, kafkatest.Security{Mechanism: "SCRAM-SHA-256"}, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	cfg := testConfig(sc.Seeds, newRecorder())
	cfg.Cluster.Broker.SASL = sasl.SCRAMSHA256{User: kafkatest.SecureUser, Password: "not-the-password"}
	c := newConsumer(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.ConsumePartition(ctx, "t", 0, Oldest())
	switch {
	case ctx.Err() != nil:
		t.Fatalf("ConsumePartition waited for the test's deadline: %v", err)
	case !errors.Is(err, broker.ErrAuthentication), !errors.Is(err, broker.ErrPermanent):
		t.Fatalf("err = %v; want an authentication failure", err)
	case !strings.Contains(err.Error(), sc.Seeds[0]):
		t.Fatalf("err = %v does not name the broker %s", err, sc.Seeds[0])
	}
}
