package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/troupe-go/troupe/wire/errcode"
)

// conn is the actor behind one broker connection: its run loop is the writer. Each
// incarnation waits for its first call, dials, shakes hands (ApiVersions), starts a
// reader, and then drains its mailbox of calls in batches, writing each batch with one
// system call and pipelining up to MaxInflight requests. When anything fails, the whole
// incarnation ends: every call it was given fails exactly once (not sent, or may have been
// sent) and the supervisor reconnects, with backoff, behind a circuit breaker.
//
// Owner: the Pool's supervisor, which restarts it and stops it when its broker leaves the
// cluster. The calls it holds (drained, in flight) are owned by it until their Done.
type conn struct {
	cfg      *Config
	name     string // "node 1 produce 127.0.0.1:9092"
	addr     string
	versions *atomic.Pointer[Versions] // shared with Handles; survives reconnects
	lastFail *atomic.Pointer[Error]    // shared with Handles: how an incarnation last failed

	// One incarnation's state.
	in       *actor.Inbox[*Call]
	nc       net.Conn
	vers     *Versions
	corr     int32
	queued   []*Call    // drained from the mailbox, not yet written
	inflight chan *Call // handed to the reader in write order, awaiting a response
	wbuf     []byte
	sp       codec.Splicer // record batches of the requests in wbuf, written from their own storage
	segs     net.Buffers   // wbuf and the spliced batches, in order, for one vectored write
	writing  chan struct{} // the writer holds its token while calls it handed to the reader are unwritten
	unsent   []unsent      // encoded into wbuf, not yet written
	notSent  []*Call       // a failed write did not reach them: to be sent again
	rd       *reader
	reauth   time.Time // when to authenticate again (KIP-368); zero: never
	wrote    time.Time // when flush last wrote
	// wbufBox is the box the write buffer came in from burstBuffers, kept to park it in
	// again without allocating one.
	wbufBox *[]byte
	// slots holds a token per call handed to the reader and not yet answered: at most
	// MaxInflight. The writer takes one before it hands a call over, the reader gives it
	// back once it has read the call's response.
	slots chan struct{}

	inflightClosed bool
}

// Run is one incarnation of the connection.
func (c *conn) Run(ctx context.Context, in *actor.Inbox[*Call]) (err error) {
	c.in = in
	defer func() {
		c.teardown(err)
		c.noteFailure(err)
	}()

	// Connect lazily: a connection nobody uses never dials.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-in.Ready():
	}
	if err := c.connect(ctx); err != nil {
		// The calls waiting for this connection fail with its error, so that callers
		// learn at once that the broker cannot be reached (and can route around it).
		kind := ErrNetwork
		for _, k := range []error{ErrAuthentication, ErrTLS} {
			if errors.Is(err, k) {
				kind = k
			}
		}
		left, _ := in.Drain(nil)
		for _, call := range left {
			call.finish(c.fail(call.Request.APIKey(), false, kind, err))
		}
		return err
	}
	in.MarkHealthy()
	c.inflight = make(chan *Call, c.cfg.MaxInflight)
	c.slots = make(chan struct{}, c.cfg.MaxInflight)
	c.sp.Min = spliceMin
	c.writing = make(chan struct{}, 1)
	c.rd = &reader{name: c.name, nc: c.nc, inflight: c.inflight, slots: c.slots, writing: c.writing, maxBytes: c.cfg.MaxResponseBytes, noSASL: c.cfg.SASL == nil, done: make(chan struct{})}
	go c.rd.run()
	return c.writeLoop(ctx)
}

// writeLoop drains calls and writes them until the mailbox is closed and drained (a drain
// stop), the context ends, or the connection fails.
func (c *conn) writeLoop(ctx context.Context) error {
	var batch []*Call
	var reauth actor.Alarm // rings when the session must re-authenticate (c.reauth)
	defer reauth.Stop()
	for {
		if !c.reauth.IsZero() && !time.Now().Before(c.reauth) {
			// Then write what queued meanwhile, even if the next one is due already (a
			// tiny lifetime): re-authenticating must not starve the calls.
			if err := c.reauthenticate(ctx); err != nil {
				return err
			}
		}
		reauth.Set(c.reauth)
		// Take whatever is queued before waiting: the wake-up that made the connection
		// dial has been consumed already.
		var closed bool
		batch, closed = c.in.Drain(batch[:0])
		c.queued = batch
		if len(batch) > 0 && c.wbuf == nil {
			c.unpark()
		}
		if err := c.writeQueued(ctx); err != nil {
			return err
		}
		if closed {
			return c.finishInflight(ctx)
		}
		if c.holdsBurst(batch) {
			// Everything queued is written: until the next call, the room grown for a
			// large request waits in the shared pool, not here.
			batch = c.park(batch)
			c.in.Compact()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.rd.done:
			return c.rd.err
		case <-c.in.Ready():
		case <-reauth.C():
		}
	}
}

