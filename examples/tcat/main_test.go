package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/troupe-go/troupe/internal/testmain"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestMain(m *testing.M) { testmain.Run(m) }

func tcat(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cfg, err := parseFlags(args, &errb)
	if err != nil {
		return "", errb.String(), err
	}
	err = run(context.Background(), cfg, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestProduceConsumeList(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(2), kfake.SeedTopics(3, "t"))
	b := strings.Join(seeds, ",")
	var in strings.Builder
	for i := range 30 {
		in.WriteString("k" + strconv.Itoa(i%3) + ":line " + strconv.Itoa(i) + "\n")
	}
	if _, stderr, err := tcat(t, in.String(), "-b", b, "-P", "-t", "t", "-K", ":", "-H", "src=tcat"); err != nil || !strings.Contains(stderr, "30 records produced") {
		t.Fatalf("produce: %v %s", err, stderr)
	}
	out, _, err := tcat(t, "", "-b", b, "-C", "-t", "t", "-e", "-J")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 30 {
		t.Fatalf("consumed %d records:\n%s", len(lines), out)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var r jsonRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.Key == nil || r.Value == nil || r.Headers["src"] != "tcat" || !strings.HasPrefix(*r.Value, "line ") {
			t.Fatalf("record %s", l)
		}
		seen[*r.Value] = true
	}
	if len(seen) != 30 {
		t.Fatalf("%d distinct records", len(seen))
	}
	out, _, err = tcat(t, "", "-b", b, "-C", "-t", "t", "-o", "beginning", "-c", "2", "-K", "=")
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, "=line ") {
		t.Fatalf("consume -c 2: %v %q", err, out)
	}
	out, _, err = tcat(t, "", "-b", b, "-L")
	if err != nil || !strings.Contains(out, "2 brokers") || !strings.Contains(out, `topic "t" with 3 partitions`) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	// An empty partition with -e ends at once.
	if _, _, err := tcat(t, "", "-b", b, "-C", "-t", "t", "-o", "end", "-e"); err != nil {
		t.Fatal(err)
	}
}

func TestClearErrors(t *testing.T) {
	_, seeds := kafkatest.Start(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	for _, args := range [][]string{
		{"-C", "-t", "t"},                       // no -b
		{"-b", seeds[0], "-C"},                  // no topic
		{"-b", seeds[0], "-C", "-P", "-t", "t"}, // two modes
		{"-b", seeds[0], "-nonsense"},
	} {
		if _, _, err := tcat(t, "", args...); err == nil {
			t.Fatalf("%v accepted", args)
		}
	}
	_, _, err := tcat(t, "", "-b", seeds[0], "-C", "-t", "missing", "-e")
	if err == nil || !strings.Contains(err.Error(), `topic "missing"`) {
		t.Fatalf("unknown topic: %v", err)
	}
	_, _, err = tcat(t, "", "-b", seeds[0], "-C", "-t", "t", "-p", "5", "-e")
	if err == nil || !strings.Contains(err.Error(), "no partition 5") {
		t.Fatalf("bad partition: %v", err)
	}
	_, _, err = tcat(t, "", "-b", seeds[0], "-C", "-t", "t", "-o", "yesterday", "-e")
	if !errors.Is(err, errUsage) {
		t.Fatalf("bad offset: %v", err)
	}
	_, _, err = tcat(t, "", "-b", "127.0.0.1:"+strconv.Itoa(kafkatest.FreePort(t)), "-L", "-timeout", "300ms")
	if err == nil || !strings.Contains(err.Error(), "cannot reach the brokers") {
		t.Fatalf("unreachable broker: %v", err)
	}
	_ = io.Discard
}
