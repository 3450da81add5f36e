// Package supervisor keeps actors running: it restarts them when they fail, by a strategy
// (one-for-one, one-for-all, rest-for-one) and a restart type per child (permanent,
// transient, temporary), spaces restarts with exponential backoff and jitter, puts
// children behind circuit breakers, and gives up to its own parent when restarts come
// faster than its intensity allows. It knows nothing about Kafka.
//
//	           ┌──────────── Supervisor (itself an actor) ─────────────────────┐
//	Add ──────>│ slot "a": mailbox ◄── Ref held by senders; survives restarts   │
//	Remove ───>│           breaker, backoff, incarnation 1, 2, 3 …              │
//	           │ slot "b": mailbox, …                                          │
//	           └──────────────────────────────────────────────────────────────┘
//
// A child's mailbox belongs to its slot, not to an incarnation: a Ref returned by Add is
// valid for the child's whole supervised life and messages queued for it survive its
// restarts. Before a restart, the child's Release hook runs on the failed incarnation's
// goroutine with its actor value, so that whatever it owned is handed back (see the
// ownership protocol in package actor) and a restart never drops data.
//
// While a child's breaker is open, it is not restarted, and sends to it fail at once with
// an error matching actor.ErrUnavailable and ErrBreakerOpen, which callers route around.
// After the breaker's timeout it is half-open and one restart is let through; a healthy
// incarnation (one that called Inbox.MarkHealthy, or ran for Config.ResetAfter) closes
// it.
//
// The restart policy (Backoff, the intensity window, which children a strategy restarts)
// is plain deterministic code; the supervisor's loop is a thin driver around it. Every
// decision is reported as a typed Event to Config.OnEvent and as a log record.
//
// A running supervisor stops a child (Remove, or a strategy taking down the siblings of a
// failed child, one at a time in reverse start order) without waiting for it in its loop:
// a child that is slow to stop holds up no other child's restart, breaker or health
// check. No new incarnation of a child reads its mailbox until the old one has exited.
//
// Stopping a supervisor's Process with Stop stops the tree for good: children stop in
// reverse start order, each with its StopTimeout, and a child that overruns it is reported
// (StopTimedOut) rather than waited for forever.
//
// No accepted message is lost silently. Each one is passed to a handler or handed to its
// mailbox's OnDrop once: a drain stop does not restart a child that fails during it, and
// Stop returns an error naming every child whose queue went to OnDrop that way (unless
// its ChildSpec.DropsAnswered says OnDrop answers each message's sender); a
// top-level supervisor that gives up or is cancelled hands its children's queues to
// OnDrop before its Process counts as exited.
package supervisor