// burstBuffers holds the write buffers that connections grew past keepBuf for large
// requests (a produce request of 1000 partitions copies every batch under spliceMin into
// it: hundreds of KiB), while their connections have nothing to write. A connection parks
// its buffer there each time it has written everything queued (park), and takes one back
// when it next has calls to write (unpark); the garbage collector empties the pool of
// buffers nobody took back within two cycles. So an idle connection keeps no burst's
// room, and needs no timer to give it back: a timer that looked 2 s after the last write
// was the only thing that woke an idle producer (docs/benchmarks.md). A busy connection
// takes its buffer, or another as large, back from the pool on its next write: a Put and
// a Get per burst, no allocation.
var burstBuffers sync.Pool // of *[]byte

// keepBuf is the capacity of write buffer (and, in entries, of the other slices the
// writer reuses) that an idle connection keeps: what small requests (metadata, a produce
// request of a few partitions) need, so a connection that only ever sends those never
// reallocates.
const keepBuf = 4 << 10

// holdsBurst reports whether the writer's reused buffers grew past keepBuf: for a produce
// request of 1000 partitions, the write buffer holds every batch header and every small
// batch (hundreds of KiB), the splice and segment lists an entry per large batch.
func (c *conn) holdsBurst(batch []*Call) bool {
	return cap(c.wbuf) > keepBuf || cap(c.segs) > keepBuf/64 || cap(c.sp.Splices()) > keepBuf/64 ||
		cap(c.unsent) > keepBuf/64 || cap(batch) > keepBuf/64
}

// park gives up the writer's reused buffers that grew for a burst, with nothing left to
// write: the write buffer to burstBuffers, the lists (an entry per batch or call, rarely
// past keepBuf/64 entries) to the garbage collector. It returns the drain buffer to keep
// (batch, or nil).
func (c *conn) park(batch []*Call) []*Call {
	before := cap(c.wbuf)
	if cap(c.wbuf) > keepBuf {
		box := c.wbufBox
		if box == nil {
			box = new([]byte)
		}
		*box, c.wbuf, c.wbufBox = c.wbuf[:0], nil, nil
		burstBuffers.Put(box)
	}
	if cap(c.segs) > keepBuf/64 {
		c.segs = nil
	}
	if cap(c.sp.Splices()) > keepBuf/64 {
		c.sp = codec.Splicer{Min: c.sp.Min}
	}
	if cap(c.unsent) > keepBuf/64 {
		c.unsent = nil
	}
	c.released(before, cap(c.wbuf))
	if cap(batch) > keepBuf/64 {
		return nil
	}
	return batch
}

// unpark takes a parked write buffer back, if the pool holds one, for calls about to be
// written; c.wbuf is nil.
func (c *conn) unpark() {
	if box, ok := burstBuffers.Get().(*[]byte); ok {
		c.wbuf, *box, c.wbufBox = (*box)[:0], nil, box
	}
}

