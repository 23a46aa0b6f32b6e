package scylla

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/infra/internal/outage"
)

// Probe follows the store's reachability: Run sends the cheapest query a
// node serves, its own system.local row, every few seconds and logs one
// line when the store is lost and one when it is back; the Probe reports
// that state to the health actor ("scylla") without querying, so that a
// hung store cannot hold up the health answer.
type Probe struct {
	health.Probe
	session gocqlx.Session
	reach   *outage.Tracker
}

// NewProbe returns a Probe over session (not owned: the caller closes it),
// which has just connected: the store counts as reachable until Run's
// first query says otherwise.
func NewProbe(session gocqlx.Session, log *slog.Logger) *Probe {
	reach := outage.New("scylla", log)
	reach.OK()
	return &Probe{Probe: reach, session: session, reach: reach}
}

// Run queries the store every outage.Interval until ctx ends.
func (p *Probe) Run(ctx context.Context) {
	p.reach.Watch(ctx, outage.Interval, p.query)
}

func (p *Probe) query(ctx context.Context) error {
	var version string
	err := p.session.Session.Query(`SELECT release_version FROM system.local WHERE key='local'`).
		WithContext(ctx).Scan(&version)
	if err != nil {
		return fmt.Errorf("query system.local: %w", err)
	}
	return nil
}
