package cluster_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/cluster"
	"github.com/troupe-go/troupe/wire/errcode"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func open(t *testing.T, cfg cluster.Config) *cluster.Client {
	t.Helper()
	c, err := cluster.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRefreshDescribesTopicsAndBrokers(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(6, "orders"))
	c := open(t, cluster.Config{Seeds: seeds[:1]})
	if c.Snapshot() != nil {
		t.Fatal("a snapshot before any refresh")
	}
	s, err := c.Refresh(ctxT(t), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Brokers) != 3 {
		t.Fatalf("brokers %v", s.Brokers)
	}
	o := s.Topic("orders")
	if o == nil || o.Err != nil || len(o.Partitions) != 6 || o.ID == [16]byte{} {
		t.Fatalf("topic %+v", o)
	}
	for p := range int32(6) {
		b, _, err := s.Leader("orders", p)
		if err != nil || b.ID != kc.LeaderFor("orders", p) {
			t.Fatalf("partition %d: leader %d, kfake says %d (%v)", p, b.ID, kc.LeaderFor("orders", p), err)
		}
	}
	if c.Snapshot() != s {
		t.Fatal("Snapshot does not return the published snapshot")
	}
	all, err := c.Refresh(ctxT(t))
	if err != nil || all.Topic("orders") == nil || all.Generation <= s.Generation {
		t.Fatalf("refresh of all topics: %v", err)
	}
}

func TestRefreshIsSingleFlight(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	var requests atomic.Int32
	kc.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		requests.Add(1)
		return nil, nil, false
	})
	c := open(t, cluster.Config{Seeds: seeds, MinRefreshInterval: 50 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Refresh(ctxT(t), "t")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// 100 concurrent refreshes: one request in flight at a time, the rest merged into at
	// most one more.
	if n := requests.Load(); n > 3 {
		t.Fatalf("%d metadata requests for 100 concurrent refreshes", n)
	}
}

func TestRefreshIsNewerThanTheCall(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(1, "t"))
	c := open(t, cluster.Config{Seeds: seeds, MinRefreshInterval: time.Millisecond})
	s1, err := c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	old := s1.Topic("t").Partitions[0].Leader
	to := int32(0)
	if old == 0 {
		to = 1
	}
	if err := kc.MoveTopicPartition("t", 0, to); err != nil {
		t.Fatal(err)
	}
	s2, err := c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Topic("t").Partitions[0]; got.Leader != to || got.LeaderEpoch <= s1.Topic("t").Partitions[0].LeaderEpoch {
		t.Fatalf("after a leader move: leader %d epoch %d", got.Leader, got.LeaderEpoch)
	}
}

func TestUnknownTopicIsRetriedThenReported(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	var requests atomic.Int32
	kc.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		requests.Add(1)
		return nil, nil, false
	})
	c := open(t, cluster.Config{Seeds: seeds, MinRefreshInterval: time.Millisecond, TopicRetries: 3})
	s, err := c.Refresh(ctxT(t), "nope")
	if err != nil {
		t.Fatal(err)
	}
	if tp := s.Topic("nope"); tp == nil || !errors.Is(tp.Err, errcode.UnknownTopicOrPartition) {
		t.Fatalf("unknown topic described as %+v", tp)
	}
	if n := requests.Load(); n != 4 {
		t.Fatalf("%d requests, want 1 + 3 retries", n)
	}
}

func TestTopicCreatedDuringRetriesResolves(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	var requests atomic.Int32
	kc.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		if requests.Add(1) == 2 {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.SetVersion(7)
			ct := kmsg.NewCreateTopicsRequestTopic()
			ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "late", 2, 1
			req.Topics = append(req.Topics, ct)
			go kafkatest.AdminErr(seeds[0], req) // created while the client waits
		}
		return nil, nil, false
	})
	c := open(t, cluster.Config{Seeds: seeds, MinRefreshInterval: 20 * time.Millisecond, TopicRetries: 20})
	s, err := c.Refresh(ctxT(t), "late")
	if err != nil {
		t.Fatal(err)
	}
	if tp := s.Topic("late"); tp == nil || tp.Err != nil || len(tp.Partitions) != 2 {
		t.Fatalf("late topic: %+v", tp)
	}
}

