package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreAuthFlagsAndSecretSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsFlags := []string{"--scylla-hosts", "10.0.0.1", "--scylla-tls-ca", "/ca.pem", "--scylla-tls-cert", "/c.pem", "--scylla-tls-key", "/k.pem"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"file", append([]string{"--scylla-username", "app", "--scylla-password-file", file}, tlsFlags...), nil, "from-file"},
		{"env", []string{"--scylla-username", "app"}, map[string]string{EnvScyllaPassword: "from-env"}, "from-env"},
		{"file from its env", []string{"--scylla-username", "app"}, map[string]string{"OUTBOX_SCYLLA_PASSWORD_FILE": file}, "from-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Scylla.Username != "app" || cfg.Scylla.Password.Reveal() != tc.want {
				t.Fatalf("user %q password %q, want app %q", cfg.Scylla.Username, cfg.Scylla.Password.Reveal(), tc.want)
			}
			var logged strings.Builder
			slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "password", cfg.Scylla.Password, "scylla", cfg.Scylla)
			for _, printed := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String()} {
				if strings.Contains(printed, tc.want) {
					t.Fatalf("the password is printed: %s", printed)
				}
			}
		})
	}
	cfg, err := Load(tlsFlags, env(nil), io.Discard)
	if err != nil || !cfg.Scylla.TLS.Enabled() || cfg.Scylla.TLS.KeyFile != "/k.pem" || cfg.Scylla.TLS.SkipHostVerification {
		t.Fatalf("TLS flags: %+v, %v", cfg.Scylla.TLS, err)
	}
}

func TestStoreAuthBadSettings(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		env   map[string]string
		field string
	}{
		{[]string{"--scylla-username", "app"}, nil, "scylla-username"},
		{nil, map[string]string{EnvScyllaPassword: "pw"}, "scylla-username"},
		{[]string{"--scylla-username", "app", "--scylla-password-file", "/does/not/exist"}, nil, "scylla-password-file"},
		{[]string{"--scylla-username", "app", "--scylla-password-file", "/pw"}, map[string]string{EnvScyllaPassword: "pw"}, EnvScyllaPassword},
		{[]string{"--scylla-tls-ca", "/ca.pem", "--scylla-tls-cert", "/c.pem"}, nil, "scylla-tls-cert"},
		{[]string{"--scylla-hosts", "h", "--scylla-tls-cert", "/c.pem", "--scylla-tls-key", "/k.pem"}, nil, "scylla-tls-ca"},
		{[]string{"--scylla-tls-ca", "/ca.pem"}, nil, "embedded store serves plain CQL"},
	} {
		_, err := Load(tc.args, env(tc.env), io.Discard)
		var inv *InvalidError
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%v %v: error %v, want one about %s", tc.args, tc.env, err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), "pw\"") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
