package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/troupe-go/troupe/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestSecurityProperties produces and consumes with kcat's security properties: SCRAM
// over TLS, and PLAIN over mutual TLS.
func TestSecurityProperties(t *testing.T) {
	for _, s := range []kafkatest.Security{
		{Mechanism: "SCRAM-SHA-512", TLS: true},
		{Mechanism: "PLAIN", Mutual: true},
	} {
		t.Run(s.String(), func(t *testing.T) {
			sc := kafkatest.StartSecure(t, s, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
			ca, cert, key := sc.Certs.WritePEM(t, t.TempDir())
			props := []string{"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=" + s.Mechanism,
				"-X", "sasl.username=" + kafkatest.SecureUser, "-X", "sasl.password=" + kafkatest.SecurePassword,
				"-X", "ssl.ca.location=" + ca}
			if s.Mutual {
				props = append(props, "-X", "ssl.certificate.location="+cert, "-X", "ssl.key.location="+key)
			}
			if _, stderr, err := tcat(t, "one\ntwo\n", append([]string{"-b", sc.Seeds[0], "-P", "-t", "t"}, props...)...); err != nil {
				t.Fatalf("produce: %v %s", err, stderr)
			}
			out, _, err := tcat(t, "", append([]string{"-b", sc.Seeds[0], "-C", "-t", "t", "-e"}, props...)...)
			if err != nil || out != "one\ntwo\n" {
				t.Fatalf("consume: %v %q", err, out)
			}
		})
	}
}

// TestSecurityPropertyErrors: properties that cannot work are usage errors (exit status
// 2: a flag error, or errUsage) that say why and never show the password.
func TestSecurityPropertyErrors(t *testing.T) {
	for _, tc := range []struct {
		props []string
		want  string
	}{
		{[]string{"sasl.kerberos.service.name=kafka"}, "tcat knows only"},
		{[]string{"security.protocol=sasl_ssl", "sasl.mechanism=GSSAPI", "sasl.username=u", "sasl.password=hunter2"}, "GSSAPI"},
		{[]string{"security.protocol=sasl_plaintext", "sasl.password=hunter2"}, "sasl.username is required"},
		{[]string{"sasl.username=u", "sasl.password=hunter2"}, "use sasl_plaintext or sasl_ssl"},
		{[]string{"security.protocol=ssl", "ssl.ca.location=/nonexistent/ca.pem"}, "ssl.ca.location"},
		{[]string{"security.protocol=tls"}, "want plaintext, ssl"},
	} {
		args := []string{"-b", "127.0.0.1:1", "-L"}
		for _, p := range tc.props {
			args = append(args, "-X", p)
		}
		_, err := parseFlags(args, io.Discard)
		stderr := ""
		if err == nil {
			_, stderr, err = tcat(t, "", args...)
			if !errors.Is(err, errUsage) {
				err = nil
			}
		}
		if err == nil {
			t.Fatalf("%v: got %v, want a usage error", tc.props, err)
		}
		msg := err.Error() + stderr
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "hunter2") {
			t.Fatalf("%v: %q does not say %q, or shows the password", tc.props, msg, tc.want)
		}
	}
}
