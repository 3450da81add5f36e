package consumer

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/twmb/franz-go/pkg/kfake"
)

// upper is a custom stage: it takes each batch, upper-cases the values in place (the
// batch is its own now), and passes the records on. It waits on gate before each batch,
// to play a slow stage.
type upper struct {
	out  chan<- *Batch
	gate <-chan struct{}
}

func (u *upper) Run(ctx context.Context, in *actor.Inbox[*Batch]) error {
	var batch []*Batch
	for {
		var closed bool
		var err error
		batch, closed, err = in.Receive(batch[:0])
		if err != nil {
			return err
		}
		for i, b := range batch {
			if u.gate != nil {
				select {
				case <-u.gate:
				case <-ctx.Done():
					in.Unread(batch[i:])
					return ctx.Err()
				}
			}
			for k := range b.Records {
				b.Records[k].Value = bytes.ToUpper(b.Records[k].Value)
			}
			select {
			case u.out <- b:
			case <-ctx.Done():
				in.Unread(batch[i+1:])
				return ctx.Err()
			}
		}
		if closed {
			return nil
		}
	}
}

// stageReader checks what a stage passes on, as reader does for Next.
func stageReader(t *testing.T, topic string, partition int32, out <-chan *Batch, n int) {
	t.Helper()
	next, last := 0, int64(-1)
	deadline := time.After(testTimeout)
	for next < n {
		select {
		case b := <-out:
			if b.Err != nil {
				t.Fatalf("stage got an error batch: %v", b.Err)
			}
			for _, r := range b.Records {
				if r.Offset <= last || string(r.Value) != string(bytes.ToUpper([]byte(value(topic, partition, next)))) {
					t.Fatalf("offset %d after %d: value %q, want record %d", r.Offset, last, r.Value, next)
				}
				last = r.Offset
				next++
			}
		case <-deadline:
			t.Fatalf("%d of %d records through the stage", next, n)
		}
	}
}

func TestCustomStageKeepsOrder(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	produceBatches(t, seeds, "t", 0, 0, 200, 20)
	produceBatches(t, seeds, "t", 1, 0, 200, 20)
	rec := newRecorder()
	cfg := testConfig(seeds, rec)
	cfg.MaxPartitionBytes = 1 << 10
	cfg.MaxProcessingTime = 20 * time.Millisecond
	c := newConsumer(t, cfg)

	outs := []chan *Batch{make(chan *Batch, 1000), make(chan *Batch, 1000)}
	gate := make(chan struct{})
	var pcs []*PartitionConsumer
	for p := range int32(2) {
		var g <-chan struct{}
		if p == 0 {
			g = gate // partition 0's stage is stuck until the gate opens
		}
		pcs = append(pcs, consume(t, c, "t", p, Oldest(), WithStage(Stage{
			New: func(topic string, partition int32) actor.Actor[*Batch] {
				return &upper{out: outs[partition], gate: g}
			},
		})))
	}
	if _, err := pcs[0].Next(ctxT(t)); err != ErrStageAttached {
		t.Fatalf("Next with a stage: %v", err)
	}
	// Partition 1 flows; partition 0's stage is a slow user.
	stageReader(t, "t", 1, outs[1], 200)
	rec.waitFor(t, "SlowPartition", func(e troupe.Event) bool {
		s, ok := e.(SlowPartition)
		return ok && s.Partition == 0
	})
	close(gate)
	stageReader(t, "t", 0, outs[0], 200)

	// Pause stops the hand-over to the stage too.
	pcs[1].Pause()
	produceBatches(t, seeds, "t", 1, 200, 20, 20)
	produceBatches(t, seeds, "t", 0, 200, 20, 20)
	if !drainStage(t, outs[0], 20) {
		t.Fatal("partition 0 stopped")
	}
	select {
	case b := <-outs[1]:
		t.Fatalf("a paused partition's stage got %d records", len(b.Records))
	default:
	}
	pcs[1].Resume()
	if !drainStage(t, outs[1], 20) {
		t.Fatal("partition 1 did not resume")
	}
}

func drainStage(t *testing.T, out <-chan *Batch, n int) bool {
	deadline := time.After(testTimeout)
	for n > 0 {
		select {
		case b := <-out:
			n -= len(b.Records)
		case <-deadline:
			return false
		}
	}
	return true
}

func TestStageGetsErrorsInOrder(t *testing.T) {
	_, seeds := startKfake(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, seeds, "t", 0, 0, 10)
	cfg := testConfig(seeds, newRecorder())
	cfg.OffsetReset = ResetNone
	c := newConsumer(t, cfg)
	deleteRecords(t, c, "t", 0, 5)
	out := make(chan *Batch, 10)
	pc := consume(t, c, "t", 0, At(0), WithStage(Stage{
		New: func(string, int32) actor.Actor[*Batch] { return &upper{out: out} },
	}))
	select {
	case b := <-out:
		if b.Err == nil || len(b.Records) != 0 {
			t.Fatalf("want an error batch, got %d records, %v", len(b.Records), b.Err)
		}
		if _, ok := b.Err.(*OutOfRangeError); !ok {
			t.Fatalf("error %v", b.Err)
		}
	case <-time.After(testTimeout):
		t.Fatal("no error batch")
	}
	<-pc.Done()
	if _, ok := pc.Err().(*OutOfRangeError); !ok {
		t.Fatalf("Err %v", pc.Err())
	}
}
