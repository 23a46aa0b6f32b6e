package publisher

import (
	"errors"
	"fmt"
	"time"
)

// Operation labels the publisher's retries (retry_attempts_total{operation}).
const Operation = "kafka_publish"

// Config tunes batching and pausing. Zero fields take the defaults below.
type Config struct {
	// MaxBatch caps the events in one batch.
	MaxBatch int
	// Linger is how long an idle publisher waits for more events after the
	// first one before publishing a partial batch. Under load it does not
	// apply: events queue up while the previous batch is in flight and go
	// out together as soon as it completes.
	Linger time.Duration
	// PauseDelay is the wait before a paused batch is tried again, after
	// the policy gave up on an unavailable broker (retries exhausted or
	// breaker open) or the DLQ could not store an entry.
	PauseDelay time.Duration
	// DrainTimeout bounds how long stopping waits for the batch in flight so
	// that its acks still reach the stream before progress is saved. A batch
	// paused by an outage is not waited for: its events are read again.
	DrainTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultMaxBatch     = 1000
	DefaultLinger       = 2 * time.Millisecond
	DefaultPauseDelay   = time.Second
	DefaultDrainTimeout = 5 * time.Second
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid publisher config")

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.PauseDelay == 0 {
		c.PauseDelay = DefaultPauseDelay
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	switch {
	case c.MaxBatch < 1:
		return fmt.Errorf("%w: MaxBatch %d < 1", ErrInvalidConfig, c.MaxBatch)
	case c.Linger < 0:
		return fmt.Errorf("%w: Linger %v < 0", ErrInvalidConfig, c.Linger)
	case c.PauseDelay <= 0:
		return fmt.Errorf("%w: PauseDelay %v must be positive", ErrInvalidConfig, c.PauseDelay)
	case c.DrainTimeout < 0:
		return fmt.Errorf("%w: DrainTimeout %v < 0", ErrInvalidConfig, c.DrainTimeout)
	}
	return nil
}
