package orders

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/messages"
)

// AggregateType names orders in outbox events.
const AggregateType = "order"

// Event types, which are also the default Kafka topics.
const (
	EventOrderCreated   = "OrderCreated"
	EventOrderUpdated   = "OrderUpdated"
	EventOrderCancelled = "OrderCancelled"
)

// payload is the JSON document of an order after a change, carried in OutboxEvent.payload.
type payload struct {
	OrderID      string        `json:"order_id"`
	CustomerID   string        `json:"customer_id"`
	Status       Status        `json:"status"`
	Items        []payloadItem `json:"items"`
	TotalCents   int64         `json:"total_cents"`
	Amount       string        `json:"amount"`
	Currency     string        `json:"currency"`
	Version      int32         `json:"version"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	CancelReason string        `json:"cancel_reason,omitempty"`
}

type payloadItem struct {
	SKU      string `json:"sku"`
	Quantity int32  `json:"quantity"`
}

// newEvent builds the outbox event announcing s, which is the order after the change.
func newEvent(s State, eventType, cancelReason string) (*messages.OutboxEvent, error) {
	id, err := uuid.NewUUID()
	if err != nil {
		return nil, fmt.Errorf("new event id: %w", err)
	}
	items := make([]payloadItem, len(s.Items))
	for i, it := range s.Items {
		items[i] = payloadItem(it)
	}
	doc, err := json.Marshal(payload{
		OrderID:      s.OrderID.String(),
		CustomerID:   s.CustomerID,
		Status:       s.Status,
		Items:        items,
		TotalCents:   s.TotalCents,
		Amount:       formatCents(s.TotalCents),
		Currency:     s.Currency,
		Version:      s.Version,
		CreatedAt:    s.CreatedAt,
		UpdatedAt:    s.UpdatedAt,
		CancelReason: cancelReason,
	})
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", eventType, err)
	}
	return &messages.OutboxEvent{
		EventId:          id.String(),
		AggregateType:    AggregateType,
		AggregateId:      s.OrderID.String(),
		AggregateVersion: s.Version,
		EventType:        eventType,
		Payload:          doc,
		Headers:          map[string]string{"content_type": "application/json"},
		OccurredAt:       timestamppb.New(s.UpdatedAt),
	}, nil
}

// view renders s for GetOrder.
func view(s State) *messages.OrderView {
	items := make([]*messages.Item, len(s.Items))
	for i, it := range s.Items {
		items[i] = &messages.Item{Sku: it.SKU, Quantity: it.Quantity}
	}
	return &messages.OrderView{
		OrderId:    s.OrderID.String(),
		CustomerId: s.CustomerID,
		Status:     wireStatus[s.Status],
		Items:      items,
		TotalCents: s.TotalCents,
		Amount:     formatCents(s.TotalCents),
		Currency:   s.Currency,
		Version:    s.Version,
		CreatedAt:  timestamppb.New(s.CreatedAt),
		UpdatedAt:  timestamppb.New(s.UpdatedAt),
	}
}

var wireStatus = map[Status]messages.OrderStatus{
	StatusCreated:   messages.OrderStatus_ORDER_STATUS_CREATED,
	StatusUpdated:   messages.OrderStatus_ORDER_STATUS_UPDATED,
	StatusCancelled: messages.OrderStatus_ORDER_STATUS_CANCELLED,
}
