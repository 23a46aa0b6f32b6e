package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
	"github.com/outboxnode/outbox/test/harness"
)

// TestNodeStartsWithoutBroker starts the node with --kafka-brokers on a
// port where nothing listens: it starts, accepts commands, reports /health
// 503 degraded naming kafka as down, and logs that kafka is unreachable. Once a
// broker listens on that address every event arrives (read with sarama)
// and none is dead-lettered.
func TestNodeStartsWithoutBroker(t *testing.T) {
	harness.EmbeddedOnly(t, "it starts the broker in-process after the node, controlling the broker's lifetime")
	const orders = 20
	bins := harness.Build(t)
	brokerAddr := harness.FreeAddr(t)
	node := harness.StartNode(t, bins, "--kafka-brokers", brokerAddr,
		"--breaker-open-delay", "1s", "--retry-backoff-min", "50ms", "--retry-backoff-max", "200ms")

	ids := map[string]bool{}
	for i := range orders {
		id := strings.TrimSpace(mustAccept(t, node, "order", "create", "--customer", fmt.Sprintf("nobroker-%d", i), "--amount", "3.00"))
		ids[id] = true
	}
	harness.Eventually(t, time.Minute, func() error {
		body, code := node.HTTPGet(t, "/health")
		h := decodeJSON[metrics.Health](t, body)
		if code != 503 || h.Status != metrics.StatusDegraded || h.Components["kafka"].Status != metrics.StatusDown || h.Components["scylla"].Status != metrics.StatusOK {
			return fmt.Errorf("/health %d %s, want 503 degraded with kafka down and scylla ok", code, body)
		}
		return nil
	})
	if !strings.Contains(node.Log(), `msg="kafka unreachable"`) {
		t.Errorf("no 'kafka unreachable' line in the node log:\n%s", tail(node.Log(), 20))
	}

	broker, err := minikafka.Start(context.Background(), minikafka.Config{Addr: brokerAddr})
	if err != nil {
		t.Fatalf("start the broker on %s: %v", brokerAddr, err)
	}
	t.Cleanup(broker.Close)
	harness.Eventually(t, 2*time.Minute, func() error {
		if n := processedEvents(t, node); n < orders {
			return fmt.Errorf("%v of %d events processed", n, orders)
		}
		return nil
	})
	got := map[string]int{}
	for _, m := range minikafkatest.ReadTopic(t, brokerAddr, "OrderCreated") {
		got[string(m.Key)]++
	}
	for id := range ids {
		if got[id] == 0 {
			t.Errorf("order %s has no record in Kafka", id)
		}
	}
	if n := countRows(t, openStore(t, node), "dead_letter_queue"); n != 0 {
		t.Errorf("%d dead letters for a broker that was only absent", n)
	}
	for _, line := range []string{`msg="kafka unreachable"`, `msg="kafka reachable"`, `msg="kafka connected"`} {
		if n := strings.Count(node.Log(), line); n != 1 {
			t.Errorf("%q logged %d times, want once", line, n)
		}
	}
	// The breaker may stay half-open until more events flow; kafka itself is up.
	harness.Eventually(t, time.Minute, func() error {
		body, _ := node.HTTPGet(t, "/health")
		if h := decodeJSON[metrics.Health](t, body); h.Components["kafka"].Status != metrics.StatusOK || h.Status == metrics.StatusDown {
			return fmt.Errorf("/health %s after the broker came up", body)
		}
		return nil
	})
}

// processedEvents reads cdc_events_processed_total from /metrics.
func processedEvents(t *testing.T, node *harness.Node) float64 {
	t.Helper()
	body, code := node.HTTPGet(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "cdc_events_processed_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("cdc_events_processed_total %q: %v", v, err)
			}
			return f
		}
	}
	return 0
}
