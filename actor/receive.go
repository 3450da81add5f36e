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
