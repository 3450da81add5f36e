package workload

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Tally counts the records a runner has had acknowledged (producing) or has received
// (consuming), and closes Done once the job's record count is reached. It is safe for
// concurrent use: producer callbacks and partition consumers call it from their own
// goroutines. Its cost per record is one atomic add, the same for every client.
type Tally struct {
	want    int64
	records atomic.Int64
	bytes   atomic.Int64
	errors  atomic.Int64
	done    chan struct{}
	once    sync.Once

	mu       sync.Mutex
	firstErr error
}

func newTally(want int) *Tally {
	return &Tally{want: int64(want), done: make(chan struct{})}
}

// Add counts records records of bytes value bytes in total.
func (t *Tally) Add(records, bytes int) {
	t.bytes.Add(int64(bytes))
	if t.records.Add(int64(records)) >= t.want {
		t.once.Do(func() { close(t.done) })
	}
}

// Fail counts a record that failed with err. A failed record also counts towards Done,
// so a run with errors ends (and reports them) instead of hanging.
func (t *Tally) Fail(err error) {
	if t.errors.Add(1) == 1 {
		t.mu.Lock()
		t.firstErr = err
		t.mu.Unlock()
	}
	t.Add(1, 0)
}

// Done is closed once Add and Fail together have counted the job's records.
func (t *Tally) Done() <-chan struct{} { return t.done }

// Counts returns the records and bytes counted so far (failed records excluded).
func (t *Tally) Counts() (records, bytes int64) {
	return t.records.Load() - t.errors.Load(), t.bytes.Load()
}

// Err describes the failed records, or returns nil when none failed.
func (t *Tally) Err() error {
	n := t.errors.Load()
	if n == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Errorf("%d records failed, the first with: %w", n, t.firstErr)
}
