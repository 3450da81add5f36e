package actor

import "context"

// Receive adapts a handler of one message at a time into an Actor: the framework drains
// the mailbox in batches and calls handle for each message in order.
//
// When handle returns an error, the actor fails with it. The message it was handling
// counts as processed (if it held resources, handle releases them before returning); the
// rest of the batch is put back at the head of the mailbox for the next incarnation. When
// the actor's context is cancelled, the unhandled rest of the batch is put back the same
// way.
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
		for i, m := range batch {
			select {
			case <-done:
				in.Unread(batch[i:])
				clear(batch)
				return ctx.Err()
			default:
			}
			if err := r.handle(ctx, m); err != nil {
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

// ReceiveBatch adapts a handler of whole batches into an Actor: the framework waits for
// messages, takes everything queued (Inbox.Receive), and calls handle with it, in order.
// The batch slice is reused for the next call: handle must not keep it (copy what it
// keeps). When handle returns an error, the actor fails with it; the batch counts as
// processed (handle releases what it held). After a drain stop's last batch the actor
// returns nil.
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
			err = r.handle(ctx, batch)
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
