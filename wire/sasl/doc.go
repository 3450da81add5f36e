// Package sasl holds the SASL mechanisms troupe authenticates with: PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512 (RFC 5802, RFC 7677) and OAUTHBEARER (RFC 7628, with Kafka's extensions of
// KIP-255), and the Mechanism interface through which users add their own.
//
// A mechanism is a deterministic state machine: Start gives the client's first message and
// a Session; each Step takes the server's answer and gives the client's next message, until
// the session is done. Nothing here touches the network or a clock, so every exchange is
// tested against fixed messages (the RFCs' examples) and fuzzed. The broker connection
// (package wire/broker) carries the messages in SaslAuthenticate requests.
//
// Credentials never leave this package in an error or in formatted output: the types that
// hold a password or a token print it as "<redacted>" whatever the fmt verb.
package sasl
