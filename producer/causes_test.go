package producer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/twmb/franz-go/pkg/kfake"
)

// refusedSeed is an address on 127.0.0.1 where nothing listens: connections to it are
// refused at once.
func refusedSeed(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", kafkatest.FreePort(t))
}

// refusedCluster opens metadata's breaker at the first failure, so that a refresh
// against refused seeds fails (with its cause) long before the test's waits end.
func refusedCluster() cluster.Config {
	return cluster.Config{Breaker: supervisor.BreakerConfig{Errors: 1, Timeout: time.Hour}}
}

// checkRefused checks err is a record error for seed's refused connection: not written,
// the cluster unavailable, the network error with the broker's address — not an unknown
// topic.
func checkRefused(t *testing.T, err error, seed string) {
	t.Helper()
	switch {
	case !errors.Is(err, troupe.ErrNotWritten):
		t.Fatalf("not 'not written': %v", err)
	case !errors.Is(err, cluster.ErrUnavailable):
		t.Fatalf("does not match cluster.ErrUnavailable: %v", err)
	case !errors.Is(err, broker.ErrNetwork), !errors.Is(err, syscall.ECONNREFUSED):
		t.Fatalf("does not carry the refused connection: %v", err)
	case !strings.Contains(err.Error(), seed):
		t.Fatalf("does not name the broker %s: %v", seed, err)
	case strings.Count(err.Error(), "network error") != 1:
		t.Fatalf("does not read once: %v", err)
	case errors.Is(err, producer.ErrUnknownTopic):
		t.Fatalf("reads as an unknown topic though no broker answered: %v", err)
	}
}

// A producer whose seeds refuse connections fails its records, after UnknownTopicWait,
// with what went wrong: no broker answered (cluster.ErrUnavailable), which one, and why.
// Before, the record failed with "unknown topic: did not appear within ...", and the
// refused connection showed only in the logs.
func TestRefusedSeedsFailRecordsWithTheCause(t *testing.T) {
	seed := refusedSeed(t)
	p := newProducer(t, producer.Config{Seeds: []string{seed}, Cluster: refusedCluster(), UnknownTopicWait: 2 * time.Second})
	begin := time.Now()
	err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "events", Value: []byte("x")})
	checkRefused(t, err, seed)
	if waited := time.Since(begin); waited < 2*time.Second {
		t.Fatalf("failed after %v, before UnknownTopicWait", waited)
	}
}

