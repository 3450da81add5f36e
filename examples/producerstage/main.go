// Command producerstage shows a custom stage in the producer's pipeline: an actor that
// sees every record before it is partitioned, here to validate and enrich records.
//
//	go run ./examples/producerstage              # on an embedded kfake cluster
//	go run ./examples/producerstage -brokers host:9092 -topic events
//
// The stage refuses records without a key (their callbacks get an error that matches
// troupe.ErrNotWritten) and stamps the others with a "stage" header and a sequence
// number. Stages keep each topic's order if they hand records on in the order received,
// and live under the producer's budget and supervisor like its own actors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/actor"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/producer"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated seed brokers; empty starts an embedded cluster")
	topic := flag.String("topic", "events", "topic to produce to")
	n := flag.Int("n", 1000, "records to produce")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *brokers, *topic, *n); err != nil {
		fmt.Fprintln(os.Stderr, "producerstage:", err)
		os.Exit(1)
	}
}

// enrich is the custom stage. New is called for every incarnation of its actor (the
// producer's supervisor restarts it if it fails); the actor receives records in batches
// and hands them on, in order, through next.
type enrich struct {
	seq *int64 // survives restarts: numbering continues
}

func (enrich) Name() string { return "enrich" }

func (e enrich) New(next producer.Next) actor.Actor[producer.Pending] {
	var out []producer.Pending
	return actor.ReceiveBatch(func(ctx context.Context, batch []producer.Pending) error {
		out = out[:0]
		for _, p := range batch {
			r := p.Record()
			if len(r.Key) == 0 {
				next.Fail(p, errors.New("records need a key"))
				continue
			}
			*e.seq++
			r.Headers = append(r.Headers,
				troupe.Header{Key: "stage", Value: []byte("enrich")},
				troupe.Header{Key: "seq", Value: []byte(strconv.FormatInt(*e.seq, 10))})
			out = append(out, p)
		}
		return next.Send(ctx, out)
	})
}

func run(ctx context.Context, w io.Writer, brokers, topic string, n int) error {
	seeds := strings.Split(brokers, ",")
	if brokers == "" {
		c, addrs, err := kafkatest.Embedded(3, 6, topic)
		if err != nil {
			return err
		}
		defer c.Close()
		seeds = addrs
		fmt.Fprintf(w, "embedded cluster at %s\n", strings.Join(seeds, ","))
	}
	var seq int64
	p, err := producer.New(producer.Config{Seeds: seeds, Stages: []producer.Stage{enrich{seq: &seq}}})
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		written int
		refused int
		other   error
		wg      sync.WaitGroup
	)
	wg.Add(n)
	for i := range n {
		r := &troupe.Record{Topic: topic, Value: []byte(fmt.Sprintf("event %d", i))}
		if i%10 != 0 { // every tenth record has no key: the stage refuses it
			r.Key = []byte(fmt.Sprintf("user-%d", i%7))
		}
		p.Produce(ctx, r, func(r *troupe.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				written++
			case errors.Is(err, troupe.ErrNotWritten):
				refused++
			default:
				other = err
			}
		})
	}
	wg.Wait()
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Close(closeCtx); err != nil {
		return err
	}
	if other != nil {
		return other
	}
	fmt.Fprintf(w, "%d records written with the stage's headers, %d refused by the stage\n", written, refused)
	return nil
}
