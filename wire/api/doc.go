// Package api holds the Kafka request and response messages troupe speaks, generated from
// Kafka's own JSON message schemas, and the bookkeeping around them: API keys, the
// versions troupe supports, version negotiation, and request/response framing.
//
// It sits on package wire/codec (the wire primitives) and under the broker connection, which
// frames requests with [AppendRequest] and parses responses with [ReadResponse].
//
// # Messages
//
// Every API has a request and a response type (ProduceRequest, ProduceResponse, ...), each
// with nested struct types for its arrays. A message is encoded at an explicit version with
// Encode and decoded with Decode; the same Go value covers every supported version, and the
// doc comment of each field says which versions carry it. Nullable strings are *string;
// nullable byte slices and arrays use nil for null (an empty non-nil value is not null).
// Tagged fields the generated code does not know are kept raw in each struct's UnknownTags,
// so they survive a decode/encode round trip. Byte slices of decoded messages alias the
// input.
//
// Start a message with its Default method, not a bare struct literal: many fields default
// to a non-zero value (-1 for "none", a maximum, a nested struct of such values), and a
// zero literal means 0 to the broker. For example, the zero ReplicaState of a FetchRequest
// names replica 0, which makes the fetch look like a follower's at version 15 and later.
//
// # Versions
//
// troupe speaks, for each API, from the oldest version Kafka 4.0 still accepts (KIP-896) to
// the newest version the test broker accepts; [SupportedVersions] reports the range and
// [PickVersion] negotiates it against a broker's ApiVersions response. Versions newer than
// the schema snapshot come from internal/gen/overlay.json, which names the KIP behind each
// change.
//
// # Generated code
//
// The *_gen.go files are written by internal/gen (run go generate in this directory) and
// are committed; a test regenerates them and fails if they differ. Never edit them by hand:
// change the generator, messages.json or overlay.json instead.
package api

//go:generate go run ./internal/gen -dir internal/gen -out .
