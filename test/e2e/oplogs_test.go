package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/test/harness"
)

// stateLine matches the node's log lines of the broker's and the breaker's
// state changes (docs/operations.md, "State changes in the log").
var stateLine = regexp.MustCompile(`msg="(kafka unreachable|kafka reachable|breaker [a-z-]+): [^"]*"|msg="(kafka unreachable|kafka reachable)"`)

// stateChanges returns the state-change messages of log, in order.
func stateChanges(log string) []string {
	var out []string
	for _, m := range stateLine.FindAllStringSubmatch(log, -1) {
		out = append(out, m[1]+m[2])
	}
	return out
}

// TestOperatorLogsFollowABrokerOutage takes the broker down under a
// running node and brings it back: the node's log has one line per state
// change, in order (broker lost, breaker open, broker back, breaker
// half-open, breaker closed), `outboxctl health` names kafka while the node
// takes commands, and says ok afterwards.
func TestOperatorLogsFollowABrokerOutage(t *testing.T) {
	harness.EmbeddedOnly(t, "it switches the broker's outage (devstack SIGUSR1/SIGUSR2)")
	bins := harness.Build(t)
	broker := harness.RunDevstack(t, bins, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", harness.FreeAddr(t), "--log-level", "warn")
	// The open delay outlasts sarama's own 10 s partition breaker
	// (infra/kafka), so that the first trial publish succeeds and the
	// breaker opens once.
	node := harness.StartNode(t, bins, "--kafka-brokers", broker.Kafka, "--breaker-open-delay", "15s", "--breaker-successes", "1",
		"--retry-backoff-min", "50ms", "--retry-backoff-max", "200ms")
	mustAccept(t, node, "order", "create", "--customer", "olga", "--amount", "1.00")
	waitProcessed(t, node, 1)

	if err := broker.SetKafkaOutage(true); err != nil {
		t.Fatal(err)
	}
	mustAccept(t, node, "order", "create", "--customer", "olga", "--amount", "2.00")
	harness.Eventually(t, time.Minute, func() error {
		if got := stateChanges(node.Log()); !slices.Contains(got, "breaker open") {
			return fmt.Errorf("state changes so far %q, want the breaker open", got)
		}
		return nil
	})
	r := node.Ctl(t, "health")
	if first, _, _ := strings.Cut(r.Stdout, "\n"); r.Code != 1 || !strings.HasPrefix(first, "status       degraded: kafka unreachable since ") {
		t.Errorf("outboxctl health during the outage: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("outboxctl health during the outage:\n%s%s", r.Stdout, r.Stderr)

	if err := broker.SetKafkaOutage(false); err != nil {
		t.Fatal(err)
	}
	waitProcessed(t, node, 2)
	harness.Eventually(t, time.Minute, func() error {
		if r := node.Ctl(t, "health"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "status       ok\n") {
			return fmt.Errorf("outboxctl health after the outage: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		return nil
	})
	want := []string{"kafka unreachable", "breaker open", "kafka reachable", "breaker half-open", "breaker closed"}
	if got := stateChanges(node.Log()); !slices.Equal(got, want) {
		t.Errorf("state changes %q, want %q; log:\n%s", got, want, tail(node.Log(), 40))
	}
	for _, l := range strings.Split(node.Log(), "\n") {
		if stateLine.MatchString(l) {
			t.Log(l)
		}
	}
}

// waitProcessed waits until the relay has processed n events.
func waitProcessed(t *testing.T, node *harness.Node, n float64) {
	t.Helper()
	harness.Eventually(t, 2*time.Minute, func() error {
		if got := processedEvents(t, node); got < n {
			return fmt.Errorf("%v of %v events processed", got, n)
		}
		return nil
	})
}
