package engine_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/miniscylla"
)

// startServer runs miniscylla on a free port and returns a cluster config
// with the driver defaults plus token-aware routing.
func startServer(t *testing.T) *gocql.ClusterConfig {
	t.Helper()
	srv, err := miniscylla.Start(context.Background(), miniscylla.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start miniscylla: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	host, port, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cluster := gocql.NewCluster(host)
	cluster.Port, _ = strconv.Atoi(port)
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	cluster.Timeout = 5 * time.Second
	return cluster
}

func session(t *testing.T, cluster *gocql.ClusterConfig) gocqlx.Session {
	t.Helper()
	s, err := gocqlx.WrapSession(cluster.CreateSession())
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func exec(t *testing.T, s gocqlx.Session, stmt string, args ...any) {
	t.Helper()
	if err := s.Session.Query(stmt, args...).Exec(); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
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
