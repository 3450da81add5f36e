package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/troupe-go/troupe/internal/testmain"
)

func TestMain(m *testing.M) { testmain.Run(m) }

var (
	ownersLine    = regexp.MustCompile(`(?m)^owners: (.*)$`)
	processedLine = regexp.MustCompile(`(?m)^(m\d) processed groups\[(\d+)\] offset (\d+): record (\d+) of partition (\d+)( \(again\))?$`)
	verifiedLine  = regexp.MustCompile(`(?m)^verified: all (\d+) records processed at least once \((\d+) of them twice`)
)

// TestGroups runs the example and checks what its output says: who owned what after
// each round (three members, then two without the killed m2, then three again), that
// every record was processed by someone, and that the killed member did not process
// anything between its kill and its restart.
func TestGroups(t *testing.T) {
	for _, proto := range []string{"classic", "consumer"} {
		t.Run(proto, func(t *testing.T) {
			var out bytes.Buffer
			o := options{topic: "groups", group: "g", partitions: 6, records: 3, protocol: proto, session: time.Second, timeout: time.Minute}
			if err := run(context.Background(), &out, o); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			s := out.String()
			rounds := ownersLine.FindAllStringSubmatch(s, -1)
			if len(rounds) != 3 {
				t.Fatalf("%d owners lines, want one per round (3):\n%s", len(rounds), s)
			}
			for i, want := range [][]string{{"m1", "m2", "m3"}, {"m1", "m3"}, {"m1", "m2", "m3"}} {
				got := map[string]int{}
				for _, f := range strings.Fields(rounds[i][1]) {
					_, who, _ := strings.Cut(f, "→")
					got[who]++
				}
				if len(got) != len(want) {
					t.Errorf("round %d: owners %q, want every partition owned by one of %v, each of them owning some", i+1, rounds[i][1], want)
				}
				for _, w := range want {
					if got[w] == 0 {
						t.Errorf("round %d: owners %q: %s owns nothing", i+1, rounds[i][1], w)
					}
				}
			}
			// Between the kill and the restart, m2 processes nothing; every record of
			// the three rounds is processed by someone; values match partition and offset.
			killed, restarted := strings.Index(s, "m2 killed"), strings.Index(s, "== round 3")
			if killed < 0 || restarted < killed {
				t.Fatalf("no kill, or no restart after it:\n%s", s)
			}
			seen := map[[2]int]bool{}
			for _, m := range processedLine.FindAllStringSubmatchIndex(s, -1) {
				who := s[m[2]:m[3]]
				part, _ := strconv.Atoi(s[m[4]:m[5]])
				off, _ := strconv.Atoi(s[m[6]:m[7]])
				n, _ := strconv.Atoi(s[m[8]:m[9]])
				vp, _ := strconv.Atoi(s[m[10]:m[11]])
				if n != off || vp != part {
					t.Errorf("%s: partition %d offset %d holds record %d of partition %d", who, part, off, n, vp)
				}
				if who == "m2" && m[0] > killed && m[0] < restarted {
					t.Errorf("m2 processed partition %d offset %d while it was dead", part, off)
				}
				seen[[2]int{part, off}] = true
			}
			if len(seen) != 6*3*3 {
				t.Errorf("%d distinct records processed, want %d", len(seen), 6*3*3)
			}
			v := verifiedLine.FindStringSubmatch(s)
			if v == nil || v[1] != "54" {
				t.Fatalf("no verification of 54 records:\n%s", s)
			}
			t.Logf("%s of 54 records processed twice (those m2 finished but had not committed when killed)", v[2])
		})
	}
}

func TestGroupsRejectsBadFlags(t *testing.T) {
	for _, o := range []options{
		{partitions: 0, records: 1, protocol: "classic", session: time.Second, timeout: time.Second},
		{partitions: 1, records: 1, protocol: "eager", session: time.Second, timeout: time.Second},
	} {
		if err := run(context.Background(), &bytes.Buffer{}, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
