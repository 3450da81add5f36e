package property_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/troupe-go/troupe/internal/faults"
)

// maxLogBytes caps what one check keeps of the client's logs in memory.
const maxLogBytes = 32 << 20

// logBuffer keeps a check's client logs (the producer's, the consumer's, their cluster
// clients') and the harness's own lines, in order, in memory: they are written out only
// if the check fails.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	dropped int
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len()+len(p) > maxLogBytes {
		l.dropped += len(p)
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *logBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := bytes.Clone(l.b.Bytes())
	if l.dropped > 0 {
		out = fmt.Appendf(out, "... %d bytes of logs dropped (more than %d)\n", l.dropped, maxLogBytes)
	}
	return out
}

// logger returns a debug-level text logger into l.
func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// artefactDir is where a failing check of test writes what it knows: a directory under
// testdata/failures (not committed), overwritten by every failing run of the test, so
// that after shrinking it holds the minimal failing check.
func artefactDir(test string) string {
	return filepath.Join("testdata", "failures", unsafeName.ReplaceAllString(test, "_"))
}

// writeArtefacts writes a failed check's action sequence, configuration, violations,
// client logs and history to dir, replacing what was there, and returns dir's absolute
// path.
func writeArtefacts(dir string, r *run, vs []faults.Violation, problems []string) (string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var summary strings.Builder
	fmt.Fprintf(&summary, "check %s, topic %s\n\nconfiguration:\n%s\n", r.env.name, r.topic, r.opts)
	fmt.Fprintf(&summary, "\nactions:\n%s\n", strings.Join(r.actions, "\n"))
	fmt.Fprintf(&summary, "\nviolations:\n")
	for _, p := range problems {
		fmt.Fprintf(&summary, "  %s\n", p)
	}
	summary.WriteString(faults.Format(vs, 1000))
	files := map[string][]byte{
		"summary.txt": []byte(summary.String()),
		"client.log":  r.logs.bytes(),
		"history.txt": []byte(describeHistory(r.hist)),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return filepath.Abs(dir)
}

// describeHistory lists every record sent with its outcome, the log as read back, and
// every consumer session.
func describeHistory(h *faults.History) string {
	var b strings.Builder
	b.WriteString("sent (in send order): value -> outcome partition/offset error\n")
	for _, s := range h.Sent() {
		fmt.Fprintf(&b, "  %s -> %v %d/%d callbacks=%d order=%d err=%v\n", s.Value, s.Outcome, s.Partition, s.Offset, s.Callbacks, s.Order, s.Err)
	}
	parts := make([]int32, 0, len(h.Log))
	for p := range h.Log {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		fmt.Fprintf(&b, "log of partition %d (end %d):\n", p, h.End[p])
		for _, r := range h.Log[p] {
			fmt.Fprintf(&b, "  %d %s\n", r.Offset, r.Value)
		}
	}
	for i, s := range h.Sessions() {
		fmt.Fprintf(&b, "session %d: partition %d from %d, %d records, err=%v\n", i, s.Partition, s.Start, len(s.Records), s.Err)
		for _, r := range s.Records {
			fmt.Fprintf(&b, "  %d %s\n", r.Offset, r.Value)
		}
	}
	return b.String()
}
