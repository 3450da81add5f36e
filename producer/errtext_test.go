package producer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/troupe-go/troupe"
	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestClosedErrorsReadOnce: a record refused by a closed producer reads once (no
// "producer: ... producer: troupe: closed") and still matches troupe.ErrClosed.
func TestClosedErrorsReadOnce(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	p, err := New(Config{Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got error
	p.Produce(context.Background(), &troupe.Record{Topic: "t"}, func(_ *troupe.Record, err error) { got = err })
	for _, err := range []error{got} {
		if !errors.Is(err, troupe.ErrClosed) {
			t.Fatalf("%v does not match troupe.ErrClosed", err)
		}
		if n := strings.Count(err.Error(), "producer:"); n > 1 || !strings.Contains(err.Error(), "producer closed") {
			t.Fatalf("%q: want the prefix \"producer:\" at most once and the words \"producer closed\"", err)
		}
	}
}
