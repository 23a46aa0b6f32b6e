package orders

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/outboxnode/outbox/actors/admission"
)

// Config bounds what a command may carry and how long order actors live.
// Zero fields take the defaults of DefaultConfig.
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

// DefaultConfig returns the defaults used for zero Config fields.
func DefaultConfig() Config {
	return Config{
		MaxItems:          100,
		MaxItemQuantity:   10_000,
		MaxTotalCents:     100_000_000_00,
		MaxCustomerLength: 256,
		IdleTimeout:       5 * time.Minute,
		StoreTimeout:      5 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.MaxItems = cmp.Or(c.MaxItems, d.MaxItems)
	c.MaxItemQuantity = cmp.Or(c.MaxItemQuantity, d.MaxItemQuantity)
	c.MaxTotalCents = cmp.Or(c.MaxTotalCents, d.MaxTotalCents)
	c.MaxCustomerLength = cmp.Or(c.MaxCustomerLength, d.MaxCustomerLength)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, d.IdleTimeout)
	c.StoreTimeout = cmp.Or(c.StoreTimeout, d.StoreTimeout)
	return c
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
