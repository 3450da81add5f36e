// Package actor is troupe's actor framework: goroutines as explicit structs with owned,
// bounded mailboxes, a lifecycle, request/reply, and an ownership hand-off protocol. It
// knows nothing about Kafka.
//
// # The model
//
// An actor is a value with a run loop (Actor.Run). The framework starts it on a goroutine
// it owns (Start, or a supervisor's Add), labels that goroutine with runtime/pprof labels (actor, kind) so
// that goroutine dumps and profiles say who it is, turns a panic into a *PanicError with
// the stack, and exposes the actor's end through Process.Done and Process.Err.
//
// Each actor receives from one mailbox, which it alone drains (Options.Mailbox configures
// it; nobody else holds it). Anyone holding a Ref sends:
// Send blocks while the mailbox is full (backpressure, honouring a context), TrySend
// reports ErrFull and ErrStopped distinctly, SendBatch queues many under one lock, and
// Nudge wakes the owner without a message, to look again at state it shares. The
// owner selects on Inbox.Ready together with its timers and outputs and takes everything
// queued in one Inbox.Drain, so a burst costs one wake-up, not one channel operation per
// message. Every mailbox is bounded unless Unbounded is chosen explicitly; when full it
// blocks, fails, or drops the oldest message to an OnDrop callback.
//
// # Lifecycle
//
//	Start ──> Starting ──> Running ──┬── Run returns nil ──────────────> Stopped
//	                                 ├── Stop (drain) / Cancel ───────> Stopping ──> Stopped
//	                                 └── Run returns error / panics ──> Failed
//
// Stop is a drain stop: the mailbox stops accepting, the actor handles what was accepted
// and returns nil. Cancel is a cancel stop: the actor's context is cancelled. Both wait
// until their context ends; a stop that does not finish in time is logged and returned as
// a *StopTimeoutError naming the actor, never ignored.
//
// An accepted message is never lost silently: it is passed to exactly one handler
// invocation, or handed to the mailbox's OnDrop exactly once (a message a Receive handler
// panicked on is both: passed once, then reported, never retried). The framework keeps
// that account for what is queued and for the Receive and ReceiveBatch loops; an actor
// with its own Run keeps it for the messages it has taken.
//
// Ask sends a request that carries a Reply and waits, bounded by its context, for the
// answer. A Reply has room for its one answer, so a late answer never blocks the replier.
//
// # Ownership
//
// Values that move between actors embed Owned and are passed by an explicit hand-off
// (Acquire, Give, Take, Check, Release; see Owned). Built with -tags troupecheck, every
// step is verified by counting what each actor's Owner holds; otherwise the calls compile
// to nothing.
//
// # Observability
//
// Process.Info reports an actor's name, kind, state, mailbox depth and capacity, and the
// number of messages it has taken. Lifecycle records go to the slog.Logger in Options;
// without one they are discarded.
//
// Supervision (restarts, intensity, backoff, circuit breakers) lives in package
// supervisor, built on this one.
package actor
