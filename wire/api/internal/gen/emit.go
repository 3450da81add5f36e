package main

import (
	"fmt"
	"strings"
)

// writer accumulates generated Go source.
type writer struct{ strings.Builder }

func (w *writer) p(format string, args ...any) {
	fmt.Fprintf(&w.Builder, format, args...)
	w.WriteByte('\n')
}

// comment writes text as a Go comment wrapped near 90 columns, with the given indent.
func (w *writer) comment(indent, text string) {
	for _, para := range strings.Split(text, "\n") {
		line := indent + "//"
		for _, word := range strings.Fields(para) {
			if len(line)+1+len(word) > 92 && line != indent+"//" {
				w.p("%s", line)
				line = indent + "//"
			}
			line += " " + word
		}
		w.p("%s", line)
	}
}

// fieldDoc explains a field: Kafka's description, then its versions and default.
func fieldDoc(gf *gfield) string {
	about := strings.TrimSpace(gf.f.About)
	if about == "" {
		about = "(No description in the schema.)"
	}
	var facts []string
	facts = append(facts, "versions "+gf.versions.String())
	if !gf.nullable.empty() {
		facts = append(facts, "nullable "+gf.nullable.String())
	}
	if gf.isTagged() {
		facts = append(facts, fmt.Sprintf("tag %d in versions %s", gf.tag, gf.tagged.String()))
	}
	if d := gf.f.defaultString(); d != "" {
		facts = append(facts, "default "+d)
	}
	if gf.f.Ignorable {
		facts = append(facts, "ignorable")
	}
	about = strings.TrimSuffix(about, ".")
	return fmt.Sprintf("%s (%s).", about, strings.Join(facts, "; "))
}

func (g *gmsg) emit(w *writer) {
	for _, s := range g.structs {
		g.emitStruct(w, s)
	}
}

func (g *gmsg) emitStruct(w *writer, s *gstruct) {
	a := g.api
	if s.top {
		kind := g.m.Type
		w.comment("", fmt.Sprintf("%s is the %s of the %s API (key %d). troupe speaks versions %d to %d; versions %s are flexible (compact encodings and tagged fields).",
			s.name, kind, a.Name, a.Key, a.Min, a.Max, g.flex.intersect(a.Min, a.Max)))
	} else {
		w.comment("", s.doc)
	}
	w.p("type %s struct {", s.name)
	for _, gf := range s.fields {
		w.comment("\t", fieldDoc(gf))
		w.p("\t%s %s", gf.goName, gf.goType())
	}
	w.comment("\t", "UnknownTags holds the tagged fields this version of troupe does not know, in wire order; encoding writes them back unchanged.")
	w.p("\tUnknownTags codec.Tags")
	w.p("}")
	w.p("")

	g.emitDefault(w, s)
	g.emitAppend(w, s)
	g.emitRead(w, s)
	g.emitValidate(w, s)
	if s.top {
		g.emitTop(w, s)
	}
}

func (g *gmsg) emitDefault(w *writer, s *gstruct) {
	w.comment("", "Default sets every field to its schema default; fields without one become zero. Decode starts from these values, so fields absent at the decoded version keep them.")
	w.p("func (v *%s) Default() {", s.name)
	w.p("\t*v = %s{}", s.name)
	for _, gf := range s.fields {
		if gf.nullableStruct() {
			if gf.f.defaultString() != "null" {
				w.p("\tv.%s = new(%s)", gf.goName, gf.st.name)
				w.p("\tv.%s.Default()", gf.goName)
			}
		} else if gf.kind == "struct" {
			w.p("\tv.%s.Default()", gf.goName)
		} else if lit := gf.defaultLit(); lit != "" {
			w.p("\tv.%s = %s", gf.goName, lit)
		}
	}
	w.p("}")
	w.p("")
	if !s.top {
		w.comment("", "isDefault reports whether every field holds its schema default, which is when a tagged field of this type is left off the wire.")
		w.p("func (v *%s) isDefault() bool {", s.name)
		conds := []string{"len(v.UnknownTags) == 0"}
		for _, gf := range s.fields {
			conds = append(conds, gf.isDefault("v."+gf.goName))
		}
		w.p("\treturn %s", strings.Join(conds, " &&\n\t\t"))
		w.p("}")
		w.p("")
	}
}

