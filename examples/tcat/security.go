package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/troupe-go/troupe/wire/broker"
	"github.com/troupe-go/troupe/wire/sasl"
)

// securityProps are the librdkafka properties (kcat's -X) that tcat understands, all about
// reaching a secured cluster:
//
//	security.protocol                   plaintext, ssl, sasl_plaintext or sasl_ssl
//	sasl.mechanism (or sasl.mechanisms) PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//	sasl.username, sasl.password
//	ssl.ca.location                     PEM file of the authorities to trust
//	ssl.certificate.location            PEM file of the client certificate (mutual TLS)
//	ssl.key.location                    PEM file of its key
//	enable.ssl.certificate.verification true, or false to trust any certificate
type securityProps map[string]string

var knownProps = []string{"security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password",
	"ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "enable.ssl.certificate.verification"}

// set records one -X key=value; an unknown key is refused.
func (p securityProps) set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("-X %s: want property=value", k)
	}
	if !slices.Contains(knownProps, k) {
		return fmt.Errorf("-X %s: tcat knows only %s", k, strings.Join(knownProps, ", "))
	}
	if k == "sasl.mechanisms" {
		k = "sasl.mechanism"
	}
	p[k] = v
	return nil
}

// apply puts the properties into the broker connection settings. Its errors never
// contain the password.
func (p securityProps) apply(bc *broker.Config) error {
	protocol := strings.ToLower(p["security.protocol"])
	if protocol == "" {
		protocol = "plaintext"
	}
	useTLS := protocol == "ssl" || protocol == "sasl_ssl"
	useSASL := protocol == "sasl_plaintext" || protocol == "sasl_ssl"
	if !useTLS && !useSASL && protocol != "plaintext" {
		return fmt.Errorf("security.protocol %q: want plaintext, ssl, sasl_plaintext or sasl_ssl", protocol)
	}
	if useSASL {
		user, pass := p["sasl.username"], p["sasl.password"]
		switch mech := strings.ToUpper(p["sasl.mechanism"]); mech {
		case "PLAIN", "":
			bc.SASL = sasl.Plain{User: user, Password: pass}
		case "SCRAM-SHA-256":
			bc.SASL = sasl.SCRAMSHA256{User: user, Password: pass}
		case "SCRAM-SHA-512":
			bc.SASL = sasl.SCRAMSHA512{User: user, Password: pass}
		default:
			return fmt.Errorf("sasl.mechanism %q: tcat speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512", mech)
		}
		if user == "" {
			return errors.New("sasl.username is required with " + protocol)
		}
	} else if p["sasl.mechanism"] != "" || p["sasl.username"] != "" {
		return fmt.Errorf("SASL properties given with security.protocol %s: use sasl_plaintext or sasl_ssl", protocol)
	}
	if !useTLS {
		if p["ssl.ca.location"] != "" || p["ssl.certificate.location"] != "" {
			return fmt.Errorf("ssl properties given with security.protocol %s: use ssl or sasl_ssl", protocol)
		}
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := p["ssl.ca.location"]; ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return fmt.Errorf("ssl.ca.location: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ssl.ca.location %s holds no PEM certificate", ca)
		}
	}
	if cert, key := p["ssl.certificate.location"], p["ssl.key.location"]; cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("ssl.certificate.location and ssl.key.location: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	switch v := p["enable.ssl.certificate.verification"]; v {
	case "", "true":
	case "false":
		cfg.InsecureSkipVerify = true
	default:
		return fmt.Errorf("enable.ssl.certificate.verification %q: want true or false", v)
	}
	bc.TLS = cfg
	return nil
}
