package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/secret"
	"github.com/outboxnode/outbox/messages"
)

func TestKafkaProbe(t *testing.T) {
	b, err := minikafka.Start(t.Context(), minikafka.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start minikafka: %v", err)
	}
	t.Cleanup(b.Close)
	p := newKafkaProbe([]string{b.Addr()}, time.Second, kafka.Security{})
	t.Cleanup(func() { _ = p.Close() })
	if status, detail := p.Check(t.Context()); status != messages.HealthStatus_HEALTH_STATUS_OK {
		t.Fatalf("Check = %v %q, want ok", status, detail)
	}
	if err := b.SetUnavailable(true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if status, _ := p.Check(ctx); status != messages.HealthStatus_HEALTH_STATUS_DOWN {
		t.Fatalf("Check with the broker down = %v, want down", status)
	}
}

func TestKafkaProbeNoBroker(t *testing.T) {
	p := newKafkaProbe([]string{"127.0.0.1:1"}, 500*time.Millisecond, kafka.Security{})
	if status, detail := p.Check(t.Context()); status != messages.HealthStatus_HEALTH_STATUS_DOWN || detail == "" {
		t.Fatalf("Check = %v %q, want down with a reason", status, detail)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close without a client: %v", err)
	}
}

func TestKafkaProbeSASL(t *testing.T) {
	b, err := minikafka.Start(t.Context(), minikafka.Config{Addr: "127.0.0.1:0",
		Users: []minikafka.User{{Mechanism: kafka.SASLSCRAMSHA256, Name: "probe", Password: "probe-pw"}}})
	if err != nil {
		t.Fatalf("start minikafka: %v", err)
	}
	t.Cleanup(b.Close)
	for _, tc := range []struct {
		password secret.Secret
		want     messages.HealthStatus
	}{
		{"probe-pw", messages.HealthStatus_HEALTH_STATUS_OK},
		{"wrong-probe-pw", messages.HealthStatus_HEALTH_STATUS_DOWN},
	} {
		p := newKafkaProbe([]string{b.Addr()}, 5*time.Second,
			kafka.Security{SASL: kafka.SASL{Mechanism: kafka.SASLSCRAMSHA256, Username: "probe", Password: tc.password}})
		t.Cleanup(func() { _ = p.Close() })
		status, detail := p.Check(t.Context())
		if status != tc.want || strings.Contains(detail, tc.password.Reveal()) {
			t.Fatalf("Check with password %q = %v %q, want %v without the password", tc.password.Reveal(), status, detail, tc.want)
		}
		t.Logf("%v: %s", status, detail)
	}
}
