package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
	if view["status"] != "ORDER_STATUS_CANCELLED" || view["customerId"] != "leo" || view["amount"] != "6.00" {
		t.Fatalf("order after the crash: %v", view)
	}
	if n := len(loadEvents(t, openStore(t, second), mustUUID(t, id))); n != 3 {
		t.Fatalf("%d outbox rows, want 3", n)
	}
}

// TestEmbeddedStorePersists stops an embedded-mode node and starts another
// on the same --data-dir: the orders are recovered from the embedded
// store's write-ahead log.
func TestEmbeddedStorePersists(t *testing.T) {
	harness.EmbeddedOnly(t, "it tests the embedded store's write-ahead log")
	bins := harness.Build(t)
	dir := t.TempDir()
	first := harness.StartNode(t, bins, "--data-dir", dir)
	id := mustAccept(t, first, "order", "create", "--customer", "mia", "--amount", "2.50")
	if code := first.Stop(t); code != 0 {
		t.Fatalf("first node exited %d", code)
	}

	second := harness.StartNode(t, bins, "--data-dir", dir)
	view := decodeJSON[map[string]any](t, mustAccept(t, second, "order", "get", id, "-o", "json"))
	if view["customerId"] != "mia" || view["amount"] != "2.50" || view["version"] != float64(1) {
		t.Fatalf("order after restart: %v", view)
	}
	mustAccept(t, second, "order", "update", id, "--amount", "3.00")

	memDir := t.TempDir()
	memory := harness.StartNode(t, bins, "--data-dir", memDir, "--embedded-persist=false")
	lost := mustAccept(t, memory, "order", "create", "--customer", "ned", "--amount", "1.00")
	memory.Stop(t)
	if _, err := os.Stat(filepath.Join(memDir, "miniscylla")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a memory-only node wrote store files: %v", err)
	}
	again := harness.StartNode(t, bins, "--data-dir", memDir, "--embedded-persist=false")
	if r := again.Ctl(t, "order", "get", lost); r.Code != 1 || !strings.Contains(r.Stderr, "NOT_FOUND") {
		t.Fatalf("order %s survived a memory-only restart: exit %d %s", lost, r.Code, r.Stderr)
	}
}
