// Package tlstest makes throw-away certificate authorities and
// certificates in PEM files, as the node, outboxctl, devstack and the
// embedded servers read them, for every test of an encrypted hop.
package tlstest

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

	"github.com/outboxnode/outbox/infra/tlsfiles"
)

// CA is a test certificate authority.
type CA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA certificate's PEM file.
	File string
}

// NewCA creates a CA named name whose files go to a test directory.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	dir := tb.TempDir()
	key, der := sign(tb, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, nil)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{dir: dir, cert: cert, key: key, File: filepath.Join(dir, name+"-ca.pem")}
	writePEM(tb, ca.File, "CERTIFICATE", der)
	return ca
}

// Issue signs a certificate with common name cn, valid for server and for
// client authentication on 127.0.0.1 and localhost, and returns its files
// with this CA.
func (ca *CA) Issue(tb testing.TB, cn string) tlsfiles.Files {
	tb.Helper()
	key, der := sign(tb, &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"outbox test"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
	}, ca.cert, ca.key)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	f := tlsfiles.Files{Cert: filepath.Join(ca.dir, cn+".pem"), Key: filepath.Join(ca.dir, cn+"-key.pem"), CA: ca.File}
	writePEM(tb, f.Cert, "CERTIFICATE", der)
	writePEM(tb, f.Key, "PRIVATE KEY", keyDER)
	return f
}

// PKI is a fresh CA with one server and one client certificate.
type PKI struct {
	// CA is the CA certificate's PEM file.
	CA string
	// Server and Client are the two certificates, each with CA.
	Server, Client tlsfiles.Files
}

// NewPKI creates a PKI in a test directory.
func NewPKI(tb testing.TB) PKI {
	tb.Helper()
	ca := NewCA(tb, "test")
	return PKI{CA: ca.File, Server: ca.Issue(tb, "server"), Client: ca.Issue(tb, "client")}
}

// ServerConfig loads the server certificate; with requireClientCert,
// clients must present a certificate signed by the CA.
func (p PKI) ServerConfig(tb testing.TB, requireClientCert bool) *tls.Config {
	tb.Helper()
	f := p.Server
	if !requireClientCert {
		f.CA = ""
	}
	cfg, err := tlsfiles.Server(f)
	if err != nil {
		tb.Fatalf("load test server certificate: %v", err)
	}
	return cfg
}

// sign signs tmpl with parent's key, or self-signs it when parent is nil,
// and returns the new key and the certificate's DER.
func sign(tb testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, big.NewInt(1<<62)); err != nil {
		tb.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		tb.Fatalf("sign %s: %v", tmpl.Subject.CommonName, err)
	}
	return key, der
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}
