package kafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
)

// TestProducerOverSASLAndTLS: the relay's producer publishes to a broker
// that requires TLS and SCRAM, and a producer with a wrong password fails
// to start without printing it.
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

	sec.SASL.Password = "wrong-pw-512"
	if p, err := kafka.New(kafka.Config{Brokers: []string{b.Addr()}, Security: sec, DialTimeout: 5 * time.Second}); err == nil {
		_ = p.Close()
		t.Fatal("producer with a wrong password started")
	} else if s := err.Error(); strings.Contains(s, "wrong-pw-512") {
		t.Fatalf("error %q: want one that does not reveal the password", s)
	}
}
