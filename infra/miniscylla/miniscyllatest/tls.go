package miniscyllatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

// TLSFiles are PEM files of a throw-away PKI: a CA, a server certificate
// for 127.0.0.1 and localhost, and a client certificate, all signed by the CA.
type TLSFiles struct {
	CA         string
	ServerCert string
	ServerKey  string
	ClientCert string
	ClientKey  string
}

// WriteTLSFiles creates a fresh PKI in a temporary directory of the test.
func WriteTLSFiles(tb testing.TB) TLSFiles {
	tb.Helper()
	dir := tb.TempDir()
	caKey, caDER := newCert(tb, &x509.Certificate{
		Subject: pkix.Name{CommonName: "miniscyllatest CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, nil)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	srvKey, srvDER := newCert(tb, &x509.Certificate{
		Subject: pkix.Name{CommonName: "miniscylla"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	cliKey, cliDER := newCert(tb, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "outbox-node"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, caKey)
	f := TLSFiles{
		CA:         writePEM(tb, dir, "ca.pem", "CERTIFICATE", caDER),
		ServerCert: writePEM(tb, dir, "server.pem", "CERTIFICATE", srvDER),
		ServerKey:  writePEM(tb, dir, "server-key.pem", "PRIVATE KEY", marshalKey(tb, srvKey)),
		ClientCert: writePEM(tb, dir, "client.pem", "CERTIFICATE", cliDER),
		ClientKey:  writePEM(tb, dir, "client-key.pem", "PRIVATE KEY", marshalKey(tb, cliKey)),
	}
	return f
}

// newCert signs tmpl with parent's key, or self-signs it when parent is nil.
func newCert(tb testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
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
		tb.Fatal(err)
	}
	return key, der
}

func marshalKey(tb testing.TB, k *ecdsa.PrivateKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func writePEM(tb testing.TB, dir, name, typ string, der []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
