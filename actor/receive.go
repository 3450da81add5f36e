package actor

import "context"

// Receive adapts a handler of one message at a time into an Actor: the framework drains
// the mailbox in batches and calls handle for each message in order. Every message it
// takes ends in exactly one of three ways:
//
//   - handle returns nil: the message is handled;
//   - handle returns an error: the message counts as handled (if it held resources,
//     handle releases them before returning), the actor fails with the error, and the
//     rest of the batch is put back at the head of the mailbox (Inbox.Unread) for the
//     next incarnation;
//   - handle panics: the message is a poison message. It is handed to the mailbox's
//     OnDrop once (handle could not release what it held) and never passed to a handler
//     again; the rest of the batch is put back as for an error, and the actor fails with
//     a *PanicError carrying the panic's stack.
//
// When the actor's context is cancelled, the messages not yet passed to handle are put
// back the same way.
func Receive[M any](handle func(ctx context.Context, m M) error) Actor[M] {
	return receiver[M]{handle: handle}
}

type receiver[M any] struct {
	handle func(context.Context, M) error
}

func (r receiver[M]) Run(ctx context.Context, in *Inbox[M]) error {
	var (
		batch  []M
		closed bool
	)
	done := ctx.Done()
	for {
		var err error
		batch, closed, err = in.Receive(batch[:0])
		if err != nil {
			return err
		}
		for i := range batch {
			select {
			case <-done:
				in.Unread(batch[i:])
				clear(batch)
				return ctx.Err()
			default:
			}
			if err := r.one(ctx, in, batch, i); err != nil {
				in.Unread(batch[i+1:])
				clear(batch)
				return err
			}
		}
		clear(batch)
		if closed {
			return nil
		}
	}
}

// one passes batch[i] to handle. If handle panics, it puts the rest of the batch back and
// hands batch[i] to OnDrop before the panic goes on to the framework, which turns it into
// a *PanicError (the stack still shows where it happened: nothing here recovers).
func (r receiver[M]) one(ctx context.Context, in *Inbox[M], batch []M, i int) error {
	returned := false
	defer func() {
		if !returned {
			in.Unread(batch[i+1:])
			in.mb.drop(batch[i])
			clear(batch)
		}
	}()
	err := r.handle(ctx, batch[i])
	returned = true
	return err
}

// ReceiveBatch adapts a handler of whole batches into an Actor: the framework waits for
// messages, takes everything queued (Inbox.Receive), and calls handle with it, in order.
// The batch slice is reused for the next call: handle must not keep it (copy what it
// keeps). Every message taken is passed to exactly one call of handle, which ends in one
// of three ways:
//
//   - it returns nil: the batch is handled;
//   - it returns an error: the batch counts as handled (handle releases what it held),
//     and the actor fails with the error;
//   - it panics: the framework cannot tell which message was to blame, nor which ones
//     handle finished, so every message of the batch is handed to the mailbox's OnDrop,
//     once, as the batch slice holds it then, and none is passed to a handler again.
//     Retrying the batch could handle its messages twice and would fail again on a poison
//     message. The actor fails with a *PanicError.
//
// What is queued after the batch stays queued for the next incarnation. After a drain
// stop's last batch the actor returns nil. A handler that wants a panic on one message
// to cost only that message recovers it itself, or uses Receive.
func ReceiveBatch[M any](handle func(ctx context.Context, batch []M) error) Actor[M] {
	return batchReceiver[M]{handle: handle}
}

type batchReceiver[M any] struct {
	handle func(context.Context, []M) error
}

func (r batchReceiver[M]) Run(ctx context.Context, in *Inbox[M]) error {
	var batch []M
	for {
		var (
			closed bool
			err    error
		)
		batch, closed, err = in.Receive(batch[:0])
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			err = r.all(ctx, in, batch)
			clear(batch)
			if err != nil {
				return err
			}
		}
		if closed {
			return nil
		}
	}
}

// all passes batch to handle. If handle panics, it hands every message of the batch to
// OnDrop before the panic goes on to the framework.
func (r batchReceiver[M]) all(ctx context.Context, in *Inbox[M], batch []M) error {
	returned := false
	defer func() {
		if !returned {
			for _, m := range batch {
				in.mb.drop(m)
			}
			clear(batch)
		}
	}()
	err := r.handle(ctx, batch)
	returned = true
	return err
}
