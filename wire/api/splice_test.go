package api_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"pgregory.net/rapid"
)

// TestSplicedFramesAreTheSameBytes: frames encoded with a Splicer, written as the
// Splicer's segments, are byte for byte the frames AppendRequest writes, for every
// request at every version, several frames to one buffer and one Splicer, whatever the
// threshold; and only record batches are spliced.
func TestSplicedFramesAreTheSameBytes(t *testing.T) {
	for _, k := range api.SupportedKeys() {
		min, max, _ := api.SupportedVersions(k)
		for v := min; v <= max; v++ {
			t.Run(fmt.Sprintf("%v/v%d", k, v), func(t *testing.T) {
				t.Parallel()
				rapid.Check(t, func(rt *rapid.T) {
					sp := &codec.Splicer{Min: rapid.IntRange(0, 8).Draw(rt, "min")}
					var plain, spliced []byte
					clientID := "c"
					for i := range rapid.IntRange(1, 3).Draw(rt, "frames") {
						req, _ := api.NewRequest(k)
						fill(rt, reflect.ValueOf(req).Elem(), 0, true)
						var err error
						if plain, err = api.AppendRequest(plain, req, v, int32(i), &clientID); err != nil {
							rt.Fatal(err)
						}
						if spliced, err = api.AppendRequestSpliced(spliced, req, v, int32(i), &clientID, sp); err != nil {
							rt.Fatal(err)
						}
					}
					var whole []byte
					for _, seg := range sp.Segments(spliced, nil) {
						whole = append(whole, seg...)
					}
					if !bytes.Equal(whole, plain) {
						rt.Fatalf("spliced frames differ\n% x\n% x", whole, plain)
					}
					if len(spliced)+sp.Len() != len(plain) {
						rt.Fatalf("%d bytes in the buffer and %d spliced, want %d in all", len(spliced), sp.Len(), len(plain))
					}
					if k != api.Produce && len(sp.Splices()) > 0 {
						rt.Fatalf("%v spliced %d strings; only record batches are", k, len(sp.Splices()))
					}
					sp.Reset()
					if sp.Len() != 0 || len(sp.Splices()) != 0 || len(sp.Segments(nil, nil)) != 0 {
						rt.Fatal("Reset left splices behind")
					}
				})
			})
		}
	}
}
