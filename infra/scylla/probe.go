package scylla

import (
	"context"
	"fmt"

	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/messages"
)

// Probe is the health actor's store probe: the cheapest query a node
// serves, its own system.local row.
type Probe struct {
	session gocqlx.Session
}

var _ health.Probe = (*Probe)(nil)

// NewProbe returns a Probe over session (not owned: the caller closes it).
func NewProbe(session gocqlx.Session) *Probe { return &Probe{session: session} }

// Name returns "scylla".
func (p *Probe) Name() string { return "scylla" }

// Check reports ok with the server's release version, or down with the error.
func (p *Probe) Check(ctx context.Context) (messages.HealthStatus, string) {
	var version string
	err := p.session.Session.Query(`SELECT release_version FROM system.local WHERE key='local'`).
		WithContext(ctx).Scan(&version)
	if err != nil {
		return messages.HealthStatus_HEALTH_STATUS_DOWN, fmt.Sprintf("query system.local: %v", err)
	}
	return messages.HealthStatus_HEALTH_STATUS_OK, "release " + version
}
