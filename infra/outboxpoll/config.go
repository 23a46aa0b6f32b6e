// Package outboxpoll is the polling relay's read side (--source poll), kept
// as the reference the CDC relay is measured against: it scans
// outbox_messages by created_at (a full scan with ALLOW FILTERING, one time
// range at a time) -> decoded *messages.PublishEvent -> cdcstream actor,
// the same port as the CDC reader (infra/cdc), so publishing, acks, the DLQ
// and checkpointing (infra/checkpoint) are the same. Its position is saved
// in outbox_poll_offsets once every event before it is acknowledged.
//
// Its costs are the reason it is not the default: each scan reads the whole
// table (it grows with the outbox TTL and the write rate), and an event is
// read no sooner than SafetyLag after its created_at, the latency floor.
package outboxpoll

import (
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// Config tunes the poller. Zero fields take the defaults below, except
// Keyspace, StartAge and WriteTimeout, which are required.
type Config struct {
	// Keyspace holds outbox_messages and outbox_poll_offsets.
	Keyspace string
	// Table is the outbox table; OffsetsTable stores the saved position
	// under RelayName.
	Table        string
	OffsetsTable string
	RelayName    string
	// Consistency of the scans and of the position writes.
	Consistency gocql.Consistency
	// StartAge is how far back a poller without a saved position starts:
	// the outbox TTL, older rows are gone.
	StartAge time.Duration
	// Interval is the pause between two scans once caught up.
	Interval time.Duration
	// SafetyLag is the minimal age (by created_at) of an event before it is
	// read, the latency floor. created_at is taken before the commit, which
	// may take up to the store's write timeout to become visible: a scan
	// closer to now could pass a slow write by for good.
	SafetyLag time.Duration
	// WriteTimeout is the store's write timeout, which SafetyLag must exceed.
	WriteTimeout time.Duration
	// MaxRows caps the rows of one range read; a range with more is read
	// again as two halves (and after a failed read too).
	MaxRows int
	// InFlight bounds the events read but not yet checkpointed: the poller
	// waits while it is full (also the bound of duplicates after a crash).
	InFlight int
	// ProgressInterval is how often the acknowledged position is saved.
	ProgressInterval time.Duration
}

// Defaults of Config.
const (
	DefaultTable            = "outbox_messages"
	DefaultOffsetsTable     = "outbox_poll_offsets"
	DefaultRelayName        = "outbox-relay"
	DefaultInterval         = 250 * time.Millisecond
	DefaultSafetyLag        = 6 * time.Second
	DefaultMaxRows          = 5_000
	DefaultInFlight         = 10_000
	DefaultProgressInterval = 50 * time.Millisecond
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid outbox poll config")

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	for _, s := range []struct {
		p *string
		v string
	}{
		{&c.Table, DefaultTable}, {&c.OffsetsTable, DefaultOffsetsTable}, {&c.RelayName, DefaultRelayName},
	} {
		if *s.p == "" {
			*s.p = s.v
		}
	}
	if c.Consistency == gocql.Any {
		c.Consistency = gocql.LocalQuorum
	}
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{
		{&c.Interval, DefaultInterval}, {&c.SafetyLag, DefaultSafetyLag}, {&c.ProgressInterval, DefaultProgressInterval},
	} {
		if *d.p == 0 {
			*d.p = d.v
		}
	}
	if c.MaxRows == 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	switch {
	case c.Keyspace == "":
		return fmt.Errorf("%w: keyspace is required", ErrInvalidConfig)
	case c.StartAge <= 0:
		return fmt.Errorf("%w: start age (the outbox TTL) must be positive, got %s", ErrInvalidConfig, c.StartAge)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("%w: the store's write timeout is required, got %s", ErrInvalidConfig, c.WriteTimeout)
	case c.SafetyLag <= c.WriteTimeout:
		return fmt.Errorf("%w: safety lag %s must exceed the store's write timeout %s, or a slow write is skipped", ErrInvalidConfig, c.SafetyLag, c.WriteTimeout)
	case c.Interval <= 0 || c.ProgressInterval <= 0:
		return fmt.Errorf("%w: interval and progress interval must be positive", ErrInvalidConfig)
	case c.MaxRows < 1 || c.InFlight < 1:
		return fmt.Errorf("%w: max rows %d and in-flight window %d must be >= 1", ErrInvalidConfig, c.MaxRows, c.InFlight)
	}
	return nil
}
