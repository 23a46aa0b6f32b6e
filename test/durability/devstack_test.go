package durability_test

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/wal"
	"github.com/outboxnode/outbox/test/harness"
)

// server is one devstack process serving CQL with a data directory.
type server struct {
	*harness.Devstack
}

// startDevstack runs devstack (CQL only) on a free port over dataDir, with
// extra flags, and waits for its ready line.
func startDevstack(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	d := harness.RunDevstack(t, harness.Build(t), append([]string{"--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "", "--data-dir", dataDir}, extra...)...)
	if d.CQL == "" {
		t.Fatal("ready line without a cql address")
	}
	return &server{d}
}

// walPath is the store's write-ahead log under devstack's --data-dir (in
// its miniscylla subdirectory, as on the node).
func walPath(dataDir string) string {
	return filepath.Join(dataDir, miniscylla.DataSubdir, wal.FileName)
}

// cluster returns a gocql cluster config for the server.
func (s *server) cluster(t testing.TB) *gocql.ClusterConfig {
	t.Helper()
	host, portStr, err := net.SplitHostPort(s.CQL)
	if err != nil {
		t.Fatal(err)
	}
	c := gocql.NewCluster(host)
	c.Port, _ = strconv.Atoi(portStr)
	c.Timeout = 20 * time.Second
	c.ConnectTimeout = 10 * time.Second
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	// A write must fail rather than be retried silently on another
	// connection: the tests count what was acknowledged.
	c.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 0}
	return c
}

// session connects gocqlx to the server; it is closed at cleanup.
func (s *server) session(t testing.TB) gocqlx.Session {
	t.Helper()
	sess, err := gocqlx.WrapSession(s.cluster(t).CreateSession())
	if err != nil {
		t.Fatalf("connect to %s: %v", s.CQL, err)
	}
	t.Cleanup(sess.Close)
	return sess
}

func mustExec(t testing.TB, s gocqlx.Session, stmt string) {
	t.Helper()
	if err := s.ExecStmt(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}
