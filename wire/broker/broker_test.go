package broker_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/supervisor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/record"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The breaker's timer goroutine sleeps out its timeout and ends by itself.
		goleak.IgnoreAnyFunction("github.com/eapache/go-resiliency/breaker.(*Breaker).timer"),
	)
}

// startPool starts a pool as a top-level actor and stops it when the test ends.
func startPool(t *testing.T, cfg broker.Config) *broker.Pool {
	t.Helper()
	p, err := broker.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	proc := p.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := proc.Stop(ctx); err != nil {
			t.Errorf("stopping the pool: %v", err)
		}
	})
	return p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func metadataReq() *api.MetadataRequest {
	var r api.MetadataRequest
	r.Default()
	return &r
}

func TestHandshakeAndRequest(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	p := startPool(t, broker.Config{})
	h, err := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if h.Versions() != nil {
		t.Fatal("versions known before the first call: the connection must dial lazily")
	}
	req := metadataReq()
	req.Topics = []api.MetadataRequestTopic{{Name: ptr("t")}}
	resp, err := h.Do(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	md := resp.(*api.MetadataResponse)
	if len(md.Brokers) != 1 || len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 3 {
		t.Fatalf("metadata %+v", md)
	}
	v, ok := h.Versions().Max(api.Metadata)
	if !ok || v != 13 {
		t.Fatalf("negotiated Metadata v%d, want 13 (kfake's max)", v)
	}
}

func TestOlderBrokerVersionsAreNegotiated(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.MaxVersions(kversion.V2_8_0()))
	p := startPool(t, broker.Config{})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	if _, err := h.Do(ctxT(t), metadataReq()); err != nil {
		t.Fatal(err)
	}
	want, _ := kversion.V2_8_0().LookupMaxKeyVersion(int16(api.Metadata))
	if v, _ := h.Versions().Max(api.Metadata); v != want {
		t.Fatalf("Metadata v%d against a 2.8 broker, want v%d", v, want)
	}
	wantAV, _ := kversion.V2_8_0().LookupMaxKeyVersion(int16(api.APIVersions))
	if v, _ := h.Versions().Max(api.APIVersions); v != wantAV {
		t.Fatalf("ApiVersions v%d, want v%d", v, wantAV)
	}
}

func TestPipelinedCallsAllCompleteOnce(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	p := startPool(t, broker.Config{MaxInflight: 4})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	const n = 500
	var done sync.WaitGroup
	var completions [n]atomic.Int32
	done.Add(n)
	for i := range n {
		i := i
		call := &broker.Call{Request: metadataReq(), Done: func(c *broker.Call) {
			if c.Err != nil {
				t.Errorf("call %d: %v", i, c.Err)
			}
			completions[i].Add(1)
			done.Done()
		}}
		if err := h.Send(ctxT(t), call); err != nil {
			t.Fatal(err)
		}
	}
	waitGroup(t, &done)
	for i := range completions {
		if c := completions[i].Load(); c != 1 {
			t.Fatalf("call %d completed %d times", i, c)
		}
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("calls did not complete")
	}
}

func TestDeadlineFailsAsMaybeSentAndReconnects(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	var held atomic.Bool
	c.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		held.Store(true)
		return nil, nil, true // swallow the request: never answer it
	})
	p := startPool(t, broker.Config{})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	done := make(chan *broker.Call, 1)
	if err := h.Send(ctxT(t), &broker.Call{Request: metadataReq(), Deadline: time.Now().Add(300 * time.Millisecond),
		Done: func(c *broker.Call) { done <- c }}); err != nil {
		t.Fatal(err)
	}
	err := (<-done).Err
	if !errors.Is(err, broker.ErrRequestTimeout) || !errors.Is(err, broker.ErrMaybeSent) || !broker.Retriable(err) {
		t.Fatalf("unanswered request: %v", err)
	}
	if !held.Load() {
		t.Fatal("the request never reached the broker")
	}
	// The next call goes over a new connection and succeeds.
	if _, err := h.Do(ctxT(t), metadataReq()); err != nil {
		t.Fatalf("after a timeout: %v", err)
	}
}

