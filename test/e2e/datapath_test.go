package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/test/harness"
)

// TestCommandsReachKafka follows one order through the whole data path:
// outboxctl -> node -> LOGGED BATCH -> CDC -> relay -> Kafka. Each command's
// event arrives in its topic, keyed by the order id, carrying the outbox
// row's event id and version. The publisher runs with every --publish-*
// flag set (batches of one), which must not change the outcome.
func TestCommandsReachKafka(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins, "--publish-max-batch", "1", "--publish-linger", "1ms",
		"--publish-pause-delay", "200ms", "--publish-drain-timeout", "2s")
	id := mustAccept(t, node, "order", "create", "--customer", "kate", "--amount", "8.00")
	mustAccept(t, node, "order", "update", id, "--amount", "9.00")
	mustAccept(t, node, "order", "cancel", id, "--reason", "test")

	events := loadEvents(t, openStore(t, node), uuid.MustParse(id))
	if len(events) != 3 {
		t.Fatalf("%d outbox rows, want 3", len(events))
	}
	for _, e := range events {
		r := awaitRecord(t, node.Kafka, node.Topic(e.EventType), id)
		if r.headers["event_id"] != e.EventID.String() || r.headers["aggregate_version"] != strconv.Itoa(int(e.AggregateVersion)) ||
			!strings.Contains(r.value, id) {
			t.Errorf("%s record headers %v value %s; want event %s v%d", e.EventType, r.headers, r.value, e.EventID, e.AggregateVersion)
		}
	}
	harness.Eventually(t, 10*time.Second, func() error {
		body, _ := node.HTTPGet(t, "/metrics")
		if !strings.Contains(body, "cdc_events_processed_total 3") {
			return fmt.Errorf("cdc_events_processed_total is not 3:\n%s", grepLines(body, "cdc_events_processed_total"))
		}
		return nil
	})
}