func (g *gmsg) flexDecl(w *writer) {
	switch c := g.flex.cond(g.api.Min, g.api.Max); c {
	case "":
		w.p("\tconst flexible = true")
	case "false":
		w.p("\tconst flexible = false")
	default:
		w.p("\tflexible := %s", c)
	}
}

// open writes "if cond {" unless cond always holds; it returns the closer to write.
func open(w *writer, cond string) string {
	if cond == "" {
		return ""
	}
	w.p("\tif %s {", cond)
	return "\t}"
}

func (g *gmsg) emitAppend(w *writer, s *gstruct) {
	min, max := g.api.Min, g.api.Max
	w.comment("", "appendTo appends v encoded at the given version, leaving record batches to sp if it is not nil.")
	w.p("func (v *%s) appendTo(dst []byte, version int16, sp *codec.Splicer) []byte {", s.name)
	g.flexDecl(w)
	for _, gf := range s.fields {
		if gf.f.Tag != nil {
			continue
		}
		end := open(w, gf.versions.cond(min, max))
		encodeValue(w, gf, "v."+gf.goName, "sp")
		if end != "" {
			w.p("%s", end)
		}
	}
	tagged := s.tagged()
	w.p("\tif flexible {")
	if len(tagged) == 0 {
		w.p("\t\tdst = v.UnknownTags.AppendTagSection(dst)")
	} else {
		w.p("\t\tn := len(v.UnknownTags)")
		for _, gf := range tagged {
			cond := gf.tagged.cond(min, max)
			if cond != "" {
				cond += " && "
			}
			w.p("\t\thas%s := %s%s", gf.goName, cond, negate(gf.isDefault("v."+gf.goName)))
			w.p("\t\tif has%s {", gf.goName)
			w.p("\t\t\tn++")
			w.p("\t\t}")
		}
		w.p("\t\tdst = codec.AppendUvarint(dst, uint32(n))")
		w.p("\t\ti := 0")
		for _, gf := range tagged {
			w.p("\t\tif has%s {", gf.goName)
			w.p("\t\t\tdst, i = v.UnknownTags.AppendBefore(dst, i, %d)", gf.tag)
			w.p("\t\t\tdst = codec.AppendUvarint(dst, %d)", gf.tag)
			w.p("\t\t\tvar mark int")
			w.p("\t\t\tdst, mark = codec.BeginSized(dst)")
			encodeValue(w, gf, "v."+gf.goName, "nil") // the size prefix counts only what is in dst
			w.p("\t\t\tdst = codec.EndSized(dst, mark)")
			w.p("\t\t}")
		}
		w.p("\t\tdst = v.UnknownTags.AppendRest(dst, i)")
	}
	w.p("\t}")
	w.p("\treturn dst")
	w.p("}")
	w.p("")
}