func TestAutoTopicCreation(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	off := open(t, cluster.Config{Seeds: seeds, TopicRetries: 1, MinRefreshInterval: time.Millisecond})
	s, err := off.Refresh(ctxT(t), "auto")
	if err != nil || s.Topic("auto").Err == nil {
		t.Fatalf("auto-creation happened although the client did not allow it: %v %+v", err, s.Topic("auto"))
	}
	on := open(t, cluster.Config{Seeds: seeds, AllowAutoTopicCreation: true, MinRefreshInterval: time.Millisecond})
	s, err = on.Refresh(ctxT(t), "auto")
	if err != nil || s.Topic("auto").Err != nil || len(s.Topic("auto").Partitions) != 4 {
		t.Fatalf("auto-created topic: %v %+v", err, s.Topic("auto"))
	}
}

func TestSubscribersHearOfGrowthAndRecreation(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	c := open(t, cluster.Config{Seeds: seeds, MinRefreshInterval: time.Millisecond})
	sub := c.Subscribe()
	defer sub.Close()
	s1, err := c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.SetVersion(3)
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "t", 5
	cp.Topics = append(cp.Topics, cpt)
	kafkatest.Admin(t, seeds[0], cp)
	if _, err := c.Refresh(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	<-sub.Ready()
	if ch := sub.Take(); len(ch) != 1 || ch[0] != (cluster.PartitionsAdded{Topic: "t", From: 2, To: 5}) {
		t.Fatalf("changes %v", ch)
	}

	del := kmsg.NewPtrDeleteTopicsRequest()
	del.SetVersion(4)
	del.TopicNames = []string{"t"}
	kafkatest.Admin(t, seeds[0], del)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.SetVersion(7)
	tt := kmsg.NewCreateTopicsRequestTopic()
	tt.Topic, tt.NumPartitions, tt.ReplicationFactor = "t", 1, 1
	ct.Topics = append(ct.Topics, tt)
	kafkatest.Admin(t, seeds[0], ct)
	s3, err := c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	<-sub.Ready()
	ch := sub.Take()
	if len(ch) != 1 {
		t.Fatalf("changes %v", ch)
	}
	re, ok := ch[0].(cluster.TopicRecreated)
	if !ok || re.OldID != s1.Topic("t").ID || re.NewID != s3.Topic("t").ID {
		t.Fatalf("recreation reported as %#v", ch[0])
	}
}

func TestBrokerRemovalStopsItsConnections(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
	c := open(t, cluster.Config{Seeds: seeds[:1], MinRefreshInterval: time.Millisecond})
	s, err := c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range s.Nodes() { // open a connection to every broker
		h, _ := c.Conn(n, 0)
		if _, err := h.Do(ctxT(t), metadataReq()); err != nil {
			t.Fatal(err)
		}
	}
	if err := kc.RemoveNode(2); err != nil {
		t.Fatal(err)
	}
	s, err = c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Brokers[2]; ok {
		t.Fatal("removed broker still listed")
	}
	waitFor(t, func() bool {
		for _, info := range c.Brokers() {
			if info.Name[:7] == "node-2 " {
				return false
			}
		}
		return true
	})
	// Every partition has a live leader again.
	for p := range int32(3) {
		if b, _, err := s.Leader("t", p); err != nil || b.ID == 2 {
			t.Fatalf("partition %d: %v %v", p, b, err)
		}
	}
	// The node comes back (kfake may give it a new port): it is a new node to the client.
	_, port, err := kc.AddNode(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err = c.Refresh(ctxT(t), "t")
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := s.Brokers[2]; !ok || b.Port != int32(port) {
		t.Fatalf("returned broker: %+v (port %d)", b, port)
	}
	h, _ := c.Conn(s.Brokers[2].Node(), 0)
	if _, err := h.Do(ctxT(t), metadataReq()); err != nil {
		t.Fatalf("to the returned broker: %v", err)
	}
}

func TestDeadSeedsOpenTheMetadataBreaker(t *testing.T) {
	dead := "127.0.0.1:" + strconv.Itoa(kafkatest.FreePort(t))
	c := open(t, cluster.Config{Seeds: []string{dead}, MinRefreshInterval: time.Millisecond,
		Breaker: breakerCfg(3, time.Hour)})
	var err error
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err = c.Refresh(ctx)
		cancel()
		if errors.Is(err, cluster.ErrUnavailable) {
			break
		}
	}
	if !errors.Is(err, cluster.ErrUnavailable) || !errors.Is(err, actor.ErrUnavailable) {
		t.Fatalf("refresh against dead seeds: %v", err)
	}
	// The error says which broker failed and why, not only that the breaker is open.
	if !errors.Is(err, broker.ErrNetwork) || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), dead) {
		t.Fatalf("refresh against dead seeds does not carry the last failure with its address: %v", err)
	}
	// Fails fast from now on.
	begin := time.Now()
	if _, err := c.Refresh(ctxT(t)); !errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("second refresh: %v", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("an open breaker took %v to answer", d)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, seeds := range [][]string{nil, {"nocolon"}, {"host:0"}, {":9092"}, {"h:99999"}} {
		if _, err := cluster.Open(context.Background(), cluster.Config{Seeds: seeds}); !errors.Is(err, cluster.ErrInvalidConfig) {
			t.Fatalf("seeds %q: %v", seeds, err)
		}
	}
	c := open(t, cluster.Config{Seeds: []string{"127.0.0.1:1"}})
	if _, err := c.Refresh(ctxT(t), ""); !errors.Is(err, cluster.ErrInvalidConfig) {
		t.Fatalf("empty topic: %v", err)
	}
}

