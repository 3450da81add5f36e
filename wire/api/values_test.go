package api_test

import (
	"reflect"

	"github.com/troupe-go/troupe/wire/codec"
	"pgregory.net/rapid"
)

// fill sets v, a settable value of a generated message (ours or kmsg's), to random contents
// drawn from t. It walks the type by reflection, so no test code is written per message.
//
// Fields named Version are left alone (kmsg keeps the version in the message). UnknownTags
// are left empty for kmsg values; for ours, unknownTags decides whether to invent a few with
// tag numbers above every known one (64 and up), which must survive every round trip.
func fill(t *rapid.T, v reflect.Value, depth int, unknownTags bool) {
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(rapid.Bool().Draw(t, "bool"))
	case reflect.Int8:
		v.SetInt(int64(rapid.Int8().Draw(t, "int8")))
	case reflect.Int16:
		v.SetInt(int64(rapid.Int16().Draw(t, "int16")))
	case reflect.Int32:
		v.SetInt(int64(rapid.Int32().Draw(t, "int32")))
	case reflect.Int64:
		v.SetInt(rapid.Int64().Draw(t, "int64"))
	case reflect.Uint16:
		v.SetUint(uint64(rapid.Uint16().Draw(t, "uint16")))
	case reflect.Uint32:
		v.SetUint(uint64(rapid.Uint32().Draw(t, "uint32")))
	case reflect.Float64:
		v.SetFloat(rapid.Float64().Draw(t, "float64"))
	case reflect.String:
		v.SetString(rapid.StringN(0, 6, 24).Draw(t, "string"))
	case reflect.Pointer:
		if rapid.IntRange(0, 3).Draw(t, "null") == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), depth, unknownTags)
		v.Set(p)
	case reflect.Array: // UUIDs
		for i := range v.Len() {
			v.Index(i).SetUint(uint64(rapid.Byte().Draw(t, "uuid byte")))
		}
	case reflect.Slice:
		if rapid.IntRange(0, 4).Draw(t, "null") == 0 {
			v.SetZero()
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(rapid.SliceOfN(rapid.Byte(), 0, 12).Draw(t, "bytes"))
			return
		}
		maxLen := 3
		if depth > 2 {
			maxLen = 1
		}
		n := rapid.IntRange(0, maxLen).Draw(t, "len")
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(t, s.Index(i), depth+1, unknownTags)
		}
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[codec.Tags]() {
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Name == "Version" {
				continue
			}
			if f.Name == "UnknownTags" {
				if unknownTags && f.Type == reflect.TypeFor[codec.Tags]() {
					v.Field(i).Set(reflect.ValueOf(drawTags(t)))
				}
				continue
			}
			fill(t, v.Field(i), depth, unknownTags)
		}
	}
}

// drawTags invents unknown tagged fields numbered above every tag Kafka uses here.
func drawTags(t *rapid.T) codec.Tags {
	n := rapid.IntRange(0, 2).Draw(t, "unknown tags")
	if n == 0 || rapid.IntRange(0, 3).Draw(t, "no tags") > 0 {
		return nil
	}
	tags := make(codec.Tags, n)
	next := uint32(64)
	for i := range tags {
		next += uint32(rapid.IntRange(0, 100).Draw(t, "tag gap"))
		tags[i] = codec.RawTag{Tag: next, Data: rapid.SliceOfN(rapid.Byte(), 0, 4).Draw(t, "tag data")}
		next++
	}
	return tags
}
