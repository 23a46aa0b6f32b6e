package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
)

func TestTLSFlags(t *testing.T) {
	down := closedAddr(t)
	files := tlstest.NewCA(t, "ctl").Issue(t, "ops")
	// A plaintext listener: the TLS handshake must fail at once, not time out.
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			_ = c.Close()
		}
	}()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		inStderr string
	}{
		{"cert alone", []string{"--remote-addr", down, "--remote-tls-cert", files.Cert, "health"}, nil, exitUsage, "TLS needs a certificate, its key and a CA"},
		{"env without CA", []string{"--remote-addr", down, "health"}, map[string]string{"OUTBOX_REMOTE_TLS_CERT": files.Cert, "OUTBOX_REMOTE_TLS_KEY": files.Key}, exitUsage, "TLS needs"},
		{"missing key file", []string{"--remote-addr", down, "--remote-tls-cert", files.Cert, "--remote-tls-key", files.Cert + ".nope", "--remote-tls-ca", files.CA, "health"}, nil, exitUsage, "load TLS key pair"},
		{"node without TLS", []string{"--remote-addr", plain.Addr().String(), "--remote-tls-cert", files.Cert, "--remote-tls-key", files.Key, "--remote-tls-ca", files.CA, "health"}, nil, exitUnreachable, "TLS handshake"},
		{"env files, node down", []string{"--remote-addr", down, "health"}, map[string]string{"OUTBOX_REMOTE_TLS_CERT": files.Cert, "OUTBOX_REMOTE_TLS_KEY": files.Key, "OUTBOX_REMOTE_TLS_CA": files.CA}, exitUnreachable, down},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{}, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.inStderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.inStderr)
			}
			if strings.Contains(stderr.String(), "PRIVATE KEY") {
				t.Error("stderr shows key material")
			}
		})
	}
}
