package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/outboxnode/outbox/infra/tlsfiles"
)

// TLSFiles name the PEM files of one end of the remote: its certificate
// and key (presented both when it listens and when it dials: the node
// dials back to a client's own remote for replies) and the CA that signs
// every peer.
type TLSFiles tlsfiles.Files

// Enabled says whether any file is set.
func (f TLSFiles) Enabled() bool { return tlsfiles.Files(f).Enabled() }

// Validate requires all three files or none.
func (f TLSFiles) Validate() error {
	if f.Enabled() && (f.Cert == "" || f.Key == "" || f.CA == "") {
		return fmt.Errorf("TLS needs a certificate, its key and a CA, got cert=%q key=%q ca=%q", f.Cert, f.Key, f.CA)
	}
	return nil
}

// TLS is the mutual-TLS setup of one remote end.
type TLS struct {
	server, client *tls.Config
}

// LoadTLS reads the files. The server side requires and verifies a client
// certificate signed by the CA; the client side verifies the server's
// certificate (chain and host name) against the same CA.
func LoadTLS(f TLSFiles) (*TLS, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	server, err := tlsfiles.Server(tlsfiles.Files(f))
	if err != nil {
		return nil, err
	}
	client, err := tlsfiles.Client(tlsfiles.Files(f), tlsfiles.VerifyFull)
	if err != nil {
		return nil, err
	}
	return &TLS{server: server, client: client}, nil
}

// ServerOption makes a gRPC server require mutual TLS.
func (t *TLS) ServerOption() grpc.ServerOption {
	return grpc.Creds(credentials.NewTLS(t.server))
}

// DialOption makes a gRPC client dial with mutual TLS.
func (t *TLS) DialOption() grpc.DialOption {
	return grpc.WithTransportCredentials(credentials.NewTLS(t.client))
}

// Handshake completes one TLS handshake with addr and closes the
// connection, so that a client learns at once that the node refuses its
// certificate (or that it does not speak TLS) instead of waiting for a
// reply that never comes. It uses TLS 1.2, where the server's verdict on
// the client certificate is part of the handshake.
func (t *TLS) Handshake(ctx context.Context, addr string) error {
	cfg := t.client.Clone()
	cfg.MaxVersion = tls.VersionTLS12
	cfg.NextProtos = []string{"h2"}
	d := &tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return conn.Close()
}
