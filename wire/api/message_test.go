package api_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/troupe-go/troupe/wire/api"
	"github.com/troupe-go/troupe/wire/codec"
	"pgregory.net/rapid"
)

// TestRoundTripAndTruncation checks, for every message and version, that decoding an
// encoding and encoding again gives the same bytes, and that every strict prefix of an
// encoding fails to decode (no message silently decodes from a torn frame).
func TestRoundTripAndTruncation(t *testing.T) {
	for _, k := range api.SupportedKeys() {
		min, max, _ := api.SupportedVersions(k)
		for v := min; v <= max; v++ {
			for _, s := range sides {
				t.Run(fmt.Sprintf("%v/v%d/%s", k, v, s.name), func(t *testing.T) {
					t.Parallel()
					rapid.Check(t, func(rt *rapid.T) {
						m := s.ours(k)
						fill(rt, reflect.ValueOf(m).Elem(), 0, true)
						b := m.Encode(nil, v)
						back := s.ours(k)
						if err := back.Decode(b, v); err != nil {
							rt.Fatalf("decode own encoding: %v", err)
						}
						if b2 := back.Encode(nil, v); !bytes.Equal(b, b2) {
							rt.Fatalf("round trip changed bytes\n% x\n% x", b, b2)
						}
						if len(b) > 0 { // ApiVersions v0-2 requests have an empty body
							cut := rapid.IntRange(0, len(b)-1).Draw(rt, "cut")
							if err := s.ours(k).Decode(b[:cut], v); err == nil {
								rt.Fatalf("prefix of %d/%d bytes decoded", cut, len(b))
							}
						}
						if err := s.ours(k).Decode(append(b, 0), v); !errors.Is(err, codec.ErrTrailingBytes) {
							rt.Fatalf("trailing byte: %v", err)
						}
					})
				})
			}
		}
	}
}

// TestKnownBytes pins a few encodings to bytes worked out by hand from the protocol guide.
func TestKnownBytes(t *testing.T) {
	name, version := "troupe", "0.1"
	req := &api.APIVersionsRequest{ClientSoftwareName: name, ClientSoftwareVersion: version}
	want := []byte{7, 't', 'r', 'o', 'u', 'p', 'e', 4, '0', '.', '1', 0}
	if got := req.Encode(nil, 3); !bytes.Equal(got, want) {
		t.Errorf("ApiVersions v3: % x", got)
	}
	if got := req.Encode(nil, 2); len(got) != 0 {
		t.Errorf("ApiVersions v2 has no body: % x", got)
	}
	// v5 adds a compact nullable cluster ID (null: 0) and a node ID (-1 by default).
	req.Default()
	if got := req.Encode(nil, 5); !bytes.Equal(got, []byte{1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0}) {
		t.Errorf("ApiVersions v5 defaults: % x", got)
	}

	// Metadata v0: an empty topic array (all topics) is a zero int32 count.
	if got := (&api.MetadataRequest{}).Encode(nil, 0); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Errorf("Metadata v0: % x", got)
	}
	// Metadata v1+: a nil topic array is null (-1): all topics.
	if got := (&api.MetadataRequest{}).Encode(nil, 1); !bytes.Equal(got, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("Metadata v1: % x", got)
	}
}

func TestFraming(t *testing.T) {
	client := "c"
	req := &api.MetadataRequest{Topics: []api.MetadataRequestTopic{{Name: ptr("t")}}}
	frame, err := api.AppendRequest(nil, req, 12, 42, &client)
	if err != nil {
		t.Fatal(err)
	}
	body, err := codec.ReadFrame(bytes.NewReader(frame), nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	d := codec.NewDecoder(body)
	var h codec.RequestHeader
	h.ReadFrom(d, 2)
	var back api.MetadataRequest
	if d.Err() != nil || h.APIKey != 3 || h.APIVersion != 12 || h.CorrelationID != 42 || *h.ClientID != "c" {
		t.Fatalf("header %+v %v", h, d.Err())
	}
	if err := back.Decode(body[d.Offset():], 12); err != nil || *back.Topics[0].Name != "t" {
		t.Fatalf("body: %v", err)
	}
	if _, err := api.AppendRequest(nil, req, 14, 1, nil); !errors.Is(err, api.ErrUnsupportedVersion) {
		t.Fatalf("v14: %v", err)
	}

	// A response frame body: header v1 (flexible Metadata) then the body.
	resp := &api.MetadataResponse{ClusterID: ptr("x")}
	h2 := codec.ResponseHeader{CorrelationID: 42}
	rb := resp.Encode(h2.AppendTo(nil, 1), 12)
	var got api.MetadataResponse
	if err := api.ReadResponse(rb, &got, 12, 42); err != nil || *got.ClusterID != "x" {
		t.Fatalf("ReadResponse: %v", err)
	}
	if err := api.ReadResponse(rb, &got, 12, 43); !errors.Is(err, api.ErrCorrelationMismatch) {
		t.Fatalf("wrong correlation ID: %v", err)
	}
}

func TestDefaultsAndAbsentFields(t *testing.T) {
	var f api.FetchRequest
	f.Default()
	if f.MaxBytes != 0x7fffffff || f.SessionEpoch != -1 || f.ReplicaID != -1 || f.ReplicaState.ReplicaEpoch != -1 {
		t.Fatalf("defaults: %+v", f)
	}
	// Decoding v4 (no session fields) leaves the session epoch at its default, not zero.
	var back api.FetchRequest
	if err := back.Decode((&api.FetchRequest{}).Encode(nil, 4), 4); err != nil || back.SessionEpoch != -1 {
		t.Fatalf("absent field: %d, %v", back.SessionEpoch, err)
	}
}

func TestValidate(t *testing.T) {
	p := &api.ProduceRequest{TopicData: []api.ProduceRequestTopicProduceData{{TopicID: codec.UUID{1}}}}
	if err := p.Validate(13); err != nil {
		t.Fatalf("topic ID at v13: %v", err)
	}
	if err := p.Validate(12); !errors.Is(err, api.ErrFieldNotInVersion) {
		t.Fatalf("topic ID at v12 would be dropped: %v", err)
	}
	if err := p.Validate(2); !errors.Is(err, api.ErrUnsupportedVersion) {
		t.Fatalf("v2: %v", err)
	}
	// Ignorable fields may be dropped silently.
	f := new(api.FetchRequest)
	f.Default()
	f.RackID = "r"
	if err := f.Validate(10); err != nil {
		t.Fatalf("ignorable rack at v10: %v", err)
	}
	// A zero literal is not the default: its ReplicaState names replica 0, which versions
	// before 15 cannot carry and which is not ignorable.
	if err := (&api.FetchRequest{}).Validate(10); !errors.Is(err, api.ErrFieldNotInVersion) {
		t.Fatalf("zero ReplicaState at v10: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	var p api.ProduceRequest
	if err := p.Decode(nil, 2); !errors.Is(err, api.ErrUnsupportedVersion) {
		t.Errorf("v2: %v", err)
	}
	// A null topic array where the schema does not allow one.
	null := []byte{0xff, 0xff, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	if err := p.Decode(null, 3); !errors.Is(err, codec.ErrUnexpectedNull) {
		t.Errorf("null array: %v", err)
	}
	// A count of 2^31-1 topics in a 12-byte input is rejected before allocating.
	huge := []byte{0xff, 0xff, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}
	if err := p.Decode(huge, 3); !errors.Is(err, codec.ErrInvalidLength) {
		t.Errorf("huge count: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
