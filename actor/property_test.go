package actor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe/actor"
	"pgregory.net/rapid"
)

type seqMsg struct {
	sender int
	seq    int
}

// TestPropertyNoLossNoDupPerSenderFIFO runs concurrent senders (mixing Send, TrySend and
// SendBatch) against a receiver that drains in batches, stops the actor (drain or
// cancel) at a random point, and checks:
//   - every message the mailbox accepted was either handled exactly once or, for a
//     cancel stop, handed to OnDrop exactly once; never both, never twice;
//   - no message that was refused appears anywhere;
//   - per sender, handled messages are in send order, and OnDrop's leftovers follow them.
func TestPropertyNoLossNoDupPerSenderFIFO(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		senders := rapid.IntRange(1, 6).Draw(rt, "senders")
		capacity := rapid.IntRange(1, 64).Draw(rt, "capacity")
		perSender := rapid.IntRange(0, 300).Draw(rt, "perSender")
		drainStop := rapid.Bool().Draw(rt, "drainStop")
		stopAfter := rapid.IntRange(0, senders*perSender).Draw(rt, "stopAfter")
		modes := make([][]int, senders)
		for s := range modes {
			modes[s] = rapid.SliceOfN(rapid.IntRange(0, 2), perSender, perSender).Draw(rt, "modes")
		}

		var dropMu sync.Mutex
		var dropped []seqMsg
		mb := actor.NewMailbox(actor.MailboxConfig[seqMsg]{Capacity: capacity, OnDrop: func(m seqMsg) {
			dropMu.Lock()
			dropped = append(dropped, m)
			dropMu.Unlock()
		}})
		var handled []seqMsg
		handledN := make(chan struct{}, senders*perSender+1)
		p := actor.Spawn(context.Background(), "prop", actor.Receive(func(ctx context.Context, m seqMsg) error {
			handled = append(handled, m)
			handledN <- struct{}{}
			return nil
		}), mb, actor.SpawnOptions{})

		ref := mb.Ref()
		accepted := make([][]int, senders)
		var wg sync.WaitGroup
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				for i := 0; i < perSender; i++ {
					var err error
					switch modes[s][i] {
					case 0:
						err = ref.Send(ctx, seqMsg{s, i})
					case 1:
						for {
							err = ref.TrySend(seqMsg{s, i})
							if !errors.Is(err, actor.ErrFull) {
								break
							}
							select {
							case <-ref.Done():
							case <-time.After(time.Microsecond):
							}
						}
					case 2:
						end := min(perSender, i+1+modes[s][i]*3)
						batch := make([]seqMsg, 0, end-i)
						for j := i; j < end; j++ {
							batch = append(batch, seqMsg{s, j})
						}
						var n int
						n, err = ref.SendBatch(ctx, batch)
						for j := range n {
							accepted[s] = append(accepted[s], i+j)
						}
						i = end - 1
						if err != nil {
							return
						}
						continue
					}
					if err != nil {
						if !errors.Is(err, actor.ErrStopped) {
							panic(err)
						}
						return // stopped: everything after this is refused too
					}
					accepted[s] = append(accepted[s], i)
				}
			}()
		}
		for range stopAfter {
			select {
			case <-handledN:
			case <-p.Done():
			case <-time.After(10 * time.Second):
				rt.Fatalf("receiver stalled")
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if drainStop {
			err = p.Stop(ctx)
		} else {
			err = p.Cancel(ctx)
		}
		if err != nil {
			rt.Fatalf("stop: %v", err)
		}
		wg.Wait()

		seen := map[seqMsg]int{}
		last := make([]int, senders)
		for s := range last {
			last[s] = -1
		}
		for _, m := range handled {
			seen[m]++
			if m.seq <= last[m.sender] {
				rt.Fatalf("sender %d: %d handled after %d", m.sender, m.seq, last[m.sender])
			}
			last[m.sender] = m.seq
		}
		if drainStop && len(dropped) > 0 {
			rt.Fatalf("drain stop dropped %d messages", len(dropped))
		}
		for _, m := range dropped {
			seen[m]++
			if m.seq <= last[m.sender] {
				rt.Fatalf("sender %d: leftover %d not after handled %d", m.sender, m.seq, last[m.sender])
			}
			last[m.sender] = m.seq
		}
		total := 0
		for s, acc := range accepted {
			for _, i := range acc {
				if seen[seqMsg{s, i}] != 1 {
					rt.Fatalf("accepted message %d/%d seen %d times", s, i, seen[seqMsg{s, i}])
				}
			}
			total += len(acc)
		}
		if len(seen) != total {
			rt.Fatalf("%d distinct messages seen, %d accepted: a refused message appeared", len(seen), total)
		}
	})
}
