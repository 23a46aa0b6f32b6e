// Package tlsfiles turns PEM files into *tls.Config for every encrypted
// hop of the data path: the node's store session and Kafka producer
// (clients), the remote gateway (both ends), and the embedded miniscylla
// and minikafka servers. One loader means one minimum version, one way of
// reading CA bundles, and errors that name files but never their content.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Files name the PEM files of one end of a TLS connection.
type Files struct {
	// Cert and Key are this end's certificate and private key: required
	// of a server, optional for a client (both or neither).
	Cert, Key string
	// CA is the bundle the peer's certificate must chain to. On a server,
	// setting it requires every client to present a certificate signed by
	// it; on a client, empty means the system roots.
	CA string
}

// Enabled reports whether any file is set.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Verify is how a client checks the server's certificate.
type Verify int

const (
	// VerifyFull checks the chain against CA and the host name.
	VerifyFull Verify = iota
	// VerifyChain checks the chain against CA but not the host name, for
	// servers reached through addresses their certificates do not name.
	VerifyChain
	// VerifyNone accepts any certificate: tests only.
	VerifyNone
)

// Server returns the configuration of a server presenting f.Cert and
// f.Key; with f.CA set it requires and verifies a client certificate
// signed by it. TLS 1.2 is the minimum.
func Server(f Files) (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("TLS server needs a certificate and its key")
	}
	cert, err := loadKeyPair(f)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.CA == "" {
		return cfg, nil
	}
	if cfg.ClientCAs, err = loadPool(f.CA); err != nil {
		return nil, err
	}
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return cfg, nil
}

// Client returns the configuration of a client that checks the server's
// certificate as v says against f.CA (the system roots when empty) and
// presents f.Cert and f.Key when set. TLS 1.2 is the minimum.
func Client(f Files, v Verify) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var err error
	if f.CA != "" {
		if cfg.RootCAs, err = loadPool(f.CA); err != nil {
			return nil, err
		}
	}
	if f.Cert != "" || f.Key != "" {
		cert, err := loadKeyPair(f)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	switch v {
	case VerifyFull:
	case VerifyChain:
		// crypto/tls can only skip both checks, so the chain is verified
		// here once the built-in verification is off.
		cfg.InsecureSkipVerify = true //nolint:gosec // the chain is verified below; only the name is not
		cfg.VerifyConnection = chainVerifier(cfg.RootCAs)
	case VerifyNone:
		cfg.InsecureSkipVerify = true //nolint:gosec // tests only, as documented
	default:
		return nil, fmt.Errorf("TLS client: unknown verification %d", v)
	}
	return cfg, nil
}

// chainVerifier checks the peer's chain against roots (nil: the system
// roots), ignoring the host name.
func chainVerifier(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("TLS: the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("TLS server certificate: %w", err)
		}
		return nil
	}
}

func loadKeyPair(f Files) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		// The error names the files, never their content.
		return tls.Certificate{}, fmt.Errorf("load TLS key pair %s and %s: %w", f.Cert, f.Key, err)
	}
	return cert, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TLS CA %s: no PEM certificate found", file)
	}
	return pool, nil
}
