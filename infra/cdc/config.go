// Package cdc is the relay's read side: ScyllaDB CDC log of outbox_messages
// -> scylla-cdc-go Reader -> decoded *messages.PublishEvent -> cdcstream
// actor. It owns the reader's tuning, the table-backed progress in
// cdc_offsets, the in-flight window that bounds what is read but not yet
// checkpointed, and the per-stream tracker that checkpoints a stream only up
// to its newest event such that it and every earlier event were acknowledged.
package cdc

import (
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// Config tunes the reader. Zero fields take the defaults below, except
// Keyspace and ChangeAgeLimit, which are required.
type Config struct {
	// Keyspace holds outbox_messages and cdc_offsets.
	Keyspace string
	// Table is the CDC-enabled base table (outbox_messages).
	Table string
	// ProgressTable stores per-stream progress (cdc_offsets, in Keyspace).
	ProgressTable string
	// ApplicationName keys this relay's rows in ProgressTable.
	ApplicationName string
	// Consistency of the CDC log reads.
	Consistency gocql.Consistency
	// ChangeAgeLimit is how far back a reader without saved progress starts:
	// set it to the CDC log TTL, because the library's one-minute default
	// would skip older, still unpublished events.
	ChangeAgeLimit time.Duration
	// ConfidenceWindow is the minimal age of a change before it is read
	// (the latency floor). cdc$time is the write timestamp: a change that
	// becomes visible later than this after it is never read. Taken by the
	// driver, it may arrive late by the worst request delay, which the
	// window must exceed (ClientTimestampsConfidenceWindow); taken by a
	// single-node store when the write applies (server timestamps), it
	// never does, and a few milliseconds suffice
	// (ServerTimestampsConfidenceWindow).
	ConfidenceWindow time.Duration
	// PollDelay is the pause after a poll that returned rows; IdleDelay
	// after an empty one; FailedDelay the first pause after a failed one
	// (doubling up to 30 s).
	PollDelay   time.Duration
	IdleDelay   time.Duration
	FailedDelay time.Duration
	// QueryWindow is the widest cdc$time range of one poll.
	QueryWindow time.Duration
	// GenerationPoll is how often the reader looks for a new generation or,
	// on a tablets keyspace, a new stream set after a tablet split or merge.
	// ScyllaDB dates a new set a few seconds ahead (5 s); polling more often
	// than that lets the reader switch without a pause.
	GenerationPoll time.Duration
	// InFlight bounds the events read but not yet checkpointed: the consumer
	// blocks (backpressure on the reader) while the window is full. It is
	// also the bound of duplicates after a crash.
	// It must cover a few publish round trips at the target rate: each
	// batch takes at most one event per aggregate; on the embedded store a
	// window of 1,000 drained 29k events/s, 10,000 drained 76k
	// (the relay's backlog drain, as make bench measures it).
	InFlight int
	// ProgressInterval is how often acknowledged progress is saved.
	ProgressInterval time.Duration
	// LagProbeInterval is how often the CDC log is asked for committed
	// changes the reader has not reached, in the streams it has not
	// confirmed reading for longer than ConfidenceWindow plus this: the
	// lag counts them even while the reader is stalled or failing.
	LagProbeInterval time.Duration
}

// Defaults of Config.
const (
	DefaultTable           = "outbox_messages"
	DefaultProgressTable   = "cdc_offsets"
	DefaultApplicationName = "outbox-relay"
	// DefaultConfidenceWindow suits client timestamps on one unloaded host.
	DefaultConfidenceWindow = 500 * time.Millisecond
	// ClientTimestampsConfidenceWindow covers what a loaded client and a
	// cluster add to a write's delay: request queues, replication and clock
	// skew between coordinators.
	ClientTimestampsConfidenceWindow = 5 * time.Second
	// ServerTimestampsConfidenceWindow only covers the clock read between
	// the reader and a single store host that stamps writes as they apply.
	ServerTimestampsConfidenceWindow = 10 * time.Millisecond
	DefaultPollDelay                 = 10 * time.Millisecond
	DefaultIdleDelay                 = 50 * time.Millisecond
	DefaultFailedDelay               = time.Second
	DefaultQueryWindow               = 30 * time.Second
	DefaultGenerationPoll            = time.Second
	DefaultInFlight                  = 10_000
	DefaultProgressInterval          = 50 * time.Millisecond
	DefaultLagProbeInterval          = 2 * time.Second
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid cdc config")

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	setString(&c.Table, DefaultTable)
	setString(&c.ProgressTable, DefaultProgressTable)
	setString(&c.ApplicationName, DefaultApplicationName)
	if c.Consistency == gocql.Any {
		c.Consistency = gocql.LocalQuorum
	}
	setDuration(&c.ConfidenceWindow, DefaultConfidenceWindow)
	setDuration(&c.PollDelay, DefaultPollDelay)
	setDuration(&c.IdleDelay, DefaultIdleDelay)
	setDuration(&c.FailedDelay, DefaultFailedDelay)
	setDuration(&c.QueryWindow, DefaultQueryWindow)
	setDuration(&c.GenerationPoll, DefaultGenerationPoll)
	setDuration(&c.ProgressInterval, DefaultProgressInterval)
	setDuration(&c.LagProbeInterval, DefaultLagProbeInterval)
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	switch {
	case c.Keyspace == "":
		return fmt.Errorf("%w: keyspace is required", ErrInvalidConfig)
	case c.ChangeAgeLimit <= 0:
		return fmt.Errorf("%w: change age limit (the CDC log TTL) must be positive, got %s", ErrInvalidConfig, c.ChangeAgeLimit)
	case c.ConfidenceWindow < 0, c.PollDelay < 0, c.IdleDelay < 0, c.FailedDelay < 0, c.GenerationPoll < 0:
		return fmt.Errorf("%w: confidence window and poll delays must not be negative", ErrInvalidConfig)
	case c.QueryWindow <= 0:
		return fmt.Errorf("%w: query window must be positive, got %s", ErrInvalidConfig, c.QueryWindow)
	case c.InFlight < 1:
		return fmt.Errorf("%w: in-flight window %d < 1", ErrInvalidConfig, c.InFlight)
	case c.ProgressInterval <= 0:
		return fmt.Errorf("%w: progress interval must be positive, got %s", ErrInvalidConfig, c.ProgressInterval)
	case c.LagProbeInterval <= 0:
		return fmt.Errorf("%w: lag probe interval must be positive, got %s", ErrInvalidConfig, c.LagProbeInterval)
	}
	return nil
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setDuration(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}
