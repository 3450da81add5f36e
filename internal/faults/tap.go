package faults

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tap wraps dial so that every connection it opens reports, through logf, a one-line
// summary of each request the client writes and each response it reads: produce batches
// with their producer ID, epoch and sequence numbers and the offsets or errors they got,
// fetch positions and results, metadata leaders and epochs, producer IDs. It reads what
// the client reads, where the client reads it (put it nearest the client, before any
// fault), so a failure's log shows the protocol exchange as the client saw it.
//
// logf must be safe for concurrent use; it is called on the connection's goroutines. If
// open is not nil, it counts the connections the tap opened that the client has not
// closed yet.
func Tap(dial DialFunc, logf func(format string, args ...any), open *atomic.Int64) DialFunc {
	return TapObserve(dial, logf, open, nil)
}

// Exchange is one request a tapped connection carried, as the client wrote it, and its
// response as the client read it.
type Exchange struct {
	Conn int64         // the connection, numbered by the tap from 1
	Req  kmsg.Request  // the request, parsed
	Sent time.Time     // when the client wrote it
	Resp kmsg.Response // nil when the request was written, the response once read
	Read time.Time     // when the client read the response
}

// TapObserve is Tap that also passes every request the client writes, and again with
// its response once the client reads it, to observe (if not nil), on the connection's
// goroutines: what a test needs to check a client's protocol exchange against the time
// (heartbeats, fetches, commits). observe must be safe for concurrent use and must not
// block.
func TapObserve(dial DialFunc, logf func(format string, args ...any), open *atomic.Int64, observe func(Exchange)) DialFunc {
	var ids atomic.Int64
	if open == nil {
		open = new(atomic.Int64)
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := dial(ctx, network, address)
		if err != nil {
			logf("wire dial %s: %v", address, err)
			return nil, err
		}
		id := ids.Add(1)
		open.Add(1)
		logf("wire conn %d: connected to %s", id, address)
		return &tapConn{Conn: c, id: id, logf: logf, open: open, observe: observe, pending: make(map[int32]Exchange)}, nil
	}
}

// tapConn parses the byte streams of one connection into frames.
type tapConn struct {
	net.Conn
	id      int64
	logf    func(string, ...any)
	open    *atomic.Int64
	closed  atomic.Bool
	observe func(Exchange)

	mu      sync.Mutex
	pending map[int32]Exchange // by correlation ID: what each response answers
	out, in []byte             // partial frames
	broken  bool               // a frame could not be parsed: stop parsing
}

// maxTapFrame caps the frames the tap parses; larger ones end its parsing.
const maxTapFrame = 64 << 20

func (c *tapConn) Write(b []byte) (int, error) {
	// Requests are parsed before they are written, so that their responses, which the
	// client's reader may take before Write returns, find them.
	c.saw(b, true)
	n, err := c.Conn.Write(b)
	if err != nil {
		c.logf("wire conn %d: write: %v (%d of %d bytes written)", c.id, err, n, len(b))
	}
	return n, err
}

func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.saw(b[:n], false)
	if err != nil {
		c.logf("wire conn %d: read: %v", c.id, err)
	}
	return n, err
}

func (c *tapConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.open.Add(-1)
		c.logf("wire conn %d: closed by the client", c.id)
	}
	return c.Conn.Close()
}

// saw takes bytes the client wrote (out) or read and summarizes every whole frame.
func (c *tapConn) saw(b []byte, out bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken || len(b) == 0 {
		return
	}
	buf := &c.in
	if out {
		buf = &c.out
	}
	*buf = append(*buf, b...)
	for len(*buf) >= 4 {
		size := int(binary.BigEndian.Uint32(*buf))
		if size > maxTapFrame {
			c.broken = true
			c.logf("wire conn %d: a frame of %d bytes; no more summaries on this connection", c.id, size)
			return
		}
		if len(*buf) < 4+size {
			return
		}
		frame := (*buf)[4 : 4+size]
		if out {
			c.request(frame)
		} else {
			c.response(frame)
		}
		*buf = (*buf)[4+size:]
	}
}

func (c *tapConn) request(frame []byte) {
	r := kbin.Reader{Src: frame}
	key, version, corr := r.Int16(), r.Int16(), r.Int32()
	r.NullableString() // client ID
	req := kmsg.RequestForKey(key)
	if req == nil || !r.Ok() {
		c.logf("wire conn %d > key %d: unparsable", c.id, key)
		return
	}
	req.SetVersion(version)
	if req.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	ex := Exchange{Conn: c.id, Req: req, Sent: time.Now()}
	c.pending[corr] = ex
	if err := req.ReadFrom(r.Src); err != nil {
		c.logf("wire conn %d > %s v%d #%d: %v", c.id, kmsg.NameForKey(key), version, corr, err)
		return
	}
	c.logf("wire conn %d > %s v%d #%d%s", c.id, kmsg.NameForKey(key), version, corr, describeRequest(req))
	if c.observe != nil {
		c.observe(ex)
	}
}

