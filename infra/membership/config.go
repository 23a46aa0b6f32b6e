package membership

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Config makes a node a cluster member. Zero fields take the defaults below,
// except Addr, which is required.
type Config struct {
	// Name is the cluster's (--cluster-name): members of another cluster
	// reached through the peers list are ignored.
	Name string
	// Addr is host:port of this member's health endpoint (--cluster-addr),
	// which its peers probe. It listens on that host only: protoactor's
	// automanaged provider would listen on 0.0.0.0, exposing the member's
	// identity on every interface.
	Addr string
	// Peers are the members' Addr values; this member's own may be among
	// them (every node can be given the same list).
	Peers []string
	// RefreshTTL is how often peers are probed and the member list is
	// published; one probe may take as long.
	RefreshTTL time.Duration
	// DeadAfter is how long a peer may fail its probes before it leaves the
	// member list. Protoactor blocks a member that left for good, so one
	// lost probe must not drop it.
	DeadAfter time.Duration
}

// Defaults of Config.
const (
	DefaultName = "outbox"
	// DefaultRefreshTTL is the automanaged provider's.
	DefaultRefreshTTL = 2 * time.Second
	// DefaultDeadAfter lets a peer miss two probes in a row.
	DefaultDeadAfter = 3 * DefaultRefreshTTL
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid membership config")

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = DefaultRefreshTTL
	}
	if c.DeadAfter == 0 {
		c.DeadAfter = max(DefaultDeadAfter, 3*c.RefreshTTL)
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("%w: empty cluster name", ErrInvalidConfig)
	}
	if err := checkAddr(c.Addr); err != nil {
		return fmt.Errorf("%w: cluster addr: %w", ErrInvalidConfig, err)
	}
	for _, p := range c.Peers {
		if err := checkAddr(p); err != nil {
			return fmt.Errorf("%w: peer: %w", ErrInvalidConfig, err)
		}
	}
	if c.RefreshTTL <= 0 {
		return fmt.Errorf("%w: refresh TTL %s is not positive", ErrInvalidConfig, c.RefreshTTL)
	}
	if c.DeadAfter < c.RefreshTTL {
		return fmt.Errorf("%w: dead-after %s is shorter than the refresh TTL %s", ErrInvalidConfig, c.DeadAfter, c.RefreshTTL)
	}
	return nil
}

// checkAddr wants an explicit host: an empty one would listen on every
// interface, or probe nowhere.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("%q has no port in 1-65535", addr)
	}
	return nil
}
