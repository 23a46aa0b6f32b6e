// Package miniscyllatest starts the in-process CQL server (miniscylla) for
// tests and connects the real gocql driver to it, so that every test of the
// store side of the data path (orders + outbox writes, the CDC log) talks to
// the server the same way.
package miniscyllatest

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla"
)

// Timeout bounds the driver's connects and requests.
const Timeout = 10 * time.Second

// Start starts a server configured by cfg (on a free loopback port when
// cfg.Addr is empty) and closes it at the end of the test; a failed close
// fails the test.
func Start(tb testing.TB, cfg miniscylla.Config) *miniscylla.Server {
	tb.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	srv, err := miniscylla.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start miniscylla: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("close miniscylla: %v", err)
		}
	})
	return srv
}

// Cluster returns a gocql configuration for the server at addr: token-aware
// routing as in production, consistency ONE (a single node) and Timeout for
// connects and requests.
func Cluster(tb testing.TB, addr string) *gocql.ClusterConfig {
	tb.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatalf("server address %q: %v", addr, err)
	}
	cluster := gocql.NewCluster(host)
	if cluster.Port, err = strconv.Atoi(port); err != nil {
		tb.Fatalf("server address %q: %v", addr, err)
	}
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	cluster.Consistency = gocql.One
	cluster.Timeout, cluster.ConnectTimeout = Timeout, Timeout
	return cluster
}

// Connect opens a gocql session to addr with Cluster's settings changed by
// opts, and closes it at the end of the test.
func Connect(tb testing.TB, addr string, opts ...func(*gocql.ClusterConfig)) *gocql.Session {
	tb.Helper()
	cluster := Cluster(tb, addr)
	for _, o := range opts {
		o(cluster)
	}
	sess, err := cluster.CreateSession()
	if err != nil {
		tb.Fatalf("gocql session to %s: %v", addr, err)
	}
	tb.Cleanup(sess.Close)
	return sess
}

// Exec runs one statement with its bind values, failing the test on error.
func Exec(tb testing.TB, sess *gocql.Session, stmt string, args ...any) {
	tb.Helper()
	if err := sess.Query(stmt, args...).Exec(); err != nil {
		tb.Fatalf("%s: %v", stmt, err)
	}
}