func (c *tapConn) response(frame []byte) {
	r := kbin.Reader{Src: frame}
	corr := r.Int32()
	ex := c.pending[corr]
	req := ex.Req
	delete(c.pending, corr)
	if req == nil {
		c.logf("wire conn %d < #%d: no request with that correlation ID", c.id, corr)
		return
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		kmsg.SkipTags(&r)
	}
	if err := resp.ReadFrom(r.Src); err != nil {
		c.logf("wire conn %d < %s #%d: %v", c.id, kmsg.NameForKey(req.Key()), corr, err)
		return
	}
	c.logf("wire conn %d < %s #%d%s", c.id, kmsg.NameForKey(req.Key()), corr, describeResponse(resp))
	if c.observe != nil {
		ex.Resp, ex.Read = resp, time.Now()
		c.observe(ex)
	}
}

func errName(code int16) string {
	if code == 0 {
		return "ok"
	}
	if err := kerr.ErrorForCode(code); err != nil {
		return err.(*kerr.Error).Message
	}
	return fmt.Sprint(code)
}

func describeRequest(req kmsg.Request) string {
	var b strings.Builder
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		fmt.Fprintf(&b, " acks=%d", r.Acks)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				var rb kmsg.RecordBatch
				if err := rb.ReadFrom(p.Records); err != nil {
					fmt.Fprintf(&b, " %s%s[%d] unreadable batch", t.Topic, shortID(t.TopicID), p.Partition)
					continue
				}
				fmt.Fprintf(&b, " %s%s[%d] pid=%d epoch=%d seq=%d+%d", t.Topic, shortID(t.TopicID), p.Partition, rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence, rb.NumRecords)
			}
		}
	case *kmsg.FetchRequest:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s%s[%d]@%d(epoch %d)", t.Topic, shortID(t.TopicID), p.Partition, p.FetchOffset, p.CurrentLeaderEpoch)
			}
		}
	case *kmsg.ListOffsetsRequest:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s[%d] ts=%d epoch=%d", t.Topic, p.Partition, p.Timestamp, p.CurrentLeaderEpoch)
			}
		}
	case *kmsg.OffsetForLeaderEpochRequest:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s[%d] epoch=%d current=%d", t.Topic, p.Partition, p.LeaderEpoch, p.CurrentLeaderEpoch)
			}
		}
	case *kmsg.MetadataRequest:
		for _, t := range r.Topics {
			if t.Topic != nil {
				fmt.Fprintf(&b, " %s", *t.Topic)
			}
		}
	}
	return b.String()
}

func describeResponse(resp kmsg.Response) string {
	var b strings.Builder
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s%s[%d] %s base=%d", t.Topic, shortID(t.TopicID), p.Partition, errName(p.ErrorCode), p.BaseOffset)
			}
		}
	case *kmsg.FetchResponse:
		if r.ErrorCode != 0 {
			fmt.Fprintf(&b, " %s", errName(r.ErrorCode))
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s%s[%d] %s hwm=%d bytes=%d", t.Topic, shortID(t.TopicID), p.Partition, errName(p.ErrorCode), p.HighWatermark, len(p.RecordBatches))
			}
		}
	case *kmsg.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s[%d] %s offset=%d epoch=%d", t.Topic, p.Partition, errName(p.ErrorCode), p.Offset, p.LeaderEpoch)
			}
		}
	case *kmsg.OffsetForLeaderEpochResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s[%d] %s epoch=%d end=%d", t.Topic, p.Partition, errName(p.ErrorCode), p.LeaderEpoch, p.EndOffset)
			}
		}
	case *kmsg.MetadataResponse:
		for _, br := range r.Brokers {
			fmt.Fprintf(&b, " node-%d=%s:%d", br.NodeID, br.Host, br.Port)
		}
		for _, t := range r.Topics {
			name := ""
			if t.Topic != nil {
				name = *t.Topic
			}
			fmt.Fprintf(&b, " %s%s:%s", name, shortID(t.TopicID), errName(t.ErrorCode))
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " [%d]leader=%d,epoch=%d,%s", p.Partition, p.Leader, p.LeaderEpoch, errName(p.ErrorCode))
			}
		}
	case *kmsg.InitProducerIDResponse:
		fmt.Fprintf(&b, " %s pid=%d epoch=%d", errName(r.ErrorCode), r.ProducerID, r.ProducerEpoch)
	}
	return b.String()
}

// shortID is the first bytes of a topic ID, enough to tell topics apart in a log; empty
// for the zero ID.
func shortID(id [16]byte) string {
	if id == ([16]byte{}) {
		return ""
	}
	return fmt.Sprintf("#%x", id[:3])
}