func TestConnectionLossIsVisibleAsSupervisorEvents(t *testing.T) {
	kc, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	var mu sync.Mutex
	var events []troupe.Event
	c := open(t, cluster.Config{Seeds: seeds, MinRefreshInterval: time.Millisecond, OnEvent: func(e troupe.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	if _, err := c.Refresh(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	var dropped atomic.Bool
	kc.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		if dropped.CompareAndSwap(false, true) {
			return nil, errors.New("injected: close the connection"), true
		}
		return nil, nil, false
	})
	// The refresh survives the dropped connection: the request is retried on a new one.
	if _, err := c.Refresh(ctxT(t), "t"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		var exited, restarted bool
		for _, e := range events {
			switch e.(type) {
			case supervisor.Exited:
				exited = true
			case supervisor.Restarted:
				restarted = true
			}
		}
		return exited && restarted
	})
}

func TestRefreshAsyncAnswersOnce(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	c := open(t, cluster.Config{Seeds: seeds})
	answers := make(chan *cluster.Snapshot, 2)
	c.RefreshAsync(func(s *cluster.Snapshot, err error) {
		if err != nil {
			t.Error(err)
		}
		answers <- s
	}, "t")
	select {
	case s := <-answers:
		if s.Topic("t") == nil || len(s.Topic("t").Partitions) != 2 {
			t.Fatalf("snapshot %+v", s.Topic("t"))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer")
	}
	errs := make(chan error, 1)
	c.RefreshAsync(func(_ *cluster.Snapshot, err error) { errs <- err }, "")
	if err := <-errs; !errors.Is(err, cluster.ErrInvalidConfig) {
		t.Fatalf("empty topic: %v", err)
	}
}

// A metadata request that fails for a cause waiting will not cure (here a dial that
// says so) fails the refresh at once, with that cause, instead of after the breaker's
// repeated failures.
func TestPermanentCauseFailsRefreshAtOnce(t *testing.T) {
	errRefused := errors.New("credentials refused")
	c := open(t, cluster.Config{Seeds: []string{"127.0.0.1:9"}, MinRefreshInterval: time.Hour,
		Broker: broker.Config{Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, broker.Permanent(errRefused)
		}}})
	_, err := c.Refresh(ctxT(t), "t")
	if !errors.Is(err, broker.ErrPermanent) || !errors.Is(err, errRefused) || errors.Is(err, cluster.ErrUnavailable) {
		t.Fatalf("refresh after a permanent failure: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:9") {
		t.Fatalf("the error does not name the broker: %v", err)
	}
}

// TestConfigIsWhatTheClientRuns: Config returns the configuration with its defaults filled
// in, and what was set kept (a group member watching topics reads its RefreshInterval).
func TestConfigIsWhatTheClientRuns(t *testing.T) {
	c := open(t, cluster.Config{Seeds: []string{"127.0.0.1:1"}, RefreshInterval: time.Minute})
	got := c.Config()
	if got.RefreshInterval != time.Minute || got.MinRefreshInterval != cluster.DefaultMinRefreshInterval ||
		got.TopicRetries != cluster.DefaultTopicRetries || got.Logger == nil {
		t.Fatalf("Config() = %+v: want RefreshInterval as set and the defaults filled in", got)
	}
}