func TestBrokerClosingConnectionFailsInflightOnce(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	var seen atomic.Int32
	c.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		if seen.Add(1) == 3 {
			return nil, errors.New("injected: close the connection"), true
		}
		return nil, nil, false
	})
	p := startPool(t, broker.Config{})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	const n = 20
	results := make(chan *broker.Call, n)
	for range n {
		if err := h.Send(ctxT(t), &broker.Call{Request: metadataReq(), Done: func(c *broker.Call) { results <- c }}); err != nil {
			t.Fatal(err)
		}
	}
	var ok, maybe, notSent int
	for range n {
		select {
		case c := <-results:
			switch {
			case c.Err == nil:
				ok++
			case errors.Is(c.Err, broker.ErrMaybeSent):
				maybe++
				if !errors.Is(c.Err, broker.ErrNetwork) || !broker.Retriable(c.Err) {
					t.Fatalf("in-flight failure: %v", c.Err)
				}
			case errors.Is(c.Err, broker.ErrNotSent):
				notSent++
			default:
				t.Fatalf("unclassified failure: %v", c.Err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a call never completed")
		}
	}
	select {
	case c := <-results:
		t.Fatalf("a call completed twice: %v", c.Err)
	default:
	}
	if ok < 2 || maybe < 1 {
		t.Fatalf("ok %d, maybe-sent %d, not-sent %d", ok, maybe, notSent)
	}
	if _, err := h.Do(ctxT(t), metadataReq()); err != nil {
		t.Fatalf("after the broker closed the connection: %v", err)
	}
}

func TestDialFailuresOpenTheBreaker(t *testing.T) {
	var events []troupe.Event
	var mu sync.Mutex
	opened := make(chan struct{}, 1)
	dead := "127.0.0.1:" + strconv.Itoa(kafkatest.FreePort(t))
	p := startPool(t, broker.Config{
		ConnectTimeout: time.Second,
		Breaker:        supervisor.BreakerConfig{Errors: 2, Timeout: time.Hour},
		Backoff:        supervisor.Backoff{Min: time.Millisecond, Max: time.Millisecond},
		OnEvent: func(e troupe.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
			if _, ok := e.(supervisor.BreakerOpened); ok {
				opened <- struct{}{}
			}
		},
	})
	h, _ := p.Conn(broker.Node{ID: 7, Addr: dead}, broker.Produce)
	ctx := ctxT(t)
	for i := 0; ; i++ {
		_, err := h.Do(ctx, metadataReq())
		if err == nil {
			t.Fatal("a call to nothing succeeded")
		}
		if errors.Is(err, broker.ErrUnavailable) {
			if !errors.Is(err, broker.ErrNotSent) || errors.Is(err, broker.ErrMaybeSent) || !broker.Retriable(err) {
				t.Fatalf("breaker-open failure: %v", err)
			}
			// It says what opened the breaker, not only that it is open.
			if !errors.Is(err, broker.ErrNetwork) || !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("breaker-open failure without the failure that opened it: %v", err)
			}
			break
		}
		if !errors.Is(err, broker.ErrNetwork) || !errors.Is(err, broker.ErrNotSent) {
			t.Fatalf("dial failure %d: %v", i, err)
		}
		if i > 50 {
			t.Fatal("the breaker never opened")
		}
	}
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("no BreakerOpened event")
	}
}

func TestEOFRightAfterConnectIsRetriable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closer := &acceptCloser{l: l, done: make(chan struct{})}
	go closer.run()
	t.Cleanup(func() { l.Close(); <-closer.done })
	p := startPool(t, broker.Config{})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: l.Addr().String()}, broker.Admin)
	_, err = h.Do(ctxT(t), metadataReq())
	if !errors.Is(err, broker.ErrNetwork) || !errors.Is(err, broker.ErrNotSent) || !broker.Retriable(err) {
		t.Fatalf("EOF after connect: %v", err)
	}
}

// acceptCloser accepts connections and closes them at once.
type acceptCloser struct {
	l    net.Listener
	done chan struct{}
}

