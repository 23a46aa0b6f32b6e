// Package e2e runs outbox-node and outboxctl as built binaries, on free
// loopback ports, and checks what users rely on: commands, their rows in
// the store (read with gocqlx), rejections, supervision, metrics, health
// and shutdown.
package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/test/harness"
)

// store is a session to a node's store with the node's keyspace (per test
// on external services).
type store struct {
	gocqlx.Session
	keyspace string
}

// openStore connects to node's store; the session is closed at cleanup.
func openStore(t *testing.T, node *harness.Node) store {
	t.Helper()
	return store{Session: node.Session(t), keyspace: node.Keyspace}
}

// countRows returns the number of rows of table in the node's keyspace.
func countRows(t *testing.T, s store, table string) int64 {
	t.Helper()
	var n int64
	if err := s.Session.Session.Query(fmt.Sprintf("SELECT COUNT(*) FROM %s.%s", s.keyspace, table)).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// loadOrder reads one orders row; ok is false when it does not exist.
func loadOrder(t *testing.T, s store, id uuid.UUID) (scylla.OrderRow, bool) {
	t.Helper()
	stmt, names := scylla.OrdersTable(s.keyspace).Get()
	var rows []scylla.OrderRow
	if err := s.Query(stmt, names).Bind(id).SelectRelease(&rows); err != nil {
		t.Fatalf("load order %s: %v", id, err)
	}
	if len(rows) == 0 {
		return scylla.OrderRow{}, false
	}
	return rows[0], true
}

// loadEvents reads the outbox rows of one order, in event_id order.
func loadEvents(t *testing.T, s store, id uuid.UUID) []scylla.OutboxRow {
	t.Helper()
	stmt, names := scylla.OutboxTable(s.keyspace).Select()
	var rows []scylla.OutboxRow
	if err := s.Query(stmt, names).Bind(id).SelectRelease(&rows); err != nil {
		t.Fatalf("load events of %s: %v", id, err)
	}
	return rows
}

// mustAccept runs an outboxctl command that must succeed and returns stdout.
func mustAccept(t *testing.T, n *harness.Node, args ...string) string {
	t.Helper()
	r := n.Ctl(t, args...)
	if r.Code != 0 {
		t.Fatalf("outboxctl %s: exit %d\nstderr: %s\nnode log tail:\n%s", strings.Join(args, " "), r.Code, r.Stderr, tail(n.Log(), 30))
	}
	return r.Stdout
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// decodeJSON unmarshals s into a value of type T, failing the test.
func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatalf("%q is not an order id: %v", s, err)
	}
	return id
}
