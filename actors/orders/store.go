package orders

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/messages"
)

// Status is an order's place in the state machine CREATED -> UPDATED* -> CANCELLED,
// stored as text in orders.status.
type Status string

// The order states.
const (
	StatusCreated   Status = "CREATED"
	StatusUpdated   Status = "UPDATED"
	StatusCancelled Status = "CANCELLED"
)

// Item is one order line; an order lists each SKU at most once.
type Item struct {
	SKU      string
	Quantity int32
}

// State is one row of the orders table. Items are sorted by SKU.
type State struct {
	OrderID    uuid.UUID
	CustomerID string
	Status     Status
	Items      []Item
	TotalCents int64
	Currency   string
	Version    int32
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Change is what one accepted command writes: the order row after the command and the
// outbox event that announces it.
type Change struct {
	Order State
	Event *messages.OutboxEvent
}

// Store persists orders. Implementations must write a Change atomically (the order row and
// its outbox_messages row in one LOGGED BATCH): either both are stored or neither is.
// Each order actor calls it from its own goroutine; calls for different orders are concurrent.
type Store interface {
	// Load returns the order row, or found=false when no such order exists.
	Load(ctx context.Context, id uuid.UUID) (s State, found bool, err error)
	// Commit stores c.Order and c.Event together.
	Commit(ctx context.Context, c Change) error
}
