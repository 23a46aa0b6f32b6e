package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/kafka"
)

func TestLoadKafkaSecurity(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--kafka-brokers", "10.0.0.1:9093", "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", "relay"}

	cfg, err := Load(append(base, "--kafka-sasl-password-file", pwFile, "--kafka-tls-ca", "/etc/ca.pem"), env(nil), io.Discard)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := kafka.Security{
		SASL: kafka.SASL{Mechanism: "SCRAM-SHA-512", Username: "relay", Password: "from-file"},
		TLS:  kafka.TLS{CAFile: "/etc/ca.pem"},
	}
	if cfg.Kafka.Security != want || !cfg.Kafka.Security.TLS.On() {
		t.Fatalf("security = %#v, want %#v", cfg.Kafka.Security, want)
	}

	cfg, err = Load(base, env(map[string]string{SASLPasswordEnv: "from-env"}), io.Discard)
	if err != nil || cfg.Kafka.Security.SASL.Password.Reveal() != "from-env" {
		t.Fatalf("password from %s: err %v", SASLPasswordEnv, err)
	}
}

func TestLoadKafkaSecurityErrors(t *testing.T) {
	const password = "s3cret-value"
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	external := []string{"--kafka-brokers", "10.0.0.1:9093"}
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"unknown mechanism":        {append(external, "--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-username", "u"), map[string]string{SASLPasswordEnv: password}},
		"no username":              {append(external, "--kafka-sasl-mechanism", "PLAIN"), map[string]string{SASLPasswordEnv: password}},
		"no password":              {append(external, "--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u"), nil},
		"password, no mechanism":   {external, map[string]string{SASLPasswordEnv: password}},
		"env and file":             {append(external, "--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u", "--kafka-sasl-password-file", pwFile), map[string]string{SASLPasswordEnv: password}},
		"missing password file":    {append(external, "--kafka-sasl-password-file", filepath.Join(t.TempDir(), "none")), nil},
		"cert without key":         {append(external, "--kafka-tls-cert", "/c.pem"), nil},
		"TLS with embedded broker": {[]string{"--kafka-tls"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Load(tc.args, env(tc.env), io.Discard)
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want an *InvalidError", err)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(fmt.Sprintf("%+v %#v", cfg, cfg), password) {
				t.Fatalf("error or config print reveals the password: %v", err)
			}
		})
	}
}
