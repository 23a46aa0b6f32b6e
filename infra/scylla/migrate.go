package scylla

import (
	"context"
	"fmt"

	"github.com/scylladb/gocqlx/v2"
)

// Migrate applies stmts (schema.Statements: CREATE ... IF NOT EXISTS) in
// order, waiting for schema agreement after each, so it is safe to run on
// every start and from several nodes.
func Migrate(ctx context.Context, session gocqlx.Session, stmts []string) error {
	for _, stmt := range stmts {
		if err := session.Session.Query(stmt).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("migrate: %s: %w", firstLine(stmt), err)
		}
		if err := session.AwaitSchemaAgreement(ctx); err != nil {
			return fmt.Errorf("migrate: schema agreement after %s: %w", firstLine(stmt), err)
		}
	}
	return nil
}

func firstLine(stmt string) string {
	for i, r := range stmt {
		if r == '\n' || r == '(' {
			return stmt[:i]
		}
	}
	return stmt
}
