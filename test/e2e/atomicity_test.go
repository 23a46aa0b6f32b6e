package e2e

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
	"github.com/outboxnode/outbox/test/harness"
)

// TestFailedBatchWritesNeitherTable drops outbox_messages under the node,
// so the LOGGED BATCH of the next commands must fail: they are rejected,
// and the orders table is unchanged. Once the table is back, commands
// commit both rows again.
func TestFailedBatchWritesNeitherTable(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	s := openStore(t, node)
	existing := uuid.MustParse(mustAccept(t, node, "order", "create", "--customer", "judy", "--amount", "9.00"))
	ordersBefore := countRows(t, s, "orders")

	if err := s.ExecStmt("DROP TABLE " + s.keyspace + ".outbox_messages"); err != nil {
		t.Fatalf("drop outbox_messages: %v", err)
	}
	for _, args := range [][]string{
		{"order", "create", "--customer", "mallory", "--amount", "1.00"},
		{"order", "update", existing.String(), "--amount", "99.00"},
		{"order", "cancel", existing.String()},
	} {
		r := node.Ctl(t, args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "rejected (STORE_UNAVAILABLE)") {
			t.Fatalf("%v with the outbox table gone: exit %d stderr %q", args, r.Code, r.Stderr)
		}
	}
	if got := countRows(t, s, "orders"); got != ordersBefore {
		t.Fatalf("orders rows %d -> %d: a failed batch wrote its order row", ordersBefore, got)
	}
	if row, _ := loadOrder(t, s, existing); row.Version != 1 || row.TotalCents != 900 || row.Status != "CREATED" {
		t.Fatalf("order changed by failed batches: %+v", row)
	}

	schemaCfg := config.Default().Scylla
	schemaCfg.Keyspace = s.keyspace
	scyllatest.Migrate(t, s.Session, schemaCfg) // recreates the table
	mustAccept(t, node, "order", "update", existing.String(), "--amount", "11.00")
	events := loadEvents(t, s, existing)
	if len(events) != 1 || events[0].AggregateVersion != 2 {
		t.Fatalf("after recovery, outbox rows of %s = %+v, want only version 2", existing, events)
	}
	if row, _ := loadOrder(t, s, existing); row.Version != 2 || row.TotalCents != 1100 {
		t.Fatalf("after recovery, order = %+v", row)
	}
}
