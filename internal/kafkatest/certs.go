package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs are certificates made for one test: a certificate authority, a server certificate
// it signed for 127.0.0.1 and "localhost", and a client certificate it signed, for mutual
// TLS. Nothing is written to disk unless WritePEM is called.
type Certs struct {
	// Pool holds the authority: a client's RootCAs, or a server's ClientCAs.
	Pool *x509.CertPool
	// Server is the server's certificate and key.
	Server tls.Certificate
	// Client is the client's certificate and key.
	Client tls.Certificate

	ca *x509.Certificate
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
	c := &Certs{Pool: x509.NewCertPool(), ca: ca}
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

// WritePEM writes the authority, and the client's certificate and key, as PEM files in
// dir for tools outside Go (kcat), and returns their paths.
func (c *Certs) WritePEM(t testing.TB, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(c.Client.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name, kind string
		der        []byte
	}{{"ca.pem", "CERTIFICATE", c.ca.Raw}, {"client.pem", "CERTIFICATE", c.Client.Certificate[0]}, {"client-key.pem", "PRIVATE KEY", key}}
	var paths []string
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths[0], paths[1], paths[2]
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