// encodeValue writes statements appending x, the value of field gf, to dst; sp is the Go
// expression of the Splicer that record batches are left to (nil: copy them).
func encodeValue(w *writer, gf *gfield, x, sp string) {
	c := gf.compact
	switch gf.kind {
	case "string":
		switch nc := gf.nullCond(); nc {
		case "false":
			w.p("dst = codec.AppendString(dst, %s, %s)", x, c)
		case "":
			w.p("dst = codec.AppendNullableString(dst, %s, %s)", x, c)
		default:
			w.p("if %s {", nc)
			w.p("dst = codec.AppendNullableString(dst, %s, %s)", x, c)
			w.p("} else {")
			w.p("dst = codec.AppendString(dst, deref(%s), %s)", x, c)
			w.p("}")
		}
	case "bytes":
		switch nc := gf.nullCond(); nc {
		case "false":
			w.p("dst = codec.AppendBytes(dst, %s, %s)", x, c)
		case "":
			if gf.records {
				w.p("dst = codec.AppendNullableRecords(dst, %s, %s, %s)", x, c, sp)
			} else {
				w.p("dst = codec.AppendNullableBytes(dst, %s, %s)", x, c)
			}
		default:
			w.p("if %s {", nc)
			w.p("dst = codec.AppendNullableBytes(dst, %s, %s)", x, c)
			w.p("} else {")
			w.p("dst = codec.AppendBytes(dst, %s, %s)", x, c)
			w.p("}")
		}
	case "struct":
		if !gf.nullableStruct() {
			w.p("dst = %s.appendTo(dst, version, %s)", x, sp)
			break
		}
		// A nullable struct (null in all its versions): the marker -1 for null, 1 before a
		// present one.
		w.p("if %s == nil {", x)
		w.p("dst = codec.AppendInt8(dst, -1)")
		w.p("} else {")
		w.p("dst = codec.AppendInt8(dst, 1)")
		w.p("dst = %s.appendTo(dst, version, %s)", x, sp)
		w.p("}")
	case "array":
		nc := gf.nullCond()
		closer := ""
		if nc != "false" {
			if nc != "" {
				nc = " && " + nc
			}
			w.p("if %s == nil%s {", x, nc)
			w.p("dst = codec.AppendNullArrayLen(dst, %s)", c)
			w.p("} else {")
			closer = "}"
		}
		w.p("dst = codec.AppendArrayLen(dst, len(%s), %s)", x, c)
		if gf.elemKind == "struct" {
			w.p("for i := range %s {", x)
			w.p("dst = %s[i].appendTo(dst, version, %s)", x, sp)
		} else {
			w.p("for _, e := range %s {", x)
			w.p("%s", appendPrimitive(gf.elemKind, "e", c))
		}
		w.p("}")
		if closer != "" {
			w.p("%s", closer)
		}
	default:
		w.p("%s", appendPrimitive(gf.kind, x, c))
	}
}

var primitiveFuncs = map[string]string{
	"int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64", "uint16": "Uint16",
	"uint32": "Uint32", "float64": "Float64", "bool": "Bool", "uuid": "UUID",
}

func appendPrimitive(kind, x, compact string) string {
	if kind == "string" {
		return fmt.Sprintf("dst = codec.AppendString(dst, %s, %s)", x, compact)
	}
	return fmt.Sprintf("dst = codec.Append%s(dst, %s)", primitiveFuncs[kind], x)
}

func readPrimitive(kind, compact string) string {
	if kind == "string" {
		return fmt.Sprintf("d.String(%s)", compact)
	}
	return fmt.Sprintf("d.%s()", primitiveFuncs[kind])
}

func (g *gmsg) emitRead(w *writer, s *gstruct) {
	min, max := g.api.Min, g.api.Max
	w.comment("", "readFrom decodes v at the given version, starting from the defaults. Errors latch in d.")
	w.p("func (v *%s) readFrom(d *codec.Decoder, version int16) {", s.name)
	g.flexDecl(w)
	w.p("\tv.Default()")
	for _, gf := range s.fields {
		if gf.f.Tag != nil {
			continue
		}
		end := open(w, gf.versions.cond(min, max))
		decodeValue(w, gf, "v."+gf.goName)
		if end != "" {
			w.p("%s", end)
		}
	}
	tagged := s.tagged()
	w.p("\tif flexible {")
	if len(tagged) == 0 {
		w.p("\t\tv.UnknownTags = d.SkipTags(nil)")
	} else {
		w.p("\t\tfor n := d.TagCount(); n > 0 && d.Err() == nil; n-- {")
		w.p("\t\t\ttag, data := d.Tag()")
		w.p("\t\t\tswitch {")
		for _, gf := range tagged {
			cond := gf.tagged.cond(min, max)
			if cond != "" {
				cond = " && " + cond
			}
			w.p("\t\t\tcase tag == %d%s:", gf.tag, cond)
			w.p("\t\t\t\touter := d")
			w.p("\t\t\t\tvar sub codec.Decoder")
			w.p("\t\t\t\tsub.Reset(data)")
			w.p("\t\t\t\td := &sub")
			decodeValue(w, gf, "v."+gf.goName)
			w.p("\t\t\t\tif err := d.Finish(); err != nil {")
			w.p("\t\t\t\t\touter.Fail(fmt.Errorf(\"tagged field %s.%s: %%w\", err))", s.name, gf.goName)
			w.p("\t\t\t\t}")
		}
		w.p("\t\t\tdefault:")
		w.p("\t\t\t\tif d.Err() == nil {")
		w.p("\t\t\t\t\tv.UnknownTags = append(v.UnknownTags, codec.RawTag{Tag: tag, Data: data})")
		w.p("\t\t\t\t}")
		w.p("\t\t\t}")
		w.p("\t\t}")
	}
	w.p("\t}")
	w.p("}")
	w.p("")
}

