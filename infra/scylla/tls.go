package scylla

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/outboxnode/outbox/infra/config"
)

// chainOnlyTLS returns a TLS configuration that checks the server's
// certificate chain against the CA in caFile but not the host name, for
// --scylla-tls-skip-host-verify (nodes reached through addresses their
// certificates do not name). crypto/tls can only skip both checks, so the
// chain is verified here.
func chainOnlyTLS(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, &config.InvalidError{Field: "scylla-tls-ca", Reason: err.Error()}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, &config.InvalidError{Field: "scylla-tls-ca", Reason: caFile + " holds no PEM certificate"}
	}
	return &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the chain is verified below; only the name is not
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("scylla: the server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				return fmt.Errorf("scylla: server certificate: %w", err)
			}
			return nil
		},
	}, nil
}
