package lease

import (
	"errors"
	"fmt"
	"time"
)

// Config sets a node's leases. Zero fields take the defaults below, except
// Keyspace, Owner and Shards, which are required.
type Config struct {
	// Keyspace holds outbox_shard_leases and the outbox_shard_<k> tables.
	Keyspace string
	// Owner names this node in the lease rows (the cluster node id); it
	// must differ between nodes and stay the same across a node's restarts.
	Owner string
	// Shards is the node's --outbox-shards: leases exist for 0..Shards-1.
	Shards int
	// TTL is how long a lease lasts after its last acquire or renew. A
	// dead node's shards wait this long for a successor; renew every
	// RenewInterval() so a live node keeps them through two failed renews.
	TTL time.Duration
	// ProgressTTL expires saved CDC progress rows; make it at least the
	// CDC log TTL, as the relay's cdc_offsets progress does.
	ProgressTTL time.Duration
}

// Defaults of Config.
const (
	DefaultTTL = 10 * time.Second
	// DefaultProgressTTL is scylla-cdc-go's progress TTL (a week).
	DefaultProgressTTL = 7 * 24 * time.Hour
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid lease config")

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.ProgressTTL == 0 {
		c.ProgressTTL = DefaultProgressTTL
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	switch {
	case c.Keyspace == "":
		return fmt.Errorf("%w: keyspace is required", ErrInvalidConfig)
	case c.Owner == "":
		return fmt.Errorf("%w: owner (node id) is required", ErrInvalidConfig)
	case c.Shards < 1:
		return fmt.Errorf("%w: shards must be positive, got %d", ErrInvalidConfig, c.Shards)
	case c.TTL <= 0:
		return fmt.Errorf("%w: lease TTL must be positive, got %s", ErrInvalidConfig, c.TTL)
	case c.ProgressTTL < time.Second:
		return fmt.Errorf("%w: progress TTL must be at least 1s, got %s", ErrInvalidConfig, c.ProgressTTL)
	}
	return nil
}

// RenewInterval is how often a holder renews its leases: a third of the
// TTL, so one slow or failed renew still leaves time for another.
func (c Config) RenewInterval() time.Duration {
	return c.TTL / 3
}
