package main

import (
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStripComments(t *testing.T) {
	in := `{ // comment
  "about": "see http://kafka.apache.org // not a comment", // trailing
  "x": "quote \" // still string"
}`
	var v map[string]string
	if err := json.Unmarshal(stripComments([]byte(in)), &v); err != nil {
		t.Fatal(err)
	}
	if v["about"] != "see http://kafka.apache.org // not a comment" || v["x"] != `quote " // still string` {
		t.Fatalf("%q", v)
	}
}

func TestRanges(t *testing.T) {
	cases := []struct {
		in       string
		min, max int
		cond     string
	}{
		{"0+", 3, 13, ""},
		{"3+", 0, 13, "version >= 3"},
		{"0-12", 3, 13, "version <= 12"},
		{"13+", 3, 13, "version == 13"},
		{"5-7", 0, 13, "version >= 5 && version <= 7"},
		{"0-2", 3, 13, "false"},
		{"none", 0, 5, "false"},
		{"", 0, 5, "false"},
	}
	for _, c := range cases {
		r, err := parseRange(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got := r.cond(c.min, c.max); got != c.cond {
			t.Errorf("%q in %d-%d: %q, want %q", c.in, c.min, c.max, got, c.cond)
		}
	}
	if _, err := parseRange("3-x"); err == nil {
		t.Error("bad range accepted")
	}
	if r := intersectRanges(mustRange("12+"), vrange{10, 13}); r != (vrange{12, 13}) {
		t.Errorf("intersect: %v", r)
	}
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"TopicId": "TopicID", "ReplicaIds": "ReplicaIDs", "IdleTime": "IdleTime",
		"ApiKey": "APIKey", "ApiVersionsRequest": "APIVersionsRequest", "InitProducerIdRequest": "InitProducerIDRequest",
		"Rapid": "Rapid",
	} {
		if got := goName(in); got != want {
			t.Errorf("goName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOverlay(t *testing.T) {
	m := &message{Name: "XRequest", ValidVersions: "0-3", Fields: []*field{
		{Name: "Topics", Type: "[]Topic", Versions: "0+", Fields: []*field{{Name: "Name", Type: "string", Versions: "0+"}}},
	}}
	o := overlay{ValidVersions: "0-4", Patches: []patch{
		{Path: "Topics.Name", Set: map[string]json.RawMessage{"versions": json.RawMessage(`"0-3"`)}},
		{Path: "Topics", After: "Name", Add: &field{Name: "TopicId", Type: "uuid", Versions: "4+"}},
	}}
	if err := o.apply(m); err != nil {
		t.Fatal(err)
	}
	f := m.Fields[0].Fields
	if m.ValidVersions != "0-4" || len(f) != 2 || f[0].Versions != "0-3" || f[1].Name != "TopicId" {
		t.Fatalf("%+v %+v", m, f)
	}
	bad := overlay{Patches: []patch{{Path: "Nope.Name", Set: map[string]json.RawMessage{}}}}
	if err := bad.apply(m); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("unknown path: %v", err)
	}
}

func TestNullableStructOnlyInAllItsVersions(t *testing.T) {
	m := &message{Name: "XResponse", ValidVersions: "0-3", Fields: []*field{
		{Name: "Assignment", Type: "Assignment", Versions: "0+", NullableVersions: "2+",
			Fields: []*field{{Name: "N", Type: "int32", Versions: "0+"}}},
	}}
	g := &gmsg{m: m, api: &api{Name: "X", Min: 0, Max: 3}}
	err := g.resolve(&gstruct{name: m.Name, msg: g}, m.Fields)
	if err == nil || !strings.Contains(err.Error(), "only some") {
		t.Fatalf("partly nullable struct: %v", err)
	}
}
