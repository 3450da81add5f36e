package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// message is one Kafka JSON message schema, as Kafka's own generator reads it.
type message struct {
	APIKey           int      `json:"apiKey,omitempty"`
	Type             string   `json:"type,omitempty"`
	Name             string   `json:"name,omitempty"`
	ValidVersions    string   `json:"validVersions,omitempty"`
	FlexibleVersions string   `json:"flexibleVersions,omitempty"`
	Fields           []*field `json:"fields,omitempty"`
	// Listeners, DeprecatedVersions and LatestVersionUnstable matter only to brokers.
	Listeners             []string `json:"listeners,omitempty"`
	DeprecatedVersions    string   `json:"deprecatedVersions,omitempty"`
	LatestVersionUnstable bool     `json:"latestVersionUnstable,omitempty"`
	CommonStructs         []struct {
		Name     string   `json:"name,omitempty"`
		Versions string   `json:"versions,omitempty"`
		Fields   []*field `json:"fields,omitempty"`
	} `json:"commonStructs,omitempty"`
}

// field is one field of a message or struct schema.
type field struct {
	Name             string          `json:"name,omitempty"`
	Type             string          `json:"type,omitempty"`
	Versions         string          `json:"versions,omitempty"`
	NullableVersions string          `json:"nullableVersions,omitempty"`
	TaggedVersions   string          `json:"taggedVersions,omitempty"`
	Tag              *int            `json:"tag,omitempty"`
	Default          json.RawMessage `json:"default,omitempty"`
	Ignorable        bool            `json:"ignorable,omitempty"`
	About            string          `json:"about,omitempty"`
	FlexibleVersions string          `json:"flexibleVersions,omitempty"`
	Fields           []*field        `json:"fields,omitempty"`
	EntityType       string          `json:"entityType,omitempty"`
	MapKey           bool            `json:"mapKey,omitempty"`
	ZeroCopy         bool            `json:"zeroCopy,omitempty"`
}

// defaultString returns the schema default as written, or "" when there is none.
func (f *field) defaultString() string {
	if len(f.Default) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(f.Default, &s) == nil {
		return s
	}
	return string(f.Default) // a bare number or boolean
}

// readJSON reads a JSON file that may hold // comments, as Kafka's schemas do.
func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(stripComments(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// stripComments blanks out // comments that are outside JSON strings.
func stripComments(src []byte) []byte {
	out := make([]byte, 0, len(src))
	inString, escaped := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			c = '\n'
		}
		out = append(out, c)
	}
	return out
}

// vrange is an inclusive range of versions; hi < 0 means no upper bound. The empty range
// (lo > hi >= 0) stands for "none".
type vrange struct{ lo, hi int }

var none = vrange{1, 0}

func parseRange(s string) (vrange, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "none":
		return none, nil
	case strings.HasSuffix(s, "+"):
		lo, err := strconv.Atoi(strings.TrimSuffix(s, "+"))
		return vrange{lo, -1}, err
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		lo, err1 := strconv.Atoi(a)
		hi, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil {
			return none, fmt.Errorf("bad version range %q", s)
		}
		return vrange{lo, hi}, nil
	default:
		v, err := strconv.Atoi(s)
		return vrange{v, v}, err
	}
}

func mustRange(s string) vrange {
	r, err := parseRange(s)
	if err != nil {
		panic(err)
	}
	return r
}

func (r vrange) empty() bool { return r.hi >= 0 && r.lo > r.hi }

func (r vrange) contains(v int) bool {
	return !r.empty() && v >= r.lo && (r.hi < 0 || v <= r.hi)
}

// intersect limits r to the supported versions [min, max].
func (r vrange) intersect(min, max int) vrange {
	if r.empty() {
		return none
	}
	lo, hi := r.lo, r.hi
	if lo < min {
		lo = min
	}
	if hi < 0 || hi > max {
		hi = max
	}
	if lo > hi {
		return none
	}
	return vrange{lo, hi}
}

// cond returns a Go condition on the variable version that holds exactly for r within the
// supported versions [min, max]: "" when it always holds, "false" when it never does.
func (r vrange) cond(min, max int) string {
	r = r.intersect(min, max)
	switch {
	case r.empty():
		return "false"
	case r.lo == min && r.hi == max:
		return ""
	case r.lo == r.hi:
		return fmt.Sprintf("version == %d", r.lo)
	case r.lo == min:
		return fmt.Sprintf("version <= %d", r.hi)
	case r.hi == max:
		return fmt.Sprintf("version >= %d", r.lo)
	default:
		return fmt.Sprintf("version >= %d && version <= %d", r.lo, r.hi)
	}
}

func (r vrange) String() string {
	switch {
	case r.empty():
		return "none"
	case r.hi < 0:
		return fmt.Sprintf("%d+", r.lo)
	case r.lo == r.hi:
		return strconv.Itoa(r.lo)
	default:
		return fmt.Sprintf("%d-%d", r.lo, r.hi)
	}
}
