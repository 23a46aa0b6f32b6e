package scylla

import (
	"context"
	"fmt"

	"github.com/scylladb/gocqlx/v2"
)

// Probe checks that the store answers, with the cheapest query a node
// serves: its own system.local row.
type Probe struct {
	session gocqlx.Session
}

// NewProbe returns a Probe over session (not owned: the caller closes it).
func NewProbe(session gocqlx.Session) *Probe { return &Probe{session: session} }

// Check returns nil when the store answered within ctx.
func (p *Probe) Check(ctx context.Context) error {
	var version string
	err := p.session.Session.Query(`SELECT release_version FROM system.local WHERE key='local'`).
		WithContext(ctx).Scan(&version)
	if err != nil {
		return fmt.Errorf("scylla probe: %w", err)
	}
	return nil
}
