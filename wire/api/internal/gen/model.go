package main

import (
	"fmt"
	"regexp"
	"strings"
)

// api is one Kafka API: its request and response schemas and the versions troupe supports.
type api struct {
	Name string // "Produce"
	Key  int
	Min  int // oldest version troupe speaks (the KIP-896 baseline)
	Max  int // newest version troupe speaks
	Msgs [2]*gmsg
}

// gmsg is one message (a request or a response) resolved into Go structs.
type gmsg struct {
	m        *message
	api      *api
	flex     vrange
	structs  []*gstruct // top first, then nested in declaration order
	common   map[string][]*field
	commonVs map[string]string
}

// gstruct is one generated Go struct.
type gstruct struct {
	name   string
	doc    string
	fields []*gfield
	msg    *gmsg
	top    bool
}

// gfield is one field of a generated struct.
type gfield struct {
	f        *field
	owner    *gstruct
	goName   string
	kind     string   // int8 ... bool, string, bytes, uuid, array, struct
	elemKind string   // element kind for arrays
	st       *gstruct // struct, or struct elements
	versions vrange   // within the supported versions
	nullable vrange   // within versions
	tagged   vrange   // within versions; empty when not tagged
	tag      int
	compact  string // Go expression: whether strings, bytes and arrays use compact encodings
	records  bool   // bytes that hold record batches: spliced, not copied, when encoding with a Splicer
}

var primitives = map[string]int{
	"int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint16": 2, "uint32": 4,
	"float64": 8, "bool": 1, "uuid": 16,
}

var (
	idWord  = regexp.MustCompile(`Id(s?)([A-Z]|$)`)
	apiWord = regexp.MustCompile(`^Api([A-Z]|$)`)
)

// goName turns a Kafka field or struct name into a Go identifier, with Go's initialisms
// ("TopicId" -> "TopicID", "ApiKey" -> "APIKey").
func goName(s string) string {
	s = idWord.ReplaceAllString(s, "ID$1$2")
	s = apiWord.ReplaceAllString(s, "API$1")
	return strings.ToUpper(s[:1]) + s[1:]
}

func newMsg(a *api, m *message) (*gmsg, error) {
	g := &gmsg{m: m, api: a, common: map[string][]*field{}, commonVs: map[string]string{}}
	g.flex = mustRange(m.FlexibleVersions)
	for _, cs := range m.CommonStructs {
		g.common[cs.Name] = cs.Fields
		g.commonVs[cs.Name] = cs.Versions
	}
	top := &gstruct{name: goName(m.Name), msg: g, top: true}
	g.structs = append(g.structs, top)
	if err := g.resolve(top, m.Fields); err != nil {
		return nil, err
	}
	return g, nil
}

// structName names a nested struct: the message name followed by the schema's struct name,
// unless the schema name already starts with the message name; a schema name that starts
// with the API's name loses that prefix ("ListOffsetsTopic" in ListOffsetsRequest becomes
// ListOffsetsRequestTopic, not ListOffsetsRequestListOffsetsTopic).
func (g *gmsg) structName(schemaName string) string {
	if strings.HasPrefix(schemaName, g.m.Name) {
		return goName(schemaName)
	}
	if rest, ok := strings.CutPrefix(schemaName, g.api.Name); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
		schemaName = rest
	}
	return goName(g.m.Name) + goName(schemaName)
}

func (g *gmsg) resolve(s *gstruct, fields []*field) error {
	min, max := g.api.Min, g.api.Max
	for _, f := range fields {
		vs := mustRange(f.Versions).intersect(min, max)
		if vs.empty() {
			continue // only in versions troupe does not speak
		}
		gf := &gfield{f: f, owner: s, goName: goName(f.Name), versions: vs, compact: "flexible", tagged: none}
		if f.FlexibleVersions != "" {
			if f.FlexibleVersions != "none" {
				return fmt.Errorf("%s.%s: field flexibleVersions %q unsupported", s.name, f.Name, f.FlexibleVersions)
			}
			gf.compact = "false"
		}
		gf.nullable = intersectRanges(mustRange(f.NullableVersions), vs)
		if f.Tag != nil {
			gf.tag = *f.Tag
			gf.tagged = intersectRanges(mustRange(f.TaggedVersions), vs)
		}
		typ := f.Type
		if strings.HasPrefix(typ, "[]") {
			gf.kind = "array"
			typ = typ[2:]
			if _, ok := primitives[typ]; ok || typ == "string" {
				gf.elemKind = typ
			} else {
				gf.elemKind = "struct"
			}
		} else if _, ok := primitives[typ]; ok || typ == "string" {
			gf.kind = typ
		} else if typ == "bytes" || typ == "records" {
			gf.kind = "bytes"
			gf.records = typ == "records"
		} else {
			gf.kind = "struct"
		}
		if gf.kind == "struct" || gf.elemKind == "struct" {
			sub := f.Fields
			if sub == nil {
				var ok bool
				if sub, ok = g.common[typ]; !ok {
					return fmt.Errorf("%s.%s: unknown type %q", s.name, f.Name, f.Type)
				}
			}
			st := &gstruct{name: g.structName(typ), msg: g}
			st.doc = fmt.Sprintf("%s is an element of %s.%s.", st.name, s.name, gf.goName)
			if gf.kind == "struct" {
				st.doc = fmt.Sprintf("%s is the type of %s.%s.", st.name, s.name, gf.goName)
			}
			for _, other := range g.structs {
				if other.name == st.name {
					// A common struct used twice is generated once.
					st = other
				}
			}
			gf.st = st
			if st.fields == nil {
				g.structs = append(g.structs, st)
				if err := g.resolve(st, sub); err != nil {
					return err
				}
			}
		}
		if gf.kind == "struct" && !gf.nullable.empty() && gf.nullable != gf.versions {
			// No schema needs it yet; the encoder would have to write nil as defaults.
			return fmt.Errorf("%s.%s: struct nullable in only some of its versions unsupported", s.name, f.Name)
		}
		if gf.kind != "string" && gf.kind != "bytes" && gf.kind != "array" && gf.kind != "struct" && !gf.nullable.empty() {
			return fmt.Errorf("%s.%s: nullable %s unsupported", s.name, f.Name, gf.kind)
		}
		s.fields = append(s.fields, gf)
	}
	return nil
}

