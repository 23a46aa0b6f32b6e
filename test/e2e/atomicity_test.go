package e2e

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/test/harness"
)

// TestFailedBatchWritesNeitherTable runs the node on a devstack whose CQL
// server refuses writes to outbox_messages: each command's LOGGED BATCH
// reaches the store and fails there on its second statement. The commands
// are rejected with STORE_UNAVAILABLE and neither table changes. Once the
// fault is healed, the same update commits both rows and its event reaches
// Kafka.
func TestFailedBatchWritesNeitherTable(t *testing.T) {
	harness.EmbeddedOnly(t, "it injects write faults into the store, which only devstack's miniscylla has")
	bins := harness.Build(t)
	d := harness.RunDevstack(t, bins, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", harness.FreeAddr(t),
		"--embedded-cql-fault-addr", "127.0.0.1:0", "--log-level", "warn")
	node := harness.StartNode(t, bins, "--scylla-hosts", d.CQL, "--kafka-brokers", d.Kafka, "--migrate")
	s := openStore(t, node)
	existing := uuid.MustParse(mustAccept(t, node, "order", "create", "--customer", "judy", "--amount", "9.00"))

	d.FailWrites(t, node.Keyspace, "outbox_messages")
	update := []string{"order", "update", existing.String(), "--amount", "99.00"}
	for _, args := range [][]string{{"order", "create", "--customer", "mallory", "--amount", "1.00"}, update} {
		r := node.Ctl(t, args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "rejected (STORE_UNAVAILABLE)") {
			t.Fatalf("%v with outbox writes failing: exit %d stderr %q", args, r.Code, r.Stderr)
		}
	}
	if n := d.FailedWrites(t); n < 2 {
		t.Fatalf("the store refused %d writes, want one per command at least: the batches did not reach it", n)
	}
	if orders, outbox := countRows(t, s, "orders"), countRows(t, s, "outbox_messages"); orders != 1 || outbox != 1 {
		t.Fatalf("after the failed batches: %d orders rows, %d outbox rows; want only the first order's 1 and 1", orders, outbox)
	}
	if row, _ := loadOrder(t, s, existing); row.Version != 1 || row.TotalCents != 900 {
		t.Fatalf("order changed by a failed batch: %+v", row)
	}

	d.HealWrites(t)
	mustAccept(t, node, update...)
	events := loadEvents(t, s, existing)
	if len(events) != 2 || events[1].AggregateVersion != 2 {
		t.Fatalf("after healing, outbox rows of %s = %+v, want versions 1 and 2", existing, events)
	}
	if row, _ := loadOrder(t, s, existing); row.Version != 2 || row.TotalCents != 9900 {
		t.Fatalf("after healing, order = %+v", row)
	}
	r := awaitRecord(t, node.Kafka, node.Topic(events[1].EventType), existing.String())
	if r.headers["event_id"] != events[1].EventID.String() {
		t.Fatalf("record of the healed update: headers %v, want event %s", r.headers, events[1].EventID)
	}
}
