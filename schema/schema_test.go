package schema

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/config"
)

func TestStatementsDefault(t *testing.T) {
	stmts, err := Statements(config.Default().Scylla)
	if err != nil {
		t.Fatalf("Statements: %v", err)
	}
	if len(stmts) != 5 {
		t.Fatalf("got %d statements, want 5:\n%s", len(stmts), strings.Join(stmts, "\n---\n"))
	}
	wantPrefixes := []string{
		"CREATE KEYSPACE IF NOT EXISTS orders_ks",
		"CREATE TABLE IF NOT EXISTS orders_ks.orders",
		"CREATE TABLE IF NOT EXISTS orders_ks.outbox_messages",
		"CREATE TABLE IF NOT EXISTS orders_ks.dead_letter_queue",
		"CREATE TABLE IF NOT EXISTS orders_ks.outbox_poll_offsets",
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(stmts[i], p) {
			t.Errorf("statement %d = %q, want prefix %q", i, stmts[i], p)
		}
		if strings.Contains(stmts[i], ";") || strings.Contains(stmts[i], "--") {
			t.Errorf("statement %d keeps a ';' or comment: %q", i, stmts[i])
		}
	}
	if !strings.Contains(stmts[0], "{'class': 'SimpleStrategy', 'replication_factor': 1}") || !strings.HasSuffix(stmts[0], "AND tablets = {'enabled': false}") {
		t.Errorf("keyspace replication: %s", stmts[0])
	}
	for _, want := range []string{"cdc = {'enabled': true, 'ttl': 86400}", "default_time_to_live = 86400", "PRIMARY KEY ((aggregate_id), event_id)"} {
		if !strings.Contains(stmts[2], want) {
			t.Errorf("outbox_messages lacks %q: %s", want, stmts[2])
		}
	}
}

func TestStatementsFromConfig(t *testing.T) {
	cfg := config.Default().Scylla
	cfg.Keyspace = "shop"
	cfg.OutboxTTL = time.Hour
	cfg.Replication = config.Replication{Strategy: config.NetworkTopologyStrategy, DataCenters: map[string]int{"eu": 3}, Tablets: "off"}
	script, err := Script(cfg)
	if err != nil {
		t.Fatalf("Script: %v", err)
	}
	for _, want := range []string{"shop.orders", "'ttl': 3600", "'class': 'NetworkTopologyStrategy', 'eu': 3", "AND tablets = {'enabled': false};", "state text\n);\n"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
}

func TestStatementsRejectsUnsafeKeyspace(t *testing.T) {
	cfg := config.Default().Scylla
	cfg.Keyspace = "x; DROP KEYSPACE system"
	_, err := Statements(cfg)
	var inv *config.InvalidError
	if !errors.As(err, &inv) || inv.Field != "keyspace" {
		t.Fatalf("want keyspace InvalidError, got %v", err)
	}
}

// Cluster mode adds one CDC shard table per shard, the order state static (no
// table TTL: it must outlive its events), and the lease table.
func TestStatementsWithShards(t *testing.T) {
	cfg := config.Default().Scylla
	cfg.OutboxShards = 3
	stmts, err := Statements(cfg)
	if err != nil {
		t.Fatalf("Statements: %v", err)
	}
	if len(stmts) != 5+3+1 {
		t.Fatalf("got %d statements, want 9:\n%s", len(stmts), strings.Join(stmts, "\n---\n"))
	}
	for k, s := range stmts[5:8] {
		if !strings.HasPrefix(s, "CREATE TABLE IF NOT EXISTS orders_ks.outbox_shard_"+string(rune('0'+k))+" (") {
			t.Errorf("statement %d = %q", 5+k, s)
		}
		for _, want := range []string{"order_version int static", "cdc = {'enabled': true, 'ttl': 86400}", "PRIMARY KEY ((aggregate_id), event_id)"} {
			if !strings.Contains(s, want) {
				t.Errorf("shard %d lacks %q: %s", k, want, s)
			}
		}
		if strings.Contains(s, "default_time_to_live") {
			t.Errorf("shard %d has a table TTL, which would expire the order state: %s", k, s)
		}
	}
	if !strings.HasPrefix(stmts[8], "CREATE TABLE IF NOT EXISTS orders_ks.outbox_shard_leases (") || !strings.Contains(stmts[8], "epoch bigint static") {
		t.Errorf("lease table: %s", stmts[8])
	}
	cfg.OutboxShards = config.MaxOutboxShards + 1
	if _, err := Statements(cfg); err == nil {
		t.Error("Statements accepted too many shards")
	}
}