func intersectRanges(a, b vrange) vrange {
	if a.empty() || b.empty() {
		return none
	}
	hi := b.hi
	if a.hi >= 0 && (hi < 0 || a.hi < hi) {
		hi = a.hi
	}
	lo := max(a.lo, b.lo)
	if hi >= 0 && lo > hi {
		return none
	}
	return vrange{lo, hi}
}

// goType returns the Go type of a field.
func (gf *gfield) goType() string {
	switch gf.kind {
	case "string":
		if !gf.nullable.empty() {
			return "*string"
		}
		return "string"
	case "bytes":
		return "[]byte"
	case "uuid":
		return "codec.UUID"
	case "struct":
		if gf.nullableStruct() {
			return "*" + gf.st.name
		}
		return gf.st.name
	case "array":
		switch gf.elemKind {
		case "struct":
			return "[]" + gf.st.name
		case "uuid":
			return "[]codec.UUID"
		default:
			return "[]" + gf.elemKind
		}
	default:
		return gf.kind
	}
}

func (gf *gfield) isTagged() bool { return !gf.tagged.empty() }

// nullableStruct reports whether gf is a struct that may be null in some version: its Go
// type is then a pointer, nil meaning null (encoded as the int8 marker -1 before the
// struct; 1 marks a present one).
func (gf *gfield) nullableStruct() bool { return gf.kind == "struct" && !gf.nullable.empty() }

// nullCond returns the condition under which a null is allowed: "" always (within the
// field's versions), "false" never, or a version test.
func (gf *gfield) nullCond() string {
	if gf.nullable.empty() {
		return "false"
	}
	if gf.nullable == gf.versions {
		return ""
	}
	return gf.nullable.cond(gf.versions.lo, gf.versions.hi)
}

// defaultLit returns the Go literal of the field's default, or "" for the zero value.
func (gf *gfield) defaultLit() string {
	d := gf.f.defaultString()
	switch gf.kind {
	case "string":
		if d == "null" || d == "" {
			return ""
		}
		if gf.goType() == "*string" {
			return fmt.Sprintf("ptrTo(%q)", d)
		}
		return fmt.Sprintf("%q", d)
	case "bool":
		if d == "true" {
			return "true"
		}
		return ""
	case "int8", "int16", "int32", "int64", "uint16", "uint32", "float64":
		if d == "" || d == "0" {
			return ""
		}
		return d
	}
	return ""
}

// isDefault returns a Go expression that holds when x has the field's default value.
func (gf *gfield) isDefault(x string) string {
	switch gf.kind {
	case "string":
		d := gf.f.defaultString()
		if gf.goType() == "*string" {
			if d == "null" {
				return x + " == nil"
			}
			return fmt.Sprintf("(%s == nil || *%s == %q)", x, x, d)
		}
		return fmt.Sprintf("%s == %q", x, d)
	case "bytes", "array":
		if gf.f.defaultString() == "null" {
			return x + " == nil"
		}
		return fmt.Sprintf("len(%s) == 0", x)
	case "uuid":
		return x + ".IsZero()"
	case "struct":
		if gf.nullableStruct() {
			return x + " == nil"
		}
		return x + ".isDefault()"
	case "bool":
		if gf.defaultLit() == "true" {
			return x
		}
		return "!" + x
	default:
		lit := gf.defaultLit()
		if lit == "" {
			lit = "0"
		}
		return fmt.Sprintf("%s == %s", x, lit)
	}
}

// minSize returns the fewest bytes the field takes at version v (0 when absent or tagged).
func (gf *gfield) minSize(v int) int {
	if !gf.versions.contains(v) || gf.f.Tag != nil {
		return 0
	}
	flexible := gf.owner.msg.flex.contains(v) && gf.compact == "flexible"
	switch gf.kind {
	case "string":
		if flexible {
			return 1
		}
		return 2
	case "bytes", "array":
		if flexible {
			return 1
		}
		return 4
	case "struct":
		if gf.nullable.contains(v) {
			return 1 // the null marker
		}
		return gf.st.minSizeAt(v)
	default:
		return primitives[gf.kind]
	}
}

func (s *gstruct) minSizeAt(v int) int {
	n := 0
	if s.msg.flex.contains(v) {
		n++ // the tagged-field count
	}
	for _, gf := range s.fields {
		n += gf.minSize(v)
	}
	return n
}

// minSize returns a lower bound of the struct's encoded size over every supported version.
func (s *gstruct) minSize() int {
	least := -1
	for v := s.msg.api.Min; v <= s.msg.api.Max; v++ {
		if n := s.minSizeAt(v); least < 0 || n < least {
			least = n
		}
	}
	return max(least, 1)
}

// tagged returns the struct's tagged fields in tag order.
func (s *gstruct) tagged() []*gfield {
	var out []*gfield
	for _, gf := range s.fields {
		if gf.isTagged() {
			out = append(out, gf)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].tag < out[j-1].tag; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
