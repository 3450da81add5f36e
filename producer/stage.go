package producer

import (
	"context"
	"fmt"

	"github.com/troupe-go/troupe/actor"
)

// Next is where a custom Stage hands records on: to the next stage, or to the dispatcher.
type Next struct {
	p  *Producer
	to actor.Ref[Pending]
}

// Send hands ps on, in order, waiting (honouring ctx) while the next mailbox is full. On
// error, the records it could not hand on have been failed (not written) with that error:
// the stage owns none of ps afterwards either way.
func (n Next) Send(ctx context.Context, ps []Pending) error {
	sent, err := n.to.SendBatch(ctx, ps)
	if err != nil {
		for _, r := range ps[sent:] {
			n.p.failPending(r, notWritten(r.topic, -1, err))
		}
	}
	return err
}

// Fail reports p's record as not written, with err, and returns its budget: for a stage
// that refuses a record (validation).
func (n Next) Fail(p Pending, err error) {
	n.p.failPending(p, notWritten(p.topic, -1, fmt.Errorf("stage: %w", err)))
}
