package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
	"github.com/outboxnode/outbox/test/harness"
)

// passwordFile writes a SASL password for the binaries' --*-password-file.
func passwordFile(t *testing.T, password string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// securedConfig is a sarama config that connects with sec.
func securedConfig(t *testing.T, sec kafka.Security) func(*sarama.Config) {
	return func(c *sarama.Config) {
		c.Metadata.Retry.Max = 0
		if err := sec.Apply(c); err != nil {
			t.Fatal(err)
		}
	}
}

// awaitKeyed waits until topic holds a record keyed key, read with sec.
func awaitKeyed(t *testing.T, broker string, sec kafka.Security, topic, key string) *sarama.ConsumerMessage {
	t.Helper()
	conf := sarama.NewConfig()
	securedConfig(t, sec)(conf)
	client, err := sarama.NewClient([]string{broker}, conf)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer client.Close()
	var found *sarama.ConsumerMessage
	harness.Eventually(t, 30*time.Second, func() error {
		if err := client.RefreshMetadata(topic); err != nil {
			return err
		}
		if parts, err := client.Partitions(topic); err != nil || len(parts) == 0 {
			return fmt.Errorf("topic %s: partitions %v, err %v", topic, parts, err)
		}
		for _, m := range minikafkatest.ReadTopic(t, broker, topic, securedConfig(t, sec)) {
			if string(m.Key) == key {
				found = m
				return nil
			}
		}
		return fmt.Errorf("no record keyed %s in %s yet", key, topic)
	})
	return found
}

// requireKafkaHealthy fails unless /health reports the Kafka probe (which
// authenticates like the producer) ok, and when the node's log or /health
// shows the password.
func requireKafkaHealthy(t *testing.T, node *harness.Node, password string) {
	t.Helper()
	body, code := node.HTTPGet(t, "/health")
	if h := decodeJSON[metrics.Health](t, body); code != 200 || h.Components["kafka"].Status != metrics.StatusOK {
		t.Fatalf("/health %d: %s", code, body)
	}
	if strings.Contains(body, password) || strings.Contains(node.Log(), password) {
		t.Fatal("the SASL password appears in /health or in the node's log")
	}
}

// TestNodePublishesThroughSASLAndTLS: devstack's broker requires TLS and a
// SCRAM user; the node, given the CA and the user, publishes an order's
// event, which a consumer with the same credentials reads back.
func TestNodePublishesThroughSASLAndTLS(t *testing.T) {
	harness.EmbeddedOnly(t, "it starts a devstack with SASL users and TLS certificates of its own")
	const password = "e2e-scram-password"
	bins := harness.Build(t)
	files := tlstest.NewPKI(t)
	pw := passwordFile(t, password)
	cql, broker := harness.StartDevstack(t, bins, "--kafka-sasl-mechanism", "SCRAM-SHA-256,PLAIN",
		"--kafka-sasl-username", "relay", "--kafka-sasl-password-file", pw,
		"--embedded-kafka-tls-cert", files.Server.Cert, "--embedded-kafka-tls-key", files.Server.Key)
	node := harness.StartNode(t, bins, "--scylla-hosts", cql, "--kafka-brokers", broker, "--migrate",
		"--kafka-sasl-mechanism", "SCRAM-SHA-256", "--kafka-sasl-username", "relay", "--kafka-sasl-password-file", pw,
		"--kafka-tls-ca", files.CA)

	id := mustAccept(t, node, "order", "create", "--customer", "sasl", "--amount", "3.00")
	sec := kafka.Security{
		SASL: kafka.SASL{Mechanism: kafka.SASLPlain, Username: "relay", Password: password},
		TLS:  kafka.TLS{CAFile: files.CA},
	}
	m := awaitKeyed(t, broker, sec, "OrderCreated", id)
	if !strings.Contains(string(m.Value), id) {
		t.Fatalf("record value %s does not name order %s", m.Value, id)
	}
	requireKafkaHealthy(t, node, password)

	sec.SASL.Password = "not-the-password"
	conf := sarama.NewConfig()
	securedConfig(t, sec)(conf)
	if c, err := sarama.NewClient([]string{broker}, conf); err == nil {
		c.Close()
		t.Fatal("a client with a wrong password connected")
	}
}

// TestEmbeddedBrokerWithSASL: with a SASL user and no --kafka-brokers, the
// embedded broker requires that user; the node's topics get
// --embedded-kafka-partitions partitions, others one, as in Kafka.
func TestEmbeddedBrokerWithSASL(t *testing.T) {
	harness.EmbeddedOnly(t, "it tests the embedded broker's SASL")
	const password = "e2e-plain-password"
	bins := harness.Build(t)
	node := harness.StartNode(t, bins, "--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "outbox",
		"--kafka-sasl-password-file", passwordFile(t, password), "--embedded-kafka-partitions", "5")
	id := mustAccept(t, node, "order", "create", "--customer", "plain", "--amount", "4.00")
	sec := kafka.Security{SASL: kafka.SASL{Mechanism: kafka.SASLPlain, Username: "outbox", Password: password}}
	awaitKeyed(t, node.Kafka, sec, "OrderCreated", id)
	requireKafkaHealthy(t, node, password)

	conf := sarama.NewConfig()
	securedConfig(t, sec)(conf)
	conf.Producer.Return.Successes = true
	producer, err := sarama.NewSyncProducer([]string{node.Kafka}, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: "not.the.nodes", Value: sarama.StringEncoder("v")}); err != nil {
		t.Fatalf("produce to a new topic: %v", err)
	}
	client, err := sarama.NewClient([]string{node.Kafka}, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for topic, want := range map[string]int{"OrderCreated": 5, "OrderCancelled": 5, "not.the.nodes": 1} {
		if parts, err := client.Partitions(topic); err != nil || len(parts) != want {
			t.Errorf("%s: partitions %v, err %v; want %d", topic, parts, err, want)
		}
	}

	plain := sarama.NewConfig()
	plain.Metadata.Retry.Max = 0
	if c, err := sarama.NewClient([]string{node.Kafka}, plain); err == nil {
		c.Close()
		t.Fatal("a client without SASL connected to the embedded broker")
	}
}
