package shardrelay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/outboxnode/outbox/infra/lease"
)

// Fenced adapts infra/lease's leases to Leases.
type Fenced struct{ Leases *lease.Leases }

var _ Leases = Fenced{}

// Held is a lease of infra/lease that this node holds, renewed in place.
type Held struct {
	mu sync.Mutex
	l  lease.Lease
}

// Lease returns the lease as last renewed.
func (h *Held) Lease() lease.Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.l
}

// Valid implements Lease.
func (h *Held) Valid(now time.Time) bool { return h.Lease().Valid(now) }

// Acquire implements Leases.
func (f Fenced) Acquire(ctx context.Context, shard int) (Lease, error) {
	l, err := f.Leases.Acquire(ctx, shard)
	if err != nil {
		return nil, err
	}
	return &Held{l: l}, nil
}

// Renew implements Leases.
func (f Fenced) Renew(ctx context.Context, l Lease, lag time.Duration) error {
	h, err := held(l)
	if err != nil {
		return err
	}
	renewed, err := f.Leases.Renew(ctx, h.Lease(), lag)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.l = renewed
	h.mu.Unlock()
	return nil
}

// Release implements Leases.
func (f Fenced) Release(ctx context.Context, l Lease) error {
	h, err := held(l)
	if err != nil {
		return err
	}
	return f.Leases.Release(ctx, h.Lease())
}

func held(l Lease) (*Held, error) {
	h, ok := l.(*Held)
	if !ok {
		return nil, fmt.Errorf("shardrelay: %T is not a lease of infra/lease", l)
	}
	return h, nil
}