// writeQueued writes every queued call: it encodes them into one buffer and writes it
// with one system call, flushing early when the buffer reaches flushAt, and when the
// pipelining limit is reached and it must wait for the reader to make room. A call that
// cannot be sent at all (its deadline has passed, no common version, invalid for its
// version) fails here, not sent.
//
// The writer holds the writing token from before it hands the first call to the reader
// until everything it handed over has been written, and gives it up only while it waits
// for a pipelining slot with nothing unwritten. The reader, which may take a call the
// moment it is handed over, completes a call it fails only once it has had the token
// (see reader.failed).
func (c *conn) writeQueued(ctx context.Context) error {
	c.writing <- struct{}{}
	defer func() { <-c.writing }()
	now := time.Now()
	for len(c.queued) > 0 {
		call := c.queued[0]
		if err := c.prepare(call, now); err != nil {
			c.queued[0] = nil // the array must not keep a finished call (and its request and response) alive
			c.queued = c.queued[1:]
			call.finish(err)
			continue
		}
		if !call.NoResponse {
			// Take a pipelining slot, then hand the call to the reader before encoding
			// it: the reader may take it at once, and finds its correlation ID set.
			select {
			case c.slots <- struct{}{}:
			default:
				if err := c.flush(); err != nil {
					return err
				}
				<-c.writing // everything handed over is written
				var err error
				select {
				case c.slots <- struct{}{}:
				case <-ctx.Done():
					err = ctx.Err() // the call stays queued
				case <-c.rd.done:
					err = c.rd.err
				}
				c.writing <- struct{}{}
				if err != nil {
					return err
				}
				// After a wait (a long poll may hold the last slot for its whole wait)
				// the caller may have abandoned the call, or its deadline passed.
				if err := c.unwanted(call, time.Now()); err != nil {
					<-c.slots
					c.queued[0] = nil // the array must not keep a finished call (and its request and response) alive
					c.queued = c.queued[1:]
					call.finish(err)
					continue
				}
			}
			c.inflight <- call // never blocks: the slots bound what it holds
		}
		c.handedOver(call)
		c.queued[0] = nil // the array must not keep a finished call (and its request and response) alive
		c.queued = c.queued[1:]
		start := len(c.wbuf) + c.sp.Len() // where the frame starts in what flush writes
		var err error
		clientID := c.cfg.ClientID
		if c.wbuf, err = api.AppendRequestSpliced(c.wbuf, call.Request, call.Version, call.corr, &clientID, &c.sp); err != nil {
			// prepare checked everything AppendRequest checks; this cannot happen, and
			// the connection cannot continue with a call in flight that was never written.
			call.finish(c.fail(call.Request.APIKey(), false, ErrProtocol, err))
			return c.fail(-1, false, ErrProtocol, err)
		}
		c.unsent = append(c.unsent, unsent{call: call, start: start})
		if len(c.wbuf)+c.sp.Len() >= flushAt {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	c.queued = nil
	return c.flush()
}

// flushAt is how many bytes of requests may wait before they are written: small requests
// queued together go out in one system call, while a large one (a produce request of
// whole batches) goes out on its own.
const flushAt = 64 << 10

// spliceMin is the smallest record batch written from its own storage rather than copied
// into the write buffer: a batch is referenced by the vectored write (writev) that sends
// it, which saves copying it and keeps the write buffer about as small as the requests'
// headers.
const spliceMin = 4 << 10

// unsent is a call encoded into the write buffer and not yet written, with where its
// frame starts in the buffer.
type unsent struct {
	call  *Call
	start int
}

// unwanted fails, as not sent, a call its caller abandoned or whose deadline has passed
// at now; nil means it is still to be written.
func (c *conn) unwanted(call *Call, now time.Time) error {
	key := call.Request.APIKey()
	if call.abandoned.Load() {
		return c.fail(key, false, ErrAbandoned, nil)
	}
	if !call.Deadline.IsZero() && !now.Before(call.Deadline) {
		return c.fail(key, false, ErrRequestTimeout, errors.New("deadline passed before the request was written"))
	}
	return nil
}

// prepare picks the call's version and sets its correlation ID and deadline. A call
// abandoned by its caller fails here, not sent.
func (c *conn) prepare(call *Call, now time.Time) error {
	if err := c.unwanted(call, now); err != nil {
		return err
	}
	key := call.Request.APIKey()
	v, err := c.vers.Pick(key, call.VersionCap)
	if err != nil {
		return c.fail(key, false, err, nil)
	}
	if call.Prepare != nil {
		if err := call.Prepare(v); err != nil {
			return c.fail(key, false, err, nil)
		}
	}
	if err := call.Request.Validate(v); err != nil {
		return c.fail(key, false, err, nil)
	}
	c.corr++
	call.Version, call.corr = v, c.corr
	call.deadline = call.Deadline
	if call.deadline.IsZero() {
		call.deadline = now.Add(c.cfg.RequestTimeout)
	}
	return nil
}

// flush writes the buffer; the caller holds the writing token. After a failed write, the
// calls whose frames start beyond what was written definitely did not leave: they are kept
// (c.notSent) to be sent again on the next connection; the others may have been sent.
func (c *conn) flush() error {
	if len(c.wbuf) == 0 && c.sp.Len() == 0 {
		return nil
	}
	c.wrote = time.Now()
	_ = c.nc.SetWriteDeadline(c.wrote.Add(c.cfg.RequestTimeout))
	var n int
	var err error
	if len(c.sp.Splices()) == 0 {
		n, err = c.nc.Write(c.wbuf)
	} else {
		c.segs = c.sp.Segments(c.wbuf, c.segs[:0])
		bufs := c.segs // WriteTo consumes its receiver
		var n64 int64
		n64, err = bufs.WriteTo(c.nc)
		n = int(n64)
		clear(c.segs[:cap(c.segs)]) // no references to batches left behind
	}
	c.wbuf = c.wbuf[:0]
	c.sp.Reset()
	for _, u := range c.unsent {
		if u.start < n {
			u.call.sent.Store(true)
		}
	}
	if err != nil {
		err = c.fail(-1, n > 0, ErrNetwork, err)
		for _, u := range c.unsent {
			switch {
			case !u.call.sent.Load():
				c.notSent = append(c.notSent, u.call)
			case u.call.NoResponse:
				u.call.finish(c.fail(u.call.Request.APIKey(), true, ErrNetwork, err))
			}
		}
	} else {
		for _, u := range c.unsent {
			if u.call.NoResponse {
				u.call.finish(nil)
			}
		}
	}
	clear(c.unsent)
	c.unsent = c.unsent[:0]
	return err
}

// finishInflight is the end of a drain stop: no more writes; wait for every response.
func (c *conn) finishInflight(ctx context.Context) error {
	c.closeInflight()
	select {
	case <-c.rd.done:
		return c.rd.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *conn) closeInflight() {
	if !c.inflightClosed {
		c.inflightClosed = true
		close(c.inflight)
	}
}

// teardown ends an incarnation: it closes the socket, joins the reader, and settles every
// call the incarnation holds. Calls that may have been sent fail, exactly once, as maybe
// sent. Calls that definitely were not sent go back to the head of the mailbox, in their
// order, for the next connection: a broken connection fails only what it may have lost.
// (Those past their deadline fail instead; while the breaker is open the supervisor hands
// everything queued to OnDrop, which fails it fast.) teardown runs even when Run panics.
func (c *conn) teardown(cause error) {
	if c.nc != nil {
		_ = c.nc.Close() // unblocks a reader waiting for a response
	}
	if c.inflight != nil {
		c.closeInflight() // unblocks a reader waiting for a call; no more are written
	}
	if c.rd != nil {
		<-c.rd.done
		if c.rd.err != nil && cause == nil {
			cause = c.rd.err
		}
	}
	if cause == nil {
		cause = errors.New("connection closed")
	}
	reason := ErrNetwork
	if errors.Is(cause, context.Canceled) || errors.Is(cause, ErrConnStopped) {
		reason = ErrConnStopped
	}
	if c.inflight != nil {
		c.closeInflight()
		for call := range c.inflight {
			if call.sent.Load() {
				call.finish(c.fail(call.Request.APIKey(), true, reason, cause))
			} // else: listed in c.notSent or c.unsent, in write order
		}
	}
	var again []*Call
	again = append(again, c.notSent...)
	for _, u := range c.unsent {
		again = append(again, u.call)
	}
	again = append(again, c.queued...)
	if c.in != nil {
		now := time.Now()
		keep := again[:0]
		for _, call := range again {
			switch {
			case call.finished.Load(): // the reader failed it while reading
			case !call.Deadline.IsZero() && !now.Before(call.Deadline):
				call.finish(c.fail(call.Request.APIKey(), false, ErrRequestTimeout, cause))
			default:
				keep = append(keep, call)
			}
		}
		c.in.Unread(keep)
	}
	c.queued, c.unsent, c.notSent, c.inflight, c.slots, c.rd, c.nc = nil, nil, nil, nil, nil, nil, nil
	c.reauth = time.Time{}
	c.inflightClosed = false
}

// noteFailure keeps how this incarnation failed, for the errors of sends refused while
// the breaker it may open is open. A stop is not a failure.
func (c *conn) noteFailure(err error) {
	var be *Error
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrConnStopped) || !errors.As(err, &be) {
		return
	}
	c.lastFail.Store(be)
}

// fail builds the *Error for a call of key.
func (c *conn) fail(key api.Key, sent bool, kind, cause error) error {
	err := kind
	if cause != nil && !errors.Is(cause, kind) {
		err = fmt.Errorf("%w: %w", kind, cause)
	}
	var be *Error
	if errors.As(cause, &be) {
		err = be.Err // the connection's own failure: its kind is said once
		if !errors.Is(err, kind) {
			err = fmt.Errorf("%w: %w", kind, be.Err)
		}
	}
	return &Error{Broker: c.name, Key: key, Sent: sent, Err: err}
}

// connect dials and shakes hands within ConnectTimeout.
func (c *conn) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	nc, err := c.cfg.Dial(ctx, "tcp", c.addr)
	if err != nil {
		if !strings.Contains(err.Error(), c.addr) { // net's errors name the address already
			err = fmt.Errorf("dial %s: %w", c.addr, err)
		}
		return c.fail(-1, false, ErrNetwork, err)
	}
	c.nc = nc
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) }) // unblock on cancel
	defer stop()
	if c.cfg.TLS != nil {
		tc, err := c.startTLS(ctx, nc)
		if err != nil {
			return err
		}
		nc, c.nc = tc, tc // closing the TLS connection closes the one it wraps
	}
	vers, err := c.handshake(nc)
	if err != nil {
		if c.cfg.TLS != nil && tlsAlert(err) {
			// TLS 1.3 settles client certificates after the client's side of the
			// handshake: a rejected one shows as an alert on the first read.
			return c.fail(-1, false, ErrTLS, err)
		}
		if ctx.Err() != nil && !errors.Is(err, ErrProtocol) {
			err = fmt.Errorf("%w: %w", err, context.Cause(ctx))
		}
		return c.fail(-1, false, ErrNetwork, fmt.Errorf("handshake with %s: %w", c.addr, err))
	}
	if c.cfg.SASL != nil {
		start := time.Now()
		lifetime, err := c.authenticate(ctx, nc, vers)
		if err != nil {
			return err
		}
		c.reauth = reauthAt(start, lifetime)
	}
	_ = nc.SetDeadline(time.Time{})
	c.vers = vers
	c.versions.Store(vers)
	return nil
}

