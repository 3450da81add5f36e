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
			n.p.failPending(r, notWritten(r.rec.Topic, -1, err))
		}
	}
	return err
}

// Fail reports p's record as not written, with err, and returns its budget: for a stage
// that refuses a record (validation).
func (n Next) Fail(p Pending, err error) {
	n.p.failPending(p, notWritten(p.rec.Topic, -1, fmt.Errorf("stage: %w", err)))
}

// Holder is implemented by a stage's actor that holds records across messages (batching
// them, rate-limiting them): Held returns the records it holds now. If the stage fails (its
// Run returns an error or panics), the producer fails those records, not written, so that
// their callbacks run and their budget returns before the stage is restarted. A stage
// that holds records only while handling a message and hands them on (or fails them)
// before returning needs no Holder; one that holds records and is not a Holder loses them
// when it fails: their callbacks never run, and Close reports how many were lost.
type Holder interface {
	Held() []Pending
}

// releaseStage is the release hook of a custom stage's actor.
func (p *Producer) releaseStage(st Stage, a actor.Actor[Pending], err error) {
	h, ok := a.(Holder)
	if !ok {
		return
	}
	for _, r := range h.Held() {
		p.failPending(r, notWritten(r.rec.Topic, -1, fmt.Errorf("stage %s failed: %w", st.Name(), err)))
	}
}
