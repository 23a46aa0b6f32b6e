// Package scyllatest gives tests of the store side of the data path (orders
// + outbox writes, the dead-letter table) the node's own session on an
// in-process miniscylla with the node's schema applied, so that they talk
// to the store as outbox-node does.
package scyllatest

import (
	"log/slog"
	"testing"

	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/schema"
)

// Config returns the store settings of the node's defaults at consistency
// ONE: miniscylla is a single node.
func Config() config.Scylla {
	cfg := config.Default().Scylla
	cfg.Consistency = "ONE"
	return cfg
}

// Start starts miniscylla on a free port, connects to it with
// scylla.Connect and Config, and applies the schema. Server and session
// are closed at the end of the test.
func Start(tb testing.TB) (*miniscylla.Server, gocqlx.Session, config.Scylla) {
	tb.Helper()
	srv := miniscyllatest.Start(tb, miniscylla.Config{})
	cfg := Config()
	session, err := scylla.Connect(tb.Context(), cfg, []string{srv.Addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("connect to miniscylla: %v", err)
	}
	tb.Cleanup(session.Close)
	Migrate(tb, session, cfg)
	return srv, session, cfg
}

// Migrate applies the schema of cfg (schema.Statements) with scylla.Migrate,
// failing the test on error. Like the node's start-up it may run again.
func Migrate(tb testing.TB, session gocqlx.Session, cfg config.Scylla) {
	tb.Helper()
	stmts, err := schema.Statements(cfg)
	if err != nil {
		tb.Fatalf("schema of %s: %v", cfg.Keyspace, err)
	}
	if err := scylla.Migrate(tb.Context(), session, stmts); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
}