// handshake sends ApiVersions at the highest version troupe speaks; a broker that does not
// speak it answers UNSUPPORTED_VERSION with a v0 body listing its versions (KIP-511), and
// the request is repeated at the highest version it offers.
func (c *conn) handshake(nc net.Conn) (*Versions, error) {
	_, v, _ := api.SupportedVersions(api.APIVersions)
	var buf []byte
	for attempt := 0; attempt < 2; attempt++ {
		var req api.APIVersionsRequest
		req.Default()
		req.ClientSoftwareName, req.ClientSoftwareVersion = c.cfg.SoftwareName, c.cfg.SoftwareVersion
		c.corr++
		clientID := c.cfg.ClientID
		frame, err := api.AppendRequest(buf[:0], &req, v, c.corr, &clientID)
		if err != nil {
			return nil, err
		}
		if _, err := nc.Write(frame); err != nil {
			return nil, err
		}
		body, err := codec.ReadFrame(nc, nil, c.cfg.MaxResponseBytes)
		if err != nil {
			if closedEarly(err) && c.cfg.TLS == nil {
				err = fmt.Errorf("broker closed the connection during ApiVersions (the listener may require TLS): %w", err)
			} else if errors.Is(err, io.EOF) {
				err = fmt.Errorf("broker closed the connection during ApiVersions: %w", err)
			}
			return nil, err
		}
		var resp api.APIVersionsResponse
		resp.Default()
		decodeAt := v
		if err := api.ReadResponse(body, &resp, decodeAt, c.corr); err != nil {
			// A broker that rejects our version answers in v0.
			resp.Default()
			if err0 := api.ReadResponse(body, &resp, 0, c.corr); err0 != nil {
				return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
		}
		code := errcode.ForCode(resp.ErrorCode)
		if errors.Is(code, errcode.UnsupportedVersion) && attempt == 0 {
			next, err := api.PickVersion(&resp, api.APIVersions)
			if err != nil {
				return nil, err
			}
			v = next
			continue
		}
		if code != nil {
			return nil, fmt.Errorf("ApiVersions: %w", code)
		}
		return newVersions(&resp), nil
	}
	return nil, fmt.Errorf("%w: ApiVersions version negotiation did not settle", ErrProtocol)
}
