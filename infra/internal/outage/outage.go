// Package outage turns the successes and failures of the node's calls to one
// dependency (the Kafka brokers for infra/kafka, the store for infra/scylla)
// into its lost and back transitions: one WARN line "<name> unreachable"
// when it is lost, with the first failure, one INFO line "<name> reachable"
// when it is back, with how long it was lost, and the state that the
// dependency's health probe reports.
package outage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/messages"
)

// Tracker follows one dependency. It is safe for concurrent use.
type Tracker struct {
	name string
	log  *slog.Logger
	now  func() time.Time

	// up is Known && !Lost, read without the lock: OK is called for every
	// acknowledged record.
	up    atomic.Bool
	mu    sync.Mutex
	state State
}

// Interval is how often Watch checks a dependency.
const Interval = 5 * time.Second

// State is what the tracker knows of its dependency.
type State struct {
	// Known is false until the first outcome.
	Known bool
	// Lost is true from a failure until the next success.
	Lost bool
	// Since is when the dependency was lost (Lost), else when it was
	// reached after the last loss.
	Since time.Time
	// Err is the failure that lost it.
	Err error
}

// New returns a tracker of the dependency name ("kafka", "scylla"), which
// it logs to log.
func New(name string, log *slog.Logger) *Tracker {
	return &Tracker{name: name, log: log, now: time.Now}
}

// Fail records a failed call; the first after a success (or the first
// outcome at all) logs the loss with err.
func (t *Tracker) Fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state.Lost {
		return
	}
	t.up.Store(false)
	t.state = State{Known: true, Lost: true, Since: t.now(), Err: err}
	t.log.Warn(t.name+" unreachable", slog.Any("err", err))
}

// OK records a successful call; the first after a failure logs the return
// with how long the dependency was lost.
func (t *Tracker) OK() {
	if t.up.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.up.Load() {
		return
	}
	now := t.now()
	if t.state.Lost {
		t.log.Info(t.name+" reachable", slog.Duration("unreachable_for", now.Sub(t.state.Since).Round(time.Millisecond)))
	}
	t.state = State{Known: true, Since: now}
	t.up.Store(true)
}

// State returns the current state.
func (t *Tracker) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

var _ health.Probe = (*Tracker)(nil)

// Name is the dependency's name, as a health component.
func (t *Tracker) Name() string { return t.name }

// Check reports the state without calling the dependency, so that a hung
// one cannot hold up the health answer: down with the time and cause of the
// loss, or before the first outcome, else ok.
func (t *Tracker) Check(context.Context) (messages.HealthStatus, string) {
	s := t.State()
	switch {
	case !s.Known:
		return messages.HealthStatus_HEALTH_STATUS_DOWN, "not reached yet"
	case s.Lost:
		// Joined errors (sarama's) span lines; a detail is one line.
		cause := strings.ReplaceAll(fmt.Sprint(s.Err), "\n", "; ")
		return messages.HealthStatus_HEALTH_STATUS_DOWN, fmt.Sprintf("unreachable since %s: %s", s.Since.Format(time.TimeOnly), cause)
	}
	return messages.HealthStatus_HEALTH_STATUS_OK, "reachable since " + s.Since.Format(time.TimeOnly)
}

// Watch calls check every interval, the first time one interval from now
// (the caller has just reached the dependency), until ctx ends and records
// each outcome: for a dependency the node may not call on its own for a while
// (an idle store, a broker while the breaker is open), so that its loss
// and its return are seen when they happen.
func (t *Tracker) Watch(ctx context.Context, interval time.Duration, check func(context.Context) error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if ctx.Err() != nil { // select picks at random when both are ready
			return
		}
		if err := check(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			t.Fail(err)
		} else {
			t.OK()
		}
	}
}
