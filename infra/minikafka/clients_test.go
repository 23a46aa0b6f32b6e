package minikafka

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientsDir is test/clients, where the third-party client scripts and
// their npm packages (installed by .ci/deps) live.
func clientsDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "test", "clients")
}

// runClient runs a client script with a deadline and extra environment
// variables and returns its output and exit error; a timeout (a client
// waiting for a topic forever) fails the test.
func runClient(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = clientsDir()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish within 2 minutes:\n%s", name, args, out)
	}
	return strings.TrimSpace(string(out)), err
}

// mustRunClient is runClient that fails the test when the client fails.
func mustRunClient(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runClient(t, env, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// requireKafkajs fails unless node and the kafkajs package are installed.
func requireKafkajs(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node missing: run make deps")
	}
	if err := exec.Command("node", "-e", "require('"+filepath.Join(clientsDir(), "node_modules", "kafkajs")+"')").Run(); err != nil {
		t.Fatal("kafkajs missing in test/clients/node_modules: run make deps")
	}
}

// TestKafkaPythonProducesToNewTopic: kafka-python 2.0.2 (Debian
// python3-kafka) asks for metadata with v1, which cannot allow topic
// creation; the broker creates the topic as Kafka does instead of leaving
// the producer waiting for it.
func TestKafkaPythonProducesToNewTopic(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import kafka").Run(); err != nil {
		t.Fatal("kafka-python missing (Debian python3-kafka): run make deps")
	}
	b := startBroker(t, Config{})
	out := mustRunClient(t, nil, "/usr/bin/python3", "kafka_python_produce.py", b.Addr(), "python.fresh", "20")
	if !strings.Contains(out, `"version": "2.0.2"`) || !strings.Contains(out, `"read": 20`) {
		t.Fatalf("kafka-python output:\n%s", out)
	}
	if n := partitionCount(t, b.Addr(), "python.fresh"); n != 1 {
		t.Fatalf("auto-created topic has %d partitions, want 1", n)
	}
	t.Log(out)
}

// TestKafkajsProducesAndConsumes: kafkajs 2.2.4 (npm, test/clients)
// produces idempotently to a new topic and consumes it in a group.
func TestKafkajsProducesAndConsumes(t *testing.T) {
	requireKafkajs(t)
	b := startBroker(t, Config{})
	const n = 50
	out := mustRunClient(t, nil, "node", "kafka_kafkajs.js", b.Addr(), "kafkajs.fresh", strconv.Itoa(n))
	if !strings.Contains(out, `"version":"2.2.4"`) || !strings.Contains(out, `"read":50`) {
		t.Fatalf("kafkajs output:\n%s", out)
	}
	t.Log(out)
}

// TestKafkajsSASL: kafkajs authenticates with PLAIN and SCRAM-SHA-256;
// a wrong password fails.
func TestKafkajsSASL(t *testing.T) {
	requireKafkajs(t)
	b := startBroker(t, Config{Users: saslUsers})
	for _, u := range saslUsers[:2] {
		t.Run(u.Mechanism, func(t *testing.T) {
			env := func(password string) []string {
				return []string{"KAFKA_SASL_MECHANISM=" + strings.ToLower(u.Mechanism), "KAFKA_SASL_USERNAME=" + u.Name,
					"KAFKA_SASL_PASSWORD=" + password, "KAFKA_RETRIES=1"}
			}
			topic := "kafkajs.sasl." + u.Name
			if out := mustRunClient(t, env(u.Password.Reveal()), "node", "kafka_kafkajs.js", b.Addr(), topic, "5"); !strings.Contains(out, `"read":5`) {
				t.Fatalf("kafkajs output:\n%s", out)
			}
			if out, err := runClient(t, env("wrong"), "node", "kafka_kafkajs.js", b.Addr(), topic, "5"); err == nil {
				t.Fatalf("kafkajs with a wrong password succeeded:\n%s", out)
			}
		})
	}
}