func (a *acceptCloser) run() {
	defer close(a.done)
	for {
		c, err := a.l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func TestOversizedResponseIsRefused(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(200, "big"))
	p := startPool(t, broker.Config{MaxResponseBytes: 2048}) // room for the handshake, not the metadata
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	_, err := h.Do(ctxT(t), metadataReq())
	if !errors.Is(err, broker.ErrProtocol) || !errors.Is(err, broker.ErrMaybeSent) {
		t.Fatalf("oversized response: %v", err)
	}
}

func TestAcksZeroProduceNeedsNoResponse(t *testing.T) {
	c, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	p := startPool(t, broker.Config{})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Produce)
	b := record.NewBuilder(nil)
	b.Reset(nil)
	b.Append(&troupe.Record{Value: []byte("fire and forget"), Timestamp: time.Now()})
	batch, err := b.Seal(record.NoProducer())
	if err != nil {
		t.Fatal(err)
	}
	var req api.ProduceRequest
	req.Default()
	req.Acks = 0
	req.TimeoutMs = 5000
	req.TopicData = []api.ProduceRequestTopicProduceData{{Name: "t", PartitionData: []api.ProduceRequestPartitionProduceData{{Index: 0, Records: batch}}}}
	done := make(chan *broker.Call, 1)
	if err := h.Send(ctxT(t), &broker.Call{Request: &req, VersionCap: 12, NoResponse: true, Done: func(c *broker.Call) { done <- c }}); err != nil {
		t.Fatal(err)
	}
	select {
	case call := <-done:
		if call.Err != nil || call.Response != nil {
			t.Fatalf("acks=0: err %v, response %v", call.Err, call.Response)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("acks=0 produce never completed")
	}
	// The connection stays in step: a request after it (on the same connection, so
	// answered after the produce was applied) gets its own answer, and sees the record.
	if hw := highWater(t, h, "t"); hw != 1 {
		t.Fatalf("high watermark %d after an acks=0 produce, want 1", hw)
	}
	_ = c
}

func TestRetainStopsConnectionsOfGoneBrokers(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	p := startPool(t, broker.Config{})
	node := broker.Node{ID: 0, Addr: seeds[0]}
	h, _ := p.Conn(node, broker.Admin)
	if _, err := h.Do(ctxT(t), metadataReq()); err != nil {
		t.Fatal(err)
	}
	same, _ := p.Conn(node, broker.Admin)
	if same != h {
		t.Fatal("Conn made a second connection for the same node and purpose")
	}
	p.Retain(nil, false)
	if _, err := h.Do(ctxT(t), metadataReq()); !errors.Is(err, broker.ErrConnStopped) || !errors.Is(err, broker.ErrNotSent) {
		t.Fatalf("call on a retired connection: %v", err)
	}
	waitFor(t, func() bool { return len(p.Children()) == 0 })
	// The node coming back (on the same or a new address) gets a fresh connection.
	h2, _ := p.Conn(node, broker.Admin)
	if h2 == h {
		t.Fatal("retired handle reused")
	}
	if _, err := h2.Do(ctxT(t), metadataReq()); err != nil {
		t.Fatal(err)
	}
}

func highWater(t *testing.T, h *broker.Handle, topic string) int {
	var req api.ListOffsetsRequest
	req.Default()
	req.Topics = []api.ListOffsetsRequestTopic{{Name: topic, Partitions: []api.ListOffsetsRequestPartition{{PartitionIndex: 0, Timestamp: -1, CurrentLeaderEpoch: -1}}}}
	resp, err := h.Do(ctxT(t), &req)
	if err != nil {
		t.Fatal(err)
	}
	return int(resp.(*api.ListOffsetsResponse).Topics[0].Partitions[0].Offset)
}

// waitFor waits, up to 20s, for cond to hold, checking every millisecond.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatal("condition not met within 20s")
		case <-tick.C:
		}
	}
}

func ptr[T any](v T) *T { return &v }

// A connection whose reader waits for the next call (nothing in flight) stops at once
// when cancelled: teardown must release the reader before joining it.
func TestIdleConnectionStopsPromptlyOnCancel(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	p, err := broker.NewPool(broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	proc := p.Start(context.Background())
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	if _, err := h.Do(ctxT(t), metadataReq()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := proc.Cancel(ctx); err != nil {
		t.Fatalf("cancelling a pool with an idle connection: %v", err)
	}
}

// Prepare sees the version the connection picked (the highest both sides speak, within
// VersionCap) before the request is validated, and an error from it fails the call as
// not sent.
func TestPrepareSeesThePickedVersion(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1))
	p := startPool(t, broker.Config{})
	h, _ := p.Conn(broker.Node{ID: -1, Addr: seeds[0]}, broker.Admin)
	for _, vcap := range []int16{0, 9} {
		var seen int16 = -1
		call := &broker.Call{Request: metadataReq(), VersionCap: vcap, Prepare: func(v int16) error { seen = v; return nil }}
		if err := h.DoCall(ctxT(t), call); err != nil {
			t.Fatal(err)
		}
		if seen != call.Version || (vcap > 0 && seen != vcap) || (vcap == 0 && seen != 13) {
			t.Fatalf("cap %d: Prepare saw v%d, the call went at v%d", vcap, seen, call.Version)
		}
	}
	refuse := errors.New("no")
	call := &broker.Call{Request: metadataReq(), Prepare: func(int16) error { return refuse }}
	err := h.DoCall(ctxT(t), call)
	if !errors.Is(err, refuse) || !errors.Is(err, broker.ErrNotSent) {
		t.Fatalf("a refusing Prepare: %v", err)
	}
}
