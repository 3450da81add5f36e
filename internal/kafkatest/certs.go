package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// Certs are certificates made for one test: a certificate authority, a server certificate
// it signed for 127.0.0.1 and "localhost", and a client certificate it signed, for mutual
// TLS. Nothing is written to disk.
type Certs struct {
	// Pool holds the authority: a client's RootCAs, or a server's ClientCAs.
	Pool *x509.CertPool
	// Server is the server's certificate and key.
	Server tls.Certificate
	// Client is the client's certificate and key.
	Client tls.Certificate
}

// NewCerts makes a fresh authority and the certificates it signs, valid for an hour.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "troupe test CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	c := &Certs{Pool: x509.NewCertPool()}
	c.Pool.AddCert(ca)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage, server bool) tls.Certificate {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Minute),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	c.Server = leaf(2, "localhost", x509.ExtKeyUsageServerAuth, true)
	c.Client = leaf(3, "troupe test client", x509.ExtKeyUsageClientAuth, false)
	return c
}

// ServerConfig is a listener's config: the server certificate, and when mutual is true a
// demand for a client certificate signed by the authority.
func (c *Certs) ServerConfig(mutual bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{c.Server}, MinVersion: tls.VersionTLS12}
	if mutual {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = c.Pool
	}
	return cfg
}

// ClientConfig is a client's config that trusts the authority, presenting the client
// certificate when mutual is true. ServerName is left empty: the client fills it in.
func (c *Certs) ClientConfig(mutual bool) *tls.Config {
	cfg := &tls.Config{RootCAs: c.Pool, MinVersion: tls.VersionTLS12}
	if mutual {
		cfg.Certificates = []tls.Certificate{c.Client}
	}
	return cfg
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
