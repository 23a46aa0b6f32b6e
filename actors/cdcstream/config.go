package cdcstream

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the stream actor. Zero fields take the defaults below,
// except LogTTL, which is required.
type Config struct {
	// LogTTL is the CDC log TTL: an event unpublished for that long is gone.
	LogTTL time.Duration
	// LagShare of LogTTL is the lag above which health is degraded and a
	// warning with the time left is logged.
	LagShare float64
	// Tick is how often lag is exported and checked.
	Tick time.Duration
	// RetryMin and RetryMax bound the backoff before a failed reader (store
	// unreachable, say) is started again.
	RetryMin time.Duration
	RetryMax time.Duration
	// StopTimeout bounds the end of a stop after the publisher drained: the
	// final progress save and the wait for the cancelled reader, together.
	// The whole stop takes at most the publisher's drain plus StopTimeout.
	StopTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultLagShare    = 0.5
	DefaultTick        = time.Second
	DefaultRetryMin    = time.Second
	DefaultRetryMax    = 30 * time.Second
	DefaultStopTimeout = 2 * time.Second
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid cdcstream config")

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	if c.LagShare == 0 {
		c.LagShare = DefaultLagShare
	}
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{
		{&c.Tick, DefaultTick}, {&c.RetryMin, DefaultRetryMin},
		{&c.RetryMax, DefaultRetryMax}, {&c.StopTimeout, DefaultStopTimeout},
	} {
		if *d.p == 0 {
			*d.p = d.v
		}
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	switch {
	case c.LogTTL <= 0:
		return fmt.Errorf("%w: LogTTL must be positive, got %s", ErrInvalidConfig, c.LogTTL)
	case c.LagShare <= 0 || c.LagShare > 1:
		return fmt.Errorf("%w: LagShare %g not in (0, 1]", ErrInvalidConfig, c.LagShare)
	case c.Tick <= 0 || c.RetryMin <= 0 || c.StopTimeout <= 0:
		return fmt.Errorf("%w: Tick, RetryMin and StopTimeout must be positive", ErrInvalidConfig)
	case c.RetryMax < c.RetryMin:
		return fmt.Errorf("%w: RetryMax %s < RetryMin %s", ErrInvalidConfig, c.RetryMax, c.RetryMin)
	}
	return nil
}

// threshold is the lag above which the stream is degraded.
func (c Config) threshold() time.Duration {
	return time.Duration(float64(c.LogTTL) * c.LagShare)
}
