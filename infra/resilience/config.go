package resilience

import (
	"cmp"
	"errors"
	"fmt"
	"time"
)

// Config holds the retry and circuit-breaker settings. Zero fields take the
// defaults of docs/architecture.md, failure semantics (see SetDefaults).
type Config struct {
	// MaxAttempts is the total number of attempts, the first one included.
	MaxAttempts int
	// BackoffMin is the delay before the first retry; it doubles per retry.
	BackoffMin time.Duration
	// BackoffMax caps the backoff delay.
	BackoffMax time.Duration
	// JitterFactor randomises each delay by ±factor (< 1); small values keep
	// the backoff predictable while spreading synchronized retries. A
	// negative value disables jitter (0 means the default).
	JitterFactor float64
	// FailureThreshold is the number of consecutive failures that opens the breaker.
	FailureThreshold uint
	// OpenDelay is how long the breaker stays open before it lets trial calls through.
	OpenDelay time.Duration
	// SuccessThreshold is the number of consecutive half-open successes that closes it.
	SuccessThreshold uint
}

// Default values (docs/architecture.md, failure semantics).
const (
	DefaultMaxAttempts      = 5
	DefaultBackoffMin       = 100 * time.Millisecond
	DefaultBackoffMax       = 500 * time.Millisecond
	DefaultJitterFactor     = 0.1
	DefaultFailureThreshold = 5
	DefaultOpenDelay        = 30 * time.Second
	DefaultSuccessThreshold = 3
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid resilience config")

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.JitterFactor = cmp.Or(c.JitterFactor, DefaultJitterFactor)
	c.BackoffMin = cmp.Or(c.BackoffMin, DefaultBackoffMin)
	c.BackoffMax = cmp.Or(c.BackoffMax, max(DefaultBackoffMax, c.BackoffMin))
	c.FailureThreshold = cmp.Or(c.FailureThreshold, DefaultFailureThreshold)
	c.OpenDelay = cmp.Or(c.OpenDelay, DefaultOpenDelay)
	c.SuccessThreshold = cmp.Or(c.SuccessThreshold, DefaultSuccessThreshold)
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.MaxAttempts < 1:
		return fmt.Errorf("%w: MaxAttempts %d < 1", ErrInvalidConfig, c.MaxAttempts)
	case c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin:
		return fmt.Errorf("%w: backoff %v -> %v must be positive and increasing", ErrInvalidConfig, c.BackoffMin, c.BackoffMax)
	case c.JitterFactor >= 1:
		return fmt.Errorf("%w: JitterFactor %v must be < 1", ErrInvalidConfig, c.JitterFactor)
	case c.FailureThreshold < 1:
		return fmt.Errorf("%w: FailureThreshold must be >= 1", ErrInvalidConfig)
	case c.OpenDelay <= 0:
		return fmt.Errorf("%w: OpenDelay %v must be positive", ErrInvalidConfig, c.OpenDelay)
	case c.SuccessThreshold < 1:
		return fmt.Errorf("%w: SuccessThreshold must be >= 1", ErrInvalidConfig)
	}
	return nil
}
