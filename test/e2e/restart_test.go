package e2e

import (
	"testing"

	"github.com/outboxnode/outbox/test/harness"
)

// TestNodeCrashKeepsOrders kills a node with SIGKILL and starts another on
// the same store (cmd/devstack, a separate process): committed orders are
// there, and the new node's order actors load them and continue their
// versions.
func TestNodeCrashKeepsOrders(t *testing.T) {
	bins := harness.Build(t)
	cql, kafka := harness.StartDevstack(t, bins)
	external := []string{"--scylla-hosts", cql, "--kafka-brokers", kafka, "--migrate"}

	first := harness.StartNode(t, bins, external...)
	id := mustAccept(t, first, "order", "create", "--customer", "leo", "--amount", "5.00", "--item", "A:1")
	mustAccept(t, first, "order", "update", id, "--amount", "6.00")
	first.Kill(t)

	second := harness.StartNode(t, bins, external...)
	accepted := decodeJSON[map[string]any](t, mustAccept(t, second, "order", "cancel", id, "-o", "json"))
	if accepted["version"] != float64(3) {
		t.Fatalf("cancel after the crash: %v, want version 3", accepted)
	}
	view := decodeJSON[map[string]any](t, mustAccept(t, second, "order", "get", id, "-o", "json"))
	if view["status"] != "ORDER_STATUS_CANCELLED" || view["customer_id"] != "leo" || view["amount"] != "6.00" {
		t.Fatalf("order after the crash: %v", view)
	}
	if n := len(loadEvents(t, second.Session(t), mustUUID(t, id))); n != 3 {
		t.Fatalf("%d outbox rows, want 3", n)
	}
}
