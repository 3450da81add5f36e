// Package broker holds troupe's broker connections: one actor per connection, pipelining
// requests with correlation IDs, supervised and restarted behind a circuit breaker.
//
//	caller ──Send(*Call)──> mailbox ──> conn (writer loop) ──bytes──> broker
//	                                     │ in flight, in order
//	                                     ▼
//	caller <──call.Done──── reader <────bytes──── broker
//
// A connection dials lazily, on its first call, through a replaceable DialFunc; wraps the
// connection in TLS when Config.TLS is set; shakes hands with ApiVersions (retrying at the
// broker's version when it rejects ours, KIP-511); authenticates with Config.SASL when it
// is set (and again before the session expires, KIP-368); then drains its mailbox in batches, encoding each batch into one buffer written with one
// system call and pipelining up to Config.MaxInflight requests. Its reader goroutine reads
// responses in order, each before its call's deadline, into a fresh buffer that the decoded
// response aliases.
//
// Every call ends exactly once, in its Done. Calls waiting for a connection that cannot be
// made fail with the dial or handshake error (not sent). When anything breaks — write, read, a
// deadline, an undecodable response — the connection incarnation ends and every call it
// has in flight fails with a *Error that says whether the request may have reached the
// broker (ErrMaybeSent) or not (ErrNotSent). Calls not yet written stay queued for the
// next connection (those past their deadline fail, not sent): a caller that needs order
// across a reconnect, like the producer, orders its own retries. The Pool's supervisor
// reconnects with backoff; after repeated failures the connection's breaker opens, the
// queued calls fail (ErrUnavailable, not sent), and Send fails at once with
// ErrUnavailable until a reconnect is let through. Those errors also wrap the failure
// that opened the breaker (a refused connection, say), so callers learn why. Causes that
// waiting will not cure match ErrPermanent (see there).
//
// A Pool keys connections by broker node ID, address and purpose (admin, produce, fetch):
// a broker that comes back on a new port gets new connections, and Retain stops those of
// brokers that metadata no longer lists.
package broker