// decodeValue writes statements that read field gf from d into x.
func decodeValue(w *writer, gf *gfield, x string) {
	c := gf.compact
	name := gf.owner.name + "." + gf.goName
	switch gf.kind {
	case "string":
		switch nc := gf.nullCond(); nc {
		case "false":
			w.p("%s = d.String(%s)", x, c)
		case "":
			w.p("%s = d.NullableString(%s)", x, c)
		default:
			w.p("if %s {", nc)
			w.p("%s = d.NullableString(%s)", x, c)
			w.p("} else {")
			w.p("%s = ptrTo(d.String(%s))", x, c)
			w.p("}")
		}
	case "bytes":
		switch nc := gf.nullCond(); nc {
		case "false":
			w.p("%s = d.Bytes(%s)", x, c)
		case "":
			w.p("%s = d.NullableBytes(%s)", x, c)
		default:
			w.p("if %s {", nc)
			w.p("%s = d.NullableBytes(%s)", x, c)
			w.p("} else {")
			w.p("%s = d.Bytes(%s)", x, c)
			w.p("}")
		}
	case "struct":
		if !gf.nullableStruct() {
			w.p("%s.readFrom(d, version)", x)
			break
		}
		w.p("if d.Int8() < 0 {")
		w.p("%s = nil", x)
		w.p("} else {")
		w.p("%s = new(%s)", x, gf.st.name)
		w.p("%s.Default()", x)
		w.p("%s.readFrom(d, version)", x)
		w.p("}")
	case "array":
		minSize := 1
		elemType := strings.TrimPrefix(gf.goType(), "[]")
		if gf.elemKind == "struct" {
			minSize = gf.st.minSize()
		} else if n, ok := primitives[gf.elemKind]; ok {
			minSize = n
		}
		w.p("if n := d.ArrayLen(%s, %d); n >= 0 {", c, minSize)
		w.p("%s = make([]%s, n)", x, elemType)
		w.p("for i := range %s {", x)
		if gf.elemKind == "struct" {
			w.p("%s[i].readFrom(d, version)", x)
		} else {
			w.p("%s[i] = %s", x, readPrimitive(gf.elemKind, c))
		}
		w.p("}")
		switch nc := gf.nullCond(); nc {
		case "":
		case "false":
			w.p("} else {")
			w.p("d.Fail(fmt.Errorf(\"%s: %%w\", codec.ErrUnexpectedNull))", name)
		default:
			w.p("} else if %s {", negate(nc))
			w.p("d.Fail(fmt.Errorf(\"%s: %%w\", codec.ErrUnexpectedNull))", name)
		}
		w.p("}")
	default:
		w.p("%s = %s", x, readPrimitive(gf.kind, c))
	}
}

func (g *gmsg) emitValidate(w *writer, s *gstruct) {
	min, max := g.api.Min, g.api.Max
	w.comment("", "validate reports the first field that cannot be encoded at version: a field the version lacks that holds a non-default value and is not ignorable.")
	w.p("func (v *%s) validate(version int16) error {", s.name)
	for _, gf := range s.fields {
		present := gf.versions.cond(min, max)
		if gf.f.Tag != nil {
			present = gf.tagged.cond(min, max)
		}
		x := "v." + gf.goName
		if !gf.f.Ignorable && present != "" {
			w.p("\tif %s && %s {", negate(present), negate(gf.isDefault(x)))
			w.p("\t\treturn fmt.Errorf(\"%s.%s (versions %s) at version %%d: %%w\", version, ErrFieldNotInVersion)", s.name, gf.goName, gf.versions)
			w.p("\t}")
		}
		if gf.kind == "struct" || gf.elemKind == "struct" {
			end := open(w, present)
			if gf.nullableStruct() {
				w.p("if %s != nil {", x)
				w.p("if err := %s.validate(version); err != nil {", x)
				w.p("return err")
				w.p("}")
				w.p("}")
			} else if gf.kind == "struct" {
				w.p("if err := %s.validate(version); err != nil {", x)
				w.p("return err")
				w.p("}")
			} else {
				w.p("for i := range %s {", x)
				w.p("if err := %s[i].validate(version); err != nil {", x)
				w.p("return err")
				w.p("}")
				w.p("}")
			}
			if end != "" {
				w.p("%s", end)
			}
		}
	}
	w.p("\treturn nil")
	w.p("}")
	w.p("")
}

