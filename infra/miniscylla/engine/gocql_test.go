package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
)

// startServer runs miniscylla on a free port and returns a driver
// configuration for it (token-aware, as in production).
func startServer(tb testing.TB) *gocql.ClusterConfig {
	tb.Helper()
	return miniscyllatest.Cluster(tb, miniscyllatest.Start(tb, miniscylla.Config{}).Addr())
}

// session opens a gocqlx session from cluster, closed at test end.
func session(t *testing.T, cluster *gocql.ClusterConfig) gocqlx.Session {
	t.Helper()
	s, err := gocqlx.WrapSession(cluster.CreateSession())
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// exec runs one statement through s, failing the test on error.
func exec(t *testing.T, s gocqlx.Session, stmt string, args ...any) {
	t.Helper()
	miniscyllatest.Exec(t, s.Session, stmt, args...)
}

func TestGocqlConnectAndCRUD(t *testing.T) {
	s := session(t, startServer(t))
	exec(t, s, `CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`)
	exec(t, s, `CREATE TABLE ks.kv (k text PRIMARY KEY, v int)`)
	exec(t, s, `INSERT INTO ks.kv (k, v) VALUES (?, ?)`, "a", 1)
	var v int
	if err := s.Session.Query(`SELECT v FROM ks.kv WHERE k = ?`, "a").Scan(&v); err != nil {
		t.Fatalf("select: %v", err)
	}
	if v != 1 {
		t.Fatalf("v = %d, want 1", v)
	}
}

func setupKeyspace(t *testing.T) gocqlx.Session {
	t.Helper()
	s := session(t, startServer(t))
	exec(t, s, `CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1} AND tablets = {'enabled': false}`)
	return s
}

func TestGocqlSchemaMetadata(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TYPE ks.addr (street text, zip int)`)
	exec(t, s, `CREATE TYPE ks.person (name text, home frozen<addr>)`)
	exec(t, s, `CREATE TABLE ks.events (agg uuid, id timeuuid, kind text, body blob, tags frozen<map<text, text>>, who frozen<person>,
		PRIMARY KEY ((agg), id)) WITH CLUSTERING ORDER BY (id DESC) AND default_time_to_live = 3600 AND cdc = {'enabled': true, 'ttl': 600}`)
	// IF NOT EXISTS on an existing table is a no-op, not an error.
	exec(t, s, `CREATE TABLE IF NOT EXISTS ks.events (agg uuid PRIMARY KEY)`)
	if err := s.Session.Query(`CREATE TABLE ks.events (agg uuid PRIMARY KEY)`).Exec(); err == nil {
		t.Fatal("duplicate CREATE TABLE succeeded")
	} else if ae := (*gocql.RequestErrAlreadyExists)(nil); !errors.As(err, &ae) || ae.Table != "events" {
		t.Fatalf("duplicate CREATE TABLE: got %T %v, want AlreadyExists", err, err)
	}
	if err := s.AwaitSchemaAgreement(context.Background()); err != nil {
		t.Fatalf("schema agreement: %v", err)
	}
	km, err := s.Session.KeyspaceMetadata("ks")
	if err != nil {
		t.Fatalf("keyspace metadata: %v", err)
	}
	if km.StrategyClass != "org.apache.cassandra.locator.NetworkTopologyStrategy" {
		t.Errorf("strategy = %q", km.StrategyClass)
	}
	tm, ok := km.Tables["events"]
	if !ok {
		t.Fatalf("table events missing from keyspace metadata: %v", km.Tables)
	}
	if len(tm.PartitionKey) != 1 || tm.PartitionKey[0].Name != "agg" || len(tm.ClusteringColumns) != 1 || tm.ClusteringColumns[0].Name != "id" {
		t.Errorf("keys: pk=%v ck=%v", tm.PartitionKey, tm.ClusteringColumns)
	}
	if tm.ClusteringColumns[0].ClusteringOrder != "desc" {
		t.Errorf("clustering order = %q, want desc", tm.ClusteringColumns[0].ClusteringOrder)
	}
	if got := tm.Columns["tags"].Type; got != "frozen<map<text, text>>" {
		t.Errorf("tags type = %q", got)
	}
	if tm.Options.DefaultTimeToLive != 3600 {
		t.Errorf("default ttl = %d", tm.Options.DefaultTimeToLive)
	}
	if _, ok := tm.Extensions["cdc"]; !ok {
		t.Errorf("cdc extension missing: %v", tm.Extensions)
	}
	if ut, ok := km.Types["person"]; !ok || len(ut.FieldNames) != 2 || ut.FieldTypes[1] != "frozen<addr>" {
		t.Errorf("type person = %+v", km.Types["person"])
	}
	var n int64
	if err := s.Session.Query(`SELECT COUNT(*) FROM system.peers`).Scan(&n); err != nil || n != 0 {
		t.Errorf("count peers = %d, %v", n, err)
	}
	var v1, v2 gocql.UUID
	if err := s.Session.Query(`SELECT schema_version FROM system.local WHERE key='local'`).Scan(&v1); err != nil {
		t.Fatal(err)
	}
	exec(t, s, `ALTER TABLE ks.events ADD extra int`)
	if err := s.Session.Query(`SELECT schema_version FROM system.local WHERE key='local'`).Scan(&v2); err != nil {
		t.Fatal(err)
	}
	if v1 == v2 {
		t.Error("schema_version did not change after ALTER TABLE")
	}
	var cols []string
	if err := s.Query(`SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?`, nil).
		Bind("ks", "events").Select(&cols); err != nil {
		t.Fatal(err)
	}
	want := []string{"agg", "id", "body", "extra", "kind", "tags", "who"}
	if len(cols) != len(want) {
		t.Fatalf("columns = %v, want %v", cols, want)
	}
	exec(t, s, `DROP TABLE ks.events`)
	if err := s.Session.Query(`SELECT * FROM ks.events`).Exec(); err == nil || !strings.Contains(err.Error(), "unconfigured table") {
		t.Errorf("select from dropped table: %v", err)
	}
}
