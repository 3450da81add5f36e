package record

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/troupe-go/troupe"
)

// TestCompressorSharedAcrossGoroutines: one Compressor per codec serves builders on
// several goroutines at once (run with -race); every batch decodes to its own records.
func TestCompressorSharedAcrossGoroutines(t *testing.T) {
	for _, codec := range codecs[1:] {
		comp := mustCompressor(t, codec)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				b := NewBuilder(comp)
				var d Decoder
				var s Scanner
				var buf []byte
				for round := range 30 {
					b.Reset(buf)
					want := make([]troupe.Record, 1+round%7)
					for i := range want {
						want[i].Value = fmt.Appendf(nil, "g%d r%d i%d %0200d", g, round, i, 0)
						b.Append(&want[i])
					}
					raw, err := b.Seal(NoProducer())
					if err != nil {
						errs <- err
						return
					}
					s.Reset(raw)
					if !s.Next() {
						errs <- fmt.Errorf("g%d round %d: %v", g, round, s.Err())
						return
					}
					got, err := d.Decode(nil, s.Batch(), "t", 0)
					if err != nil || len(got) != len(want) {
						errs <- fmt.Errorf("g%d round %d: %v, %d records", g, round, err, len(got))
						return
					}
					for i := range want {
						if err := sameRecord(&want[i], &got[i]); err != nil {
							errs <- fmt.Errorf("g%d round %d record %d: %v", g, round, i, err)
							return
						}
					}
					buf = raw
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("%s: builders did not finish within a minute", codec)
		}
		close(errs)
		for err := range errs {
			t.Errorf("%s: %v", codec, err)
		}
	}
}
