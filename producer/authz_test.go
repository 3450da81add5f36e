package producer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/troupe-go/troupe/wire/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAuthorizationFailuresFailRecordsAsNotWritten: a cluster that refuses the user is not
// a fault that heals by waiting, so the producer does not retry it. Whether the refusal
// comes in the metadata (no Describe on the topic), in InitProducerId (no idempotent
// write) or in the produce response (no Write on the topic), the record fails as not
// written with the Kafka error as its cause, long before UnknownTopicWait and
// DeliveryTimeout (both set far beyond the test's deadline).
func TestAuthorizationFailuresFailRecordsAsNotWritten(t *testing.T) {
	allow := func(res kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	describe := allow(kmsg.ACLResourceTypeTopic, "t", kmsg.ACLOperationDescribe)
	idempotent := allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationIdempotentWrite)
	cases := []struct {
		name  string
		acls  []kfake.ACL
		cause error
	}{
		{"no describe", []kfake.ACL{idempotent}, errcode.TopicAuthorizationFailed},
		{"no idempotent write", []kfake.ACL{describe}, errcode.ClusterAuthorizationFailed},
		{"no write", []kfake.ACL{describe, idempotent}, errcode.TopicAuthorizationFailed},
	}
	const user, password = "alice", "alice-pa55"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := kafkatest.StartSecure(t, kafkatest.Security{Mechanism: "PLAIN"},
				kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.EnableACLs(), kfake.User("PLAIN", user, password, c.acls...))
			p, err := New(Config{Seeds: sc.Seeds, UnknownTopicWait: time.Hour, DeliveryTimeout: time.Hour,
				Cluster: cluster.Config{Broker: broker.Config{SASL: sasl.Plain{User: user, Password: password}}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("v")})
			switch {
			case err == nil:
				t.Fatal("the record was written")
			case ctx.Err() != nil:
				t.Fatalf("the record waited for the test's deadline: %v", err)
			case !errors.Is(err, troupe.ErrNotWritten), !errors.Is(err, c.cause):
				t.Fatalf("err = %v; want not written with %v", err, c.cause)
			case errors.Is(err, ErrUnknownTopic):
				t.Fatalf("err = %v reads as an unknown topic", err)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
