package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/secret"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "hunter2-secret"
	sec := Security{SASL: SASL{Mechanism: SASLPlain, Username: "u", Password: value}}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "security", sec, "password", sec.SASL.Password)
	js, err := json.Marshal(sec)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprint(sec), fmt.Sprintf("%v %+v %#v %s %q", sec, sec, sec, sec.SASL.Password, sec.SASL.Password),
		logged.String(), string(js),
	} {
		if strings.Contains(out, value) || !strings.Contains(out, secret.Redacted) {
			t.Errorf("printed %q: want the password redacted", out)
		}
	}
	if sec.SASL.Password.Reveal() != value {
		t.Fatal("Reveal lost the value")
	}
}

func TestSecurityValidate(t *testing.T) {
	for _, tc := range []struct {
		sec Security
		ok  bool
	}{
		{Security{}, true},
		{Security{SASL: SASL{Mechanism: SASLSCRAMSHA256, Username: "u", Password: "p"}}, true},
		{Security{SASL: SASL{Mechanism: "GSSAPI", Username: "u", Password: "p"}}, false},
		{Security{SASL: SASL{Mechanism: SASLPlain, Username: "u"}}, false},
		{Security{SASL: SASL{Username: "u"}}, false},
		{Security{TLS: TLS{CertFile: "c"}}, false},
		{Security{TLS: TLS{CertFile: "c", KeyFile: "k"}}, true},
	} {
		err := tc.sec.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.sec, err, tc.ok)
		}
	}
}

func TestSecurityApply(t *testing.T) {
	for _, mech := range []string{SASLPlain, SASLSCRAMSHA256, SASLSCRAMSHA512} {
		c := sarama.NewConfig()
		if err := (Security{SASL: SASL{Mechanism: mech, Username: "u", Password: "p"}}).Apply(c); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: sarama rejects the config: %v", mech, err)
		}
		if !c.Net.SASL.Enable || string(c.Net.SASL.Mechanism) != mech || c.Net.TLS.Enable {
			t.Errorf("%s: SASL %+v, TLS %v", mech, c.Net.SASL, c.Net.TLS.Enable)
		}
	}
	c := sarama.NewConfig()
	err := (Security{TLS: TLS{CAFile: "/nonexistent/ca.pem"}}).Apply(c)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Fatalf("missing CA file: err = %v", err)
	}
}
