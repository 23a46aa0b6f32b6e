package orders

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/outboxnode/outbox/actors/admission"
)

// Config bounds what a command may carry and how long order actors live.
// Zero fields take the defaults below (SetDefaults).
type Config struct {
	// MaxItems is the longest item list a command may carry.
	MaxItems int
	// MaxItemQuantity is the largest quantity of one item.
	MaxItemQuantity int32
	// MaxTotalCents is the largest order amount, in cents.
	MaxTotalCents int64
	// MaxCustomerLength is the longest customer id, in bytes.
	MaxCustomerLength int
	// IdleTimeout passivates an order actor after this much inactivity; the next command
	// for the order loads it again from the store.
	IdleTimeout time.Duration
	// StoreTimeout bounds each Load and Commit.
	StoreTimeout time.Duration
	// Gate is the node's admission gate: once closed, commands are refused with
	// REJECT_CODE_SHUTTING_DOWN, also those already queued at an order actor. Nil never
	// closes.
	Gate *admission.Gate
}

// Defaults of Config.
const (
	DefaultMaxItems          = 100
	DefaultMaxItemQuantity   = 10_000
	DefaultMaxTotalCents     = 100_000_000_00
	DefaultMaxCustomerLength = 256
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultStoreTimeout      = 5 * time.Second
)

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	c.MaxItems = cmp.Or(c.MaxItems, DefaultMaxItems)
	c.MaxItemQuantity = cmp.Or(c.MaxItemQuantity, DefaultMaxItemQuantity)
	c.MaxTotalCents = cmp.Or(c.MaxTotalCents, DefaultMaxTotalCents)
	c.MaxCustomerLength = cmp.Or(c.MaxCustomerLength, DefaultMaxCustomerLength)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	c.StoreTimeout = cmp.Or(c.StoreTimeout, DefaultStoreTimeout)
}

// Validate reports every negative bound.
func (c Config) Validate() error {
	err := errors.Join(
		nonNegative("max items", c.MaxItems),
		nonNegative("max item quantity", c.MaxItemQuantity),
		nonNegative("max total cents", c.MaxTotalCents),
		nonNegative("max customer length", c.MaxCustomerLength),
		nonNegative("idle timeout", c.IdleTimeout),
		nonNegative("store timeout", c.StoreTimeout),
	)
	if err != nil {
		return fmt.Errorf("orders config: %w", err)
	}
	return nil
}

// nonNegative reports a negative setting v named name.
func nonNegative[T int | int32 | int64 | time.Duration](name string, v T) error {
	if v < 0 {
		return fmt.Errorf("%s %v < 0", name, v)
	}
	return nil
}
