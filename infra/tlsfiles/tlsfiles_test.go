package tlsfiles_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/tlsfiles"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
)

// serve accepts TLS connections with cfg and completes each handshake,
// so a client learns the server's verdict on its certificate.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					_, _ = c.Write([]byte{1})
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dial reports whether a full exchange with addr succeeds: the handshake
// and one byte that the server only sends after accepting the client.
func dial(addr, serverName string, cfg *tls.Config) error {
	cfg = cfg.Clone()
	cfg.ServerName = serverName
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

func client(t *testing.T, f tlsfiles.Files, v tlsfiles.Verify) *tls.Config {
	t.Helper()
	c, err := tlsfiles.Client(f, v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientVerification(t *testing.T) {
	pki := tlstest.NewPKI(t)
	other := tlstest.NewCA(t, "other").File
	addr := serve(t, pki.ServerConfig(t, false))
	for _, tc := range []struct {
		name, ca, host string
		verify         tlsfiles.Verify
		ok             bool
	}{
		{"full", pki.CA, "127.0.0.1", tlsfiles.VerifyFull, true},
		{"full, other name", pki.CA, "not-the-server.example", tlsfiles.VerifyFull, false},
		{"full, other CA", other, "127.0.0.1", tlsfiles.VerifyFull, false},
		{"chain, other name", pki.CA, "not-the-server.example", tlsfiles.VerifyChain, true},
		{"chain, other CA", other, "not-the-server.example", tlsfiles.VerifyChain, false},
		{"none, other CA", other, "not-the-server.example", tlsfiles.VerifyNone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := dial(addr, tc.host, client(t, tlsfiles.Files{CA: tc.ca}, tc.verify))
			if (err == nil) != tc.ok {
				t.Fatalf("dial: %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestServerRequiresClientCertificateOnlyWithCA(t *testing.T) {
	pki := tlstest.NewPKI(t)
	mutual := serve(t, pki.ServerConfig(t, true))
	plain := serve(t, pki.ServerConfig(t, false))
	stranger := tlstest.NewCA(t, "stranger").Issue(t, "client")
	stranger.CA = pki.CA
	for _, tc := range []struct {
		name string
		addr string
		f    tlsfiles.Files
		ok   bool
	}{
		{"mutual, CA's client", mutual, pki.Client, true},
		{"mutual, no certificate", mutual, tlsfiles.Files{CA: pki.CA}, false},
		{"mutual, stranger", mutual, stranger, false},
		{"no client CA, no certificate", plain, tlsfiles.Files{CA: pki.CA}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// TLS 1.3 servers judge the client certificate after the
			// client's handshake is done: dial reads to see the verdict.
			if err := dial(tc.addr, "127.0.0.1", client(t, tc.f, tlsfiles.VerifyFull)); (err == nil) != tc.ok {
				t.Fatalf("dial: %v, want success %v", err, tc.ok)
			}
		})
	}
}

func TestLoadErrorsNameFilesNotContent(t *testing.T) {
	pki := tlstest.NewPKI(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(pki.Server.Key)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope.pem")
	for _, tc := range []struct {
		name, want string
		load       func() error
	}{
		{"server without key", "certificate and its key", func() error {
			_, err := tlsfiles.Server(tlsfiles.Files{Cert: pki.Server.Cert})
			return err
		}},
		{"missing key file", missing, func() error {
			_, err := tlsfiles.Server(tlsfiles.Files{Cert: pki.Server.Cert, Key: missing})
			return err
		}},
		{"CA not PEM", "no PEM certificate", func() error {
			_, err := tlsfiles.Server(tlsfiles.Files{Cert: pki.Server.Cert, Key: pki.Server.Key, CA: notPEM})
			return err
		}},
		{"client key of another certificate", "load TLS key pair " + pki.Client.Cert, func() error {
			_, err := tlsfiles.Client(tlsfiles.Files{Cert: pki.Client.Cert, Key: pki.Server.Key}, tlsfiles.VerifyFull)
			return err
		}},
		{"client missing CA", missing, func() error {
			_, err := tlsfiles.Client(tlsfiles.Files{CA: missing}, tlsfiles.VerifyFull)
			return err
		}},
		{"unknown verification", "unknown verification", func() error {
			_, err := tlsfiles.Client(tlsfiles.Files{}, tlsfiles.Verify(42))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), string(key[40:80])) {
				t.Fatalf("error shows key material: %v", err)
			}
			if tc.name == "client missing CA" && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("error %v does not wrap os.ErrNotExist", err)
			}
		})
	}
}
