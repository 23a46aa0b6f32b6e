package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
)

func TestCQLFlags(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("file-secret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := tlstest.NewPKI(t)
	noEnv := func(string) string { return "" }
	env := func(k string) string {
		if k == "OUTBOX_SCYLLA_PASSWORD" {
			return "env-secret"
		}
		return ""
	}

	cfg, err := cqlFlags{username: "app", passwordFile: pw, tlsCert: files.Server.Cert, tlsKey: files.Server.Key, tlsClientCA: files.CA}.serverConfig(noEnv)
	if err != nil || cfg.Users["app"] != "file-secret" || cfg.TLS == nil || cfg.TLS.ClientCAs == nil {
		t.Fatalf("file password and mutual TLS: %v, %v", cfg.Users, err)
	}
	if cfg, err := (cqlFlags{username: "app"}).serverConfig(env); err != nil || cfg.Users["app"] != "env-secret" || cfg.TLS != nil {
		t.Fatalf("env password: %v, %v", cfg.Users, err)
	}
	if cfg, err := (cqlFlags{}).serverConfig(noEnv); err != nil || cfg.Users != nil || cfg.TLS != nil {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	if _, err := (cqlFlags{username: "app", passwordFile: pw}).serverConfig(env); err == nil || !strings.Contains(err.Error(), "OUTBOX_SCYLLA_PASSWORD") || strings.Contains(err.Error(), "-secret") {
		t.Fatalf("file and %s both set: %v, want an error naming both and neither password", "OUTBOX_SCYLLA_PASSWORD", err)
	}
	for _, bad := range []cqlFlags{
		{username: "app"},
		{passwordFile: pw},
		{username: "app", passwordFile: "/does/not/exist"},
		{tlsClientCA: files.CA},
		{tlsCert: files.Server.Cert},
	} {
		_, err := bad.serverConfig(noEnv)
		if err == nil {
			t.Errorf("%+v accepted", bad)
		} else if strings.Contains(err.Error(), "file-secret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
