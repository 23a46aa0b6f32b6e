package config

import (
	"errors"
	"io"
	"slices"
	"testing"
)

func TestRemoteTLSFlagsAndEnv(t *testing.T) {
	cfg, err := Load(
		[]string{"--remote-tls-cert=node.pem", "--remote-admin=ops, oncall"},
		env(map[string]string{
			"OUTBOX_REMOTE_TLS_KEY":  "node-key.pem",
			"OUTBOX_REMOTE_TLS_CA":   "ca.pem",
			"OUTBOX_REMOTE_TLS_CERT": "other.pem", // the flag wins
		}),
		io.Discard,
	)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Remote
	if r.CertFile != "node.pem" || r.KeyFile != "node-key.pem" || r.CAFile != "ca.pem" || !slices.Equal(r.Admins, []string{"ops", "oncall"}) || !r.Enabled() {
		t.Errorf("remote TLS %+v", r)
	}
	if Default().Remote.Enabled() {
		t.Error("TLS on by default")
	}
}

func TestRemoteTLSValidation(t *testing.T) {
	for name, args := range map[string][]string{
		"cert without key and CA": {"--remote-tls-cert=node.pem"},
		"no CA":                   {"--remote-tls-cert=node.pem", "--remote-tls-key=k.pem"},
		"admins without TLS":      {"--remote-admin=ops"},
	} {
		_, err := Load(args, env(nil), io.Discard)
		var invalid *InvalidError
		if !errors.As(err, &invalid) || (invalid.Field != "remote-tls" && invalid.Field != "remote-admin") {
			t.Errorf("%s: %v, want a remote-tls or remote-admin InvalidError", name, err)
		}
	}
}
