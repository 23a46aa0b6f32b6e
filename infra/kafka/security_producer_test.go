package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
	"github.com/outboxnode/outbox/test/harness"
)

// TestProducerOverSASLAndTLS: the relay's producer publishes to a broker
// that requires TLS and SCRAM, and a producer with a wrong password waits
// without printing it.
func TestProducerOverSASLAndTLS(t *testing.T) {
	files := tlstest.NewPKI(t)
	b := startBroker(t, minikafka.Config{
		TLS:   files.ServerConfig(t, false),
		Users: []minikafka.User{{Mechanism: kafka.SASLSCRAMSHA512, Name: "relay", Password: "pw-512"}},
	})
	sec := kafka.Security{
		SASL: kafka.SASL{Mechanism: kafka.SASLSCRAMSHA512, Username: "relay", Password: "pw-512"},
		TLS:  kafka.TLS{CAFile: files.CA},
	}
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, Security: sec})
	requireAllNil(t, p.Publish(context.Background(), events(10, 2, "OrderCreated")))
	msgs := minikafkatest.ReadTopic(t, b.Addr(), "OrderCreated", func(c *sarama.Config) {
		if err := sec.Apply(c); err != nil {
			t.Fatal(err)
		}
	})
	if len(msgs) != 10 {
		t.Fatalf("read %d records, want 10", len(msgs))
	}

	// A wrong password is a broker the producer cannot use: it starts (so
	// the node keeps taking commands), never connects, refuses records as
	// unavailable, and logs that it waits without the password (sarama reports
	// the broker closing the connection, EOF, not the SASL failure).
	sec.SASL.Password = "wrong-pw-512"
	var logs harness.SyncBuffer
	bad := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, Security: sec, DialTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	harness.Eventually(t, time.Minute, func() error {
		if !strings.Contains(logs.String(), `msg="kafka unreachable"`) {
			return errors.New("no 'kafka unreachable' line yet")
		}
		return nil
	})
	for _, err := range bad.Publish(context.Background(), events(2, 2, "OrderCreated")) {
		if !kafka.IsUnavailable(err) {
			t.Fatalf("publish with a wrong password: %v, want unavailable", err)
		}
	}
	if bad.Connected() {
		t.Fatal("connected with a wrong password")
	}
	if log := logs.String(); strings.Contains(log, "wrong-pw-512") {
		t.Fatalf("the log reveals the password:\n%s", log)
	}
}
