package kafkatest

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/wire/sasl"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	kgosasl "github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Security is how a secured test cluster is reached.
type Security struct {
	// Mechanism is "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", or empty for no SASL.
	Mechanism string
	// TLS serves TLS; Mutual also demands a client certificate.
	TLS, Mutual bool
}

// String names the setting for a subtest: "SCRAM-SHA-256+TLS", "mTLS".
func (s Security) String() string {
	parts := []string{}
	if s.Mechanism != "" {
		parts = append(parts, s.Mechanism)
	}
	if s.TLS {
		parts = append(parts, "TLS")
	}
	if s.Mutual {
		parts = append(parts, "mTLS")
	}
	if len(parts) == 0 {
		return "plaintext"
	}
	return strings.Join(parts, "+")
}

// Secured is a started secured cluster with what troupe and kgo need to reach it.
type Secured struct {
	Cluster *kfake.Cluster
	Seeds   []string
	// SASL is troupe's mechanism for the cluster's superuser (nil without SASL).
	SASL sasl.Mechanism
	// TLS is troupe's client config (nil without TLS); ServerName is left empty.
	TLS *tls.Config
	// Kgo are the options that give a kgo client the same access.
	Kgo []kgo.Opt
	// Certs made the cluster's certificates (nil without TLS).
	Certs *Certs
}

// SecureUser and SecurePassword are the superuser of a secured cluster.
const (
	SecureUser     = "troupe-user"
	SecurePassword = "troupe-Secret-pa55"
)

// StartSecure starts a kfake cluster secured as s (certificates made for the test), with
// opts on top, and stops it when the test ends.
func StartSecure(t testing.TB, s Security, opts ...kfake.Opt) *Secured {
	t.Helper()
	out := &Secured{}
	if s.Mechanism != "" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(s.Mechanism, SecureUser, SecurePassword))
		var km kgosasl.Mechanism
		switch s.Mechanism {
		case "PLAIN":
			out.SASL = sasl.Plain{User: SecureUser, Password: SecurePassword}
			km = plain.Auth{User: SecureUser, Pass: SecurePassword}.AsMechanism()
		case "SCRAM-SHA-256":
			out.SASL = sasl.SCRAMSHA256{User: SecureUser, Password: SecurePassword}
			km = scram.Auth{User: SecureUser, Pass: SecurePassword}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			out.SASL = sasl.SCRAMSHA512{User: SecureUser, Password: SecurePassword}
			km = scram.Auth{User: SecureUser, Pass: SecurePassword}.AsSha512Mechanism()
		default:
			t.Fatalf("kafkatest: no mechanism %q", s.Mechanism)
		}
		out.Kgo = append(out.Kgo, kgo.SASL(km))
	}
	if s.TLS || s.Mutual {
		certs := NewCerts(t)
		out.Certs = certs
		opts = append(opts, kfake.TLS(certs.ServerConfig(s.Mutual)))
		out.TLS = certs.ClientConfig(s.Mutual)
		kc := certs.ClientConfig(s.Mutual)
		kc.ServerName = "127.0.0.1"
		out.Kgo = append(out.Kgo, kgo.DialTLSConfig(kc))
	}
	out.Cluster, out.Seeds = Start(t, opts...)
	return out
}
