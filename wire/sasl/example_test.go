package sasl_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/sasl"
)

// A mechanism goes into the broker connection settings; printing them hides the password.
func ExampleSCRAMSHA512() {
	cfg := broker.Config{SASL: sasl.SCRAMSHA512{User: "alice", Password: "s3cret"}}
	fmt.Printf("%v\n", cfg.SASL)
	fmt.Printf("%#v\n", cfg.SASL)
	// Output:
	// sasl.SCRAMSHA512{User: "alice", Password: <redacted>}
	// sasl.SCRAMSHA512{User: "alice", Password: <redacted>}
}

// OAUTHBEARER asks its token source for a token on every authentication.
func ExampleOAuthBearer() {
	m := sasl.OAuthBearer{TokenSource: func(ctx context.Context) (sasl.Token, error) {
		return sasl.Token{Value: "eyJhbGciOi.payload.sig", Extensions: map[string]string{"logicalCluster": "lkc-1"}}, nil
	}}
	_, first, err := m.Start(context.Background(), "kafka-1:9093")
	fmt.Printf("%q %v\n", first, err)
	// Output:
	// "n,,\x01logicalCluster=lkc-1\x01auth=Bearer eyJhbGciOi.payload.sig\x01\x01" <nil>
}

// tokenMechanism is a mechanism of one's own: it sends a signed token once and accepts
// the broker's answer.
type tokenMechanism struct {
	sign func(broker string) ([]byte, error)
}

func (tokenMechanism) Name() string { return "PLAIN" } // the name the broker enables

func (m tokenMechanism) Start(_ context.Context, broker string) (sasl.Session, []byte, error) {
	msg, err := m.sign(broker)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	return &tokenSession{}, msg, nil
}

type tokenSession struct{ answered bool }

func (s *tokenSession) Step(challenge []byte) ([]byte, bool, error) {
	if s.answered {
		return nil, false, errors.New("unexpected second answer")
	}
	s.answered = true
	return nil, true, nil
}

// A mechanism troupe does not ship needs only the two interfaces.
func ExampleMechanism() {
	var m sasl.Mechanism = tokenMechanism{sign: func(broker string) ([]byte, error) {
		return []byte("\x00alice\x00signed-for-" + broker), nil
	}}
	s, first, _ := m.Start(context.Background(), "kafka-1:9093")
	_, done, err := s.Step(nil) // the broker's (empty) answer
	fmt.Printf("%s %q %v %v\n", m.Name(), first, done, err)
	// Output:
	// PLAIN "\x00alice\x00signed-for-kafka-1:9093" true <nil>
}