func (g *gmsg) emitTop(w *writer, s *gstruct) {
	a := g.api
	kind := "request"
	if g.m.Type == "response" {
		kind = "response"
	}
	w.comment("", fmt.Sprintf("APIKey returns %s, the API key of this %s.", goName(a.Name), kind))
	w.p("func (*%s) APIKey() Key { return %s }", s.name, goName(a.Name))
	w.p("")
	w.p("func (*%s) is%s() {}", s.name, strings.ToUpper(kind[:1])+kind[1:])
	w.p("")
	w.comment("", "Encode appends v encoded at version to dst and returns the extended slice. It writes only the fields that exist at version; call Validate first to learn of set fields the version would drop. version must be in the supported range.")
	w.p("func (v *%s) Encode(dst []byte, version int16) []byte {", s.name)
	w.p("\treturn v.appendTo(dst, version, nil)")
	w.p("}")
	w.p("")
	w.comment("", "encodeSpliced is Encode leaving record batches to sp.")
	w.p("func (v *%s) encodeSpliced(dst []byte, version int16, sp *codec.Splicer) []byte {", s.name)
	w.p("\treturn v.appendTo(dst, version, sp)")
	w.p("}")
	w.p("")
	w.comment("", "Decode replaces v with the message src holds at version. It fails for an unsupported version, malformed or truncated input, and bytes left over. Byte slices in v alias src.")
	w.p("func (v *%s) Decode(src []byte, version int16) error {", s.name)
	w.p("\tif version < %d || version > %d {", a.Min, a.Max)
	w.p("\t\treturn fmt.Errorf(\"api: %s v%%d: %%w\", version, ErrUnsupportedVersion)", s.name)
	w.p("\t}")
	w.p("\tvar d codec.Decoder")
	w.p("\td.Reset(src)")
	w.p("\tv.readFrom(&d, version)")
	w.p("\tif err := d.Finish(); err != nil {")
	w.p("\t\treturn fmt.Errorf(\"api: decoding %s v%%d: %%w\", version, err)", s.name)
	w.p("\t}")
	w.p("\treturn nil")
	w.p("}")
	w.p("")
	w.comment("", "Validate reports whether v can be encoded at version without losing information: the version must be supported, and no field that the version lacks may hold a non-default value unless the schema marks it ignorable.")
	w.p("func (v *%s) Validate(version int16) error {", s.name)
	w.p("\tif version < %d || version > %d {", a.Min, a.Max)
	w.p("\t\treturn fmt.Errorf(\"api: %s v%%d: %%w\", version, ErrUnsupportedVersion)", s.name)
	w.p("\t}")
	w.p("\tif err := v.validate(version); err != nil {")
	w.p("\t\treturn fmt.Errorf(\"api: %%w\", err)")
	w.p("\t}")
	w.p("\treturn nil")
	w.p("}")
	w.p("")
}

// negate returns the Go negation of the boolean expression e, without double negations.
func negate(e string) string {
	if !strings.ContainsAny(e, "()&|!") {
		for _, op := range [][2]string{{" == ", " != "}, {" <= ", " > "}, {" >= ", " < "}} {
			if strings.Count(e, op[0]) == 1 && strings.Count(e, " ") == 2 {
				return strings.Replace(e, op[0], op[1], 1)
			}
		}
	}
	if strings.HasPrefix(e, "!") && !strings.ContainsAny(e, " ()") {
		return e[1:]
	}
	if !strings.ContainsAny(e, " ()") {
		return "!" + e
	}
	return "!(" + e + ")"
}
