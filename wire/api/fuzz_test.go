package api_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"pgregory.net/rapid"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the fuzz seed corpus in testdata/fuzz from encodings of generated messages")

// FuzzRequest decodes arbitrary bytes as the request of any API at any version. Decoding
// must never panic; whatever decodes must re-encode to bytes that decode and re-encode to
// themselves. The seed corpus (testdata/fuzz/FuzzRequest) holds an encoding of a default
// and of a random message for every API and version, so plain go test runs them all.
func FuzzRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, key, version int16, data []byte) {
		fuzzDecode(t, func() (api.Message, error) { return api.NewRequest(api.Key(key)) }, version, data)
	})
}

// FuzzResponse is FuzzRequest for responses (seeds in testdata/fuzz/FuzzResponse).
func FuzzResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, key, version int16, data []byte) {
		fuzzDecode(t, func() (api.Message, error) { return api.NewResponse(api.Key(key)) }, version, data)
	})
}

func fuzzDecode(t *testing.T, newMsg func() (api.Message, error), version int16, data []byte) {
	m, err := newMsg()
	if err != nil {
		return
	}
	if m.Decode(data, version) != nil {
		return
	}
	b := m.Encode(nil, version)
	again, _ := newMsg()
	if err := again.Decode(b, version); err != nil {
		t.Fatalf("re-encoding of decoded input does not decode: %v\ninput % x\nencoding % x", err, data, b)
	}
	if b2 := again.Encode(nil, version); !bytes.Equal(b, b2) {
		t.Fatalf("encoding is not stable\n% x\n% x", b, b2)
	}
}

// TestWriteFuzzSeeds rewrites the seed corpus when run with -write-seeds; otherwise it
// checks that the corpus covers every API, version and direction.
func TestWriteFuzzSeeds(t *testing.T) {
	for _, s := range sides {
		dir := filepath.Join("testdata", "fuzz", "Fuzz"+map[string]string{"request": "Request", "response": "Response"}[s.name])
		for _, k := range api.SupportedKeys() {
			min, max, _ := api.SupportedVersions(k)
			for v := min; v <= max; v++ {
				random := rapid.Custom(func(rt *rapid.T) []byte {
					m := s.ours(k)
					fill(rt, reflect.ValueOf(m).Elem(), 0, true)
					return m.Encode(nil, v)
				}).Example(int(k)*100 + int(v))
				def := s.ours(k)
				reflect.ValueOf(def).MethodByName("Default").Call(nil)
				seeds := map[string][]byte{"default": def.Encode(nil, v), "random": random}
				for kind, b := range seeds {
					path := filepath.Join(dir, fmt.Sprintf("%v-v%d-%s", k, v, kind))
					if *writeSeeds {
						if err := os.MkdirAll(dir, 0o755); err != nil {
							t.Fatal(err)
						}
						content := fmt.Sprintf("go test fuzz v1\nint16(%d)\nint16(%d)\n[]byte(%q)\n", k, v, b)
						if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
							t.Fatal(err)
						}
					} else if _, err := os.Stat(path); err != nil {
						t.Errorf("seed corpus lacks %s; run go test -run TestWriteFuzzSeeds -write-seeds", path)
					}
				}
			}
		}
	}
}
