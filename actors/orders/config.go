package orders

import (
	"errors"
	"fmt"
	"time"
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
	if c.MaxItems == 0 {
		c.MaxItems = d.MaxItems
	}
	if c.MaxItemQuantity == 0 {
		c.MaxItemQuantity = d.MaxItemQuantity
	}
	if c.MaxTotalCents == 0 {
		c.MaxTotalCents = d.MaxTotalCents
	}
	if c.MaxCustomerLength == 0 {
		c.MaxCustomerLength = d.MaxCustomerLength
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = d.StoreTimeout
	}
	return c
}

// Validate reports every negative bound.
func (c Config) Validate() error {
	var errs []error
	if c.MaxItems < 0 {
		errs = append(errs, fmt.Errorf("max items %d < 0", c.MaxItems))
	}
	if c.MaxItemQuantity < 0 {
		errs = append(errs, fmt.Errorf("max item quantity %d < 0", c.MaxItemQuantity))
	}
	if c.MaxTotalCents < 0 {
		errs = append(errs, fmt.Errorf("max total cents %d < 0", c.MaxTotalCents))
	}
	if c.MaxCustomerLength < 0 {
		errs = append(errs, fmt.Errorf("max customer length %d < 0", c.MaxCustomerLength))
	}
	if c.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("idle timeout %s < 0", c.IdleTimeout))
	}
	if c.StoreTimeout < 0 {
		errs = append(errs, fmt.Errorf("store timeout %s < 0", c.StoreTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("orders config: %w", err)
	}
	return nil
}
