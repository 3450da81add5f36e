package api_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"
)

// side is a request or a response of some API, built both in troupe's types and kmsg's.
type side struct {
	name  string
	ours  func(api.Key) api.Message
	kmsg_ func(api.Key) kmsgMessage
}

// kmsgMessage is what kmsg's requests and responses have in common.
type kmsgMessage interface {
	SetVersion(int16)
	AppendTo([]byte) []byte
	ReadFrom([]byte) error
}

var sides = []side{
	{
		name:  "request",
		ours:  func(k api.Key) api.Message { r, _ := api.NewRequest(k); return r },
		kmsg_: func(k api.Key) kmsgMessage { return kmsg.RequestForKey(int16(k)) },
	},
	{
		name:  "response",
		ours:  func(k api.Key) api.Message { r, _ := api.NewResponse(k); return r },
		kmsg_: func(k api.Key) kmsgMessage { return kmsg.ResponseForKey(int16(k)) },
	},
}

// TestDifferentialKmsg checks troupe's encoding of every message, at every version troupe
// speaks, against franz-go's kmsg, an independent implementation of the same schemas:
//
//   - a random troupe value, encoded by troupe, decoded by kmsg and re-encoded by kmsg, gives
//     the same bytes (so troupe writes nothing kmsg reads differently);
//   - a random kmsg value, encoded by kmsg, decoded by troupe and re-encoded by troupe, gives
//     the same bytes (so troupe reads every field kmsg writes, tagged or not).
//
// Raw pass-through of unknown tags would hide a tag written under the wrong number, so both
// directions also check that neither side kept any tagged field as unknown, except where
// kmsg and the schema genuinely disagree: kmsg writes a tagged field at every flexible
// version, while the schema limits some to later versions (see schemaOnlyTags).
func TestDifferentialKmsg(t *testing.T) {
	for _, k := range api.SupportedKeys() {
		min, max, _ := api.SupportedVersions(k)
		for v := min; v <= max; v++ {
			for _, s := range sides {
				t.Run(fmt.Sprintf("%v/v%d/%s", k, v, s.name), func(t *testing.T) {
					t.Parallel()
					rapid.Check(t, func(rt *rapid.T) {
						oursToKmsg(rt, s, k, v)
						kmsgToOurs(rt, s, k, v)
					})
				})
			}
		}
	}
}

func oursToKmsg(rt *rapid.T, s side, k api.Key, v int16) {
	ours := s.ours(k)
	fill(rt, reflect.ValueOf(ours).Elem(), 0, true)
	b := ours.Encode(nil, v)
	km := s.kmsg_(k)
	km.SetVersion(v)
	if err := km.ReadFrom(b); err != nil {
		rt.Fatalf("kmsg cannot read troupe's encoding: %v\n% x", err, b)
	}
	// The only unknown tags kmsg may keep are the ones fill invented (numbered 64 and up).
	for _, u := range unknownTags(reflect.ValueOf(km), "") {
		if tag, _ := strconv.Atoi(u[strings.LastIndexByte(u, '.')+1:]); tag < 64 {
			rt.Fatalf("kmsg does not know a tagged field troupe wrote: %s", u)
		}
	}
	if kb := km.AppendTo(nil); !bytes.Equal(b, kb) {
		rt.Fatalf("kmsg re-encodes troupe's bytes differently\ntroupe % x\nkmsg   % x\n%s", b, kb, firstDiff(b, kb))
	}
}

func kmsgToOurs(rt *rapid.T, s side, k api.Key, v int16) {
	km := s.kmsg_(k)
	fill(rt, reflect.ValueOf(km).Elem(), 0, false)
	km.SetVersion(v)
	kb := km.AppendTo(nil)
	ours := s.ours(k)
	if err := ours.Decode(kb, v); err != nil {
		rt.Fatalf("troupe cannot read kmsg's encoding: %v\n% x", err, kb)
	}
	for _, u := range unknownTags(reflect.ValueOf(ours), "") {
		if !schemaOnlyTags[fmt.Sprintf("%v v%d %s", k, v, u)] {
			rt.Fatalf("troupe does not know a tagged field kmsg wrote: %s", u)
		}
	}
	if b := ours.Encode(nil, v); !bytes.Equal(b, kb) {
		rt.Fatalf("troupe re-encodes kmsg's bytes differently\nkmsg   % x\ntroupe % x\n%s", kb, b, firstDiff(kb, b))
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at byte %d of %d/%d", i, len(a), len(b))
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

// schemaOnlyTags lists the tagged fields kmsg writes at versions where Kafka's schema does
// not define them, so troupe (following the schema) keeps them as unknown tags. Each entry is
// "Key vN Type.tag"; these are the only disagreements between kmsg and the schemas found.
var schemaOnlyTags = func() map[string]bool {
	m := map[string]bool{}
	for v := 12; v <= 14; v++ {
		// ReplicaState (KIP-903) is tagged from v15 in the schema.
		m[fmt.Sprintf("Fetch v%d FetchRequest.1", v)] = true
	}
	for v := 12; v <= 16; v++ {
		// ReplicaDirectoryId (KIP-853) is tagged from v17 in the schema.
		m[fmt.Sprintf("Fetch v%d FetchRequestPartition.0", v)] = true
	}
	for v := 12; v <= 15; v++ {
		// NodeEndpoints (KIP-951) is tagged from v16 in the schema.
		m[fmt.Sprintf("Fetch v%d FetchResponse.0", v)] = true
	}
	// NodeEndpoints and CurrentLeader (KIP-951) are tagged from v10 in the schema.
	m["Produce v9 ProduceResponse.0"] = true
	m["Produce v9 ProduceResponsePartitionProduceResponse.0"] = true
	for v := 12; v <= 17; v++ {
		// HighWatermark (KIP-1166) is tagged from v18.
		m[fmt.Sprintf("Fetch v%d FetchRequestPartition.1", v)] = true
	}
	return m
}()

// unknownTags lists, as "Type.tag", every tagged field held as unknown anywhere in v, a
// troupe or kmsg message.
func unknownTags(v reflect.Value, _ string) []string {
	var out []string
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			out = append(out, unknownTags(v.Elem(), "")...)
		}
	case reflect.Slice:
		for i := range v.Len() {
			out = append(out, unknownTags(v.Index(i), "")...)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			switch tags := fv.Interface().(type) {
			case codec.Tags:
				for _, tag := range tags {
					out = append(out, fmt.Sprintf("%s.%d", v.Type().Name(), tag.Tag))
				}
				continue
			case kmsg.Tags:
				tags.Each(func(tag uint32, _ []byte) {
					out = append(out, fmt.Sprintf("%s.%d", v.Type().Name(), tag))
				})
				continue
			}
			out = append(out, unknownTags(fv, "")...)
		}
	}
	return out
}