// Close does not wait out UnknownTopicWait for records whose topic no broker can
// describe: they fail at once, as closed, with the cause. Before, Close blocked for the
// rest of UnknownTopicWait (7s of the default 10s in the report).
func TestCloseDoesNotWaitOutUnknownTopicWaitWhenNoBrokerAnswers(t *testing.T) {
	seed := refusedSeed(t)
	p, err := producer.New(producer.Config{Seeds: []string{seed}, Cluster: refusedCluster(), UnknownTopicWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	outcome := make(chan error, 1)
	p.Produce(context.Background(), &troupe.Record{Topic: "events", Value: []byte("x")}, func(_ *troupe.Record, err error) { outcome <- err })
	// Close's context is far shorter than UnknownTopicWait: a Close that waits out the
	// topic wait ends with it instead, and reports records failed at its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err = <-outcome
	checkRefused(t, err, seed)
	if !errors.Is(err, troupe.ErrClosed) {
		t.Fatalf("does not say the producer closed: %v", err)
	}
}

// An outage after the producer has worked does not fail accepted records early: they
// wait for the brokers until DeliveryTimeout, and then fail with the last cause (here
// the refused connection, with the broker's address). The outage is reported as it
// starts, by an event naming the broker connection that failed.
func TestOutageAfterWorkingWaitsForDeliveryTimeoutAndKeepsTheCause(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	outage := make(chan supervisor.Exited, 16)
	const deliveryTimeout = 1500 * time.Millisecond
	p := newProducer(t, producer.Config{
		Seeds: seeds, Linger: -1, DeliveryTimeout: deliveryTimeout, Backoff: supervisor.Backoff{Min: 10 * time.Millisecond},
		OnEvent: func(e troupe.Event) {
			if x, ok := e.(supervisor.Exited); ok && x.Err != nil && strings.Contains(x.Child, "produce") {
				select {
				case outage <- x:
				default:
				}
			}
		},
	})
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	c.Close() // every broker gone: the connections break, and new ones are refused
	begin := time.Now()
	result := make(chan error, 1)
	go func() {
		result <- p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("during")})
	}()
	var err error
	select {
	case e := <-outage:
		if !errors.Is(e.Err, broker.ErrNetwork) || !strings.Contains(e.Child, seeds[0]) {
			t.Fatalf("the outage event does not name the broker and a network failure: %v", e)
		}
	case err = <-result:
		t.Fatalf("the record failed (%v) before any event reported the outage", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no event reported the outage")
	}
	err = <-result
	if waited := time.Since(begin); waited < deliveryTimeout {
		t.Fatalf("failed after %v, before DeliveryTimeout: %v", waited, err)
	}
	switch {
	// Not written, or maybe written if the first attempt went out on a connection the
	// closed cluster had not yet broken: either is true.
	case !errors.Is(err, producer.ErrDeliveryTimeout), errors.Is(err, troupe.ErrNotWritten) == errors.Is(err, troupe.ErrMaybeWritten):
		t.Fatalf("the record's outcome: %v", err)
	case !errors.Is(err, broker.ErrNetwork), !errors.Is(err, syscall.ECONNREFUSED), !strings.Contains(err.Error(), seeds[0]):
		t.Fatalf("the delivery timeout does not carry the last cause with the broker's address: %v", err)
	}
}

// errCredentials stands for a cause that the brokers' security settings give and that
// waiting will not cure (credentials refused, TLS expected): the security work's errors
// join the same class, broker.ErrPermanent.
var errCredentials = errors.New("credentials refused")

// checkPermanent checks err is a record error carrying errCredentials as a permanent
// cause, and returned before ctx (far shorter than the producer's waits) ended.
func checkPermanent(t *testing.T, ctx context.Context, err error) {
	t.Helper()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("the record waited though the cause will not go away: %v", err)
	case !errors.Is(err, broker.ErrPermanent), !errors.Is(err, errCredentials):
		t.Fatalf("does not carry the permanent cause: %v", err)
	case errors.Is(err, troupe.ErrNotWritten) == errors.Is(err, troupe.ErrMaybeWritten):
		t.Fatalf("not exactly one of the two classes: %v", err)
	case errors.Is(err, producer.ErrUnknownTopic), errors.Is(err, producer.ErrDeliveryTimeout):
		t.Fatalf("reads as a wait that ran out: %v", err)
	}
}

// Records whose topic cannot be looked up because every connection fails for a cause
// waiting will not cure fail at once with that cause, not after UnknownTopicWait.
func TestPermanentCauseFailsWaitingRecordsAtOnce(t *testing.T) {
	seed := refusedSeed(t)
	cc := cluster.Config{Broker: broker.Config{Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, broker.Permanent(errCredentials)
	}}}
	p := newProducer(t, producer.Config{Seeds: []string{seed}, Cluster: cc, UnknownTopicWait: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := p.ProduceSync(ctx, &troupe.Record{Topic: "events", Value: []byte("x")})
	checkPermanent(t, ctx, err)
	if !errors.Is(err, troupe.ErrNotWritten) || !strings.Contains(err.Error(), seed) {
		t.Fatalf("not written, naming the broker: %v", err)
	}
}

// Records of a partition whose broker starts refusing the producer for a cause waiting
// will not cure fail at once with it, not after DeliveryTimeout.
func TestPermanentCauseAfterWorkingFailsRecordsAtOnce(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	var refuse atomic.Bool
	var d net.Dialer
	cc := cluster.Config{Broker: broker.Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if refuse.Load() {
			return nil, broker.Permanent(errCredentials)
		}
		return d.DialContext(ctx, network, addr)
	}}}
	p := newProducer(t, producer.Config{Seeds: seeds, Cluster: cc, Linger: -1, DeliveryTimeout: time.Minute, Backoff: supervisor.Backoff{Min: 10 * time.Millisecond}})
	if err := p.ProduceSync(context.Background(), &troupe.Record{Topic: "t", Value: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	c.Close() // the connections break; new ones meet the permanent cause
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	checkPermanent(t, ctx, p.ProduceSync(ctx, &troupe.Record{Topic: "t", Value: []byte("after")}))
}
