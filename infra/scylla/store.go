package scylla

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2"
	"github.com/scylladb/gocqlx/v2/table"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/messages"
)

// OrderRow is one row of the orders table.
type OrderRow struct {
	OrderID    uuid.UUID `db:"order_id"`
	CustomerID string    `db:"customer_id"`
	Status     string    `db:"status"`
	// Items maps SKU to quantity (frozen<map<text,int>>).
	Items      map[string]int32 `db:"items"`
	TotalCents int64            `db:"total_cents"`
	Currency   string           `db:"currency"`
	Version    int32            `db:"version"`
	CreatedAt  time.Time        `db:"created_at"`
	UpdatedAt  time.Time        `db:"updated_at"`
}

// OutboxRow is one row of the outbox_messages table.
type OutboxRow struct {
	AggregateID      uuid.UUID         `db:"aggregate_id"`
	EventID          uuid.UUID         `db:"event_id"` // a version-1 (time) UUID
	AggregateType    string            `db:"aggregate_type"`
	AggregateVersion int32             `db:"aggregate_version"`
	EventType        string            `db:"event_type"`
	Payload          []byte            `db:"payload"`
	Headers          map[string]string `db:"headers"`
	CreatedAt        time.Time         `db:"created_at"`
}

// BadEventError reports an outbox event that cannot be stored (a malformed
// id); nothing was written.
type BadEventError struct {
	Field string
	Err   error
}

func (e *BadEventError) Error() string { return "bad outbox event " + e.Field + ": " + e.Err.Error() }
func (e *BadEventError) Unwrap() error { return e.Err }

// Store is the orders actor's store (orders.Store): it reads orders rows and
// commits an order row with its outbox event. It is safe for concurrent use
// and does not own the session.
type Store struct {
	session gocqlx.Session
	orders  *table.Table
	outbox  *table.Table
}

var _ orders.Store = (*Store)(nil)

// OrdersTable and OutboxTable describe the tables of keyspace, for Store
// and for readers of the rows (tests, tools).
func OrdersTable(keyspace string) *table.Table {
	return table.New(table.Metadata{
		Name:    keyspace + ".orders",
		Columns: []string{"order_id", "customer_id", "status", "items", "total_cents", "currency", "version", "created_at", "updated_at"},
		PartKey: []string{"order_id"},
	})
}

// OutboxTable describes outbox_messages of keyspace; see OrdersTable.
func OutboxTable(keyspace string) *table.Table {
	return eventTable(keyspace + ".outbox_messages")
}

// eventTable describes the event rows of the table name (keyspace.table):
// outbox_messages and the outbox shard tables share their columns.
func eventTable(name string) *table.Table {
	return table.New(table.Metadata{
		Name:    name,
		Columns: []string{"aggregate_id", "event_id", "aggregate_type", "aggregate_version", "event_type", "payload", "headers", "created_at"},
		PartKey: []string{"aggregate_id"},
		SortKey: []string{"event_id"},
	})
}

// NewStore returns a Store on the tables of keyspace (already migrated).
func NewStore(session gocqlx.Session, keyspace string) *Store {
	return &Store{session: session, orders: OrdersTable(keyspace), outbox: OutboxTable(keyspace)}
}

// Load reads one order; found is false when it does not exist.
func (s *Store) Load(ctx context.Context, id uuid.UUID) (orders.State, bool, error) {
	stmt, names := s.orders.Get()
	var r OrderRow
	err := s.session.ContextQuery(ctx, stmt, names).Bind(id).GetRelease(&r)
	if errors.Is(err, gocql.ErrNotFound) {
		return orders.State{}, false, nil
	}
	if err != nil {
		return orders.State{}, false, fmt.Errorf("load order %s: %w", id, err)
	}
	return r.state(), true, nil
}

// Commit writes the order row and its outbox event in exactly one LOGGED
// BATCH (both or neither), with prepared statements. Both rows share the
// batch's write timestamp, so the CDC log entry carries the commit time.
func (s *Store) Commit(ctx context.Context, c orders.Change) error {
	e, err := outboxRow(c.Event)
	if err != nil {
		return fmt.Errorf("commit order %s: %w", c.Order.OrderID, err)
	}
	o := orderRow(c.Order)
	orderStmt, orderNames := s.orders.Insert()
	orderVals, err := bind(orderNames, o.column)
	if err != nil {
		return fmt.Errorf("commit order %s: %w", o.OrderID, err)
	}
	outboxStmt, outboxNames := s.outbox.Insert()
	outboxVals, err := bind(outboxNames, e.column)
	if err != nil {
		return fmt.Errorf("commit order %s: %w", o.OrderID, err)
	}
	b := s.session.Session.BatchWithContext(ctx, gocql.LoggedBatch)
	b.Query(orderStmt, orderVals...)
	b.Query(outboxStmt, outboxVals...)
	if err := s.session.Session.ExecuteBatch(b); err != nil {
		return fmt.Errorf("commit order %s v%d (%s): %w", o.OrderID, o.Version, e.EventType, err)
	}
	return nil
}

// column returns the value of the orders column name; false when the table
// has no such column.
func (r OrderRow) column(name string) (any, bool) {
	switch name {
	case "order_id":
		return r.OrderID, true
	case "customer_id":
		return r.CustomerID, true
	case "status":
		return r.Status, true
	case "items":
		return r.Items, true
	case "total_cents":
		return r.TotalCents, true
	case "currency":
		return r.Currency, true
	case "version":
		return r.Version, true
	case "created_at":
		return r.CreatedAt, true
	case "updated_at":
		return r.UpdatedAt, true
	}
	return nil, false
}

// column returns the value of the event column name (eventTable); false
// when the table has no such column.
func (r OutboxRow) column(name string) (any, bool) {
	switch name {
	case "aggregate_id":
		return r.AggregateID, true
	case "event_id":
		return r.EventID, true
	case "aggregate_type":
		return r.AggregateType, true
	case "aggregate_version":
		return r.AggregateVersion, true
	case "event_type":
		return r.EventType, true
	case "payload":
		return r.Payload, true
	case "headers":
		return r.Headers, true
	case "created_at":
		return r.CreatedAt, true
	}
	return nil, false
}

func orderRow(s orders.State) OrderRow {
	items := make(map[string]int32, len(s.Items))
	for _, it := range s.Items {
		items[it.SKU] = it.Quantity
	}
	return OrderRow{
		OrderID: s.OrderID, CustomerID: s.CustomerID, Status: string(s.Status), Items: items,
		TotalCents: s.TotalCents, Currency: s.Currency, Version: s.Version,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

func (r OrderRow) state() orders.State {
	items := make([]orders.Item, 0, len(r.Items))
	for _, sku := range slices.Sorted(maps.Keys(r.Items)) {
		items = append(items, orders.Item{SKU: sku, Quantity: r.Items[sku]})
	}
	return orders.State{
		OrderID: r.OrderID, CustomerID: r.CustomerID, Status: orders.Status(r.Status), Items: items,
		TotalCents: r.TotalCents, Currency: r.Currency, Version: r.Version,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func outboxRow(e *messages.OutboxEvent) (OutboxRow, error) {
	if e == nil {
		return OutboxRow{}, &BadEventError{Field: "event", Err: errors.New("missing")}
	}
	eventID, err := parseEventID(e.GetEventId())
	if err != nil {
		return OutboxRow{}, err
	}
	aggregateID, err := uuid.Parse(e.GetAggregateId())
	if err != nil {
		return OutboxRow{}, &BadEventError{Field: "aggregate_id", Err: err}
	}
	return OutboxRow{
		AggregateID: aggregateID, EventID: eventID, AggregateType: e.GetAggregateType(),
		AggregateVersion: e.GetAggregateVersion(), EventType: e.GetEventType(), Payload: e.GetPayload(),
		Headers: e.GetHeaders(), CreatedAt: e.GetOccurredAt().AsTime(),
	}, nil
}

// bind orders the values of the columns a statement's bind markers name.
// A lookup rather than a map of every column: this runs on every commit.
func bind(names []string, column func(name string) (any, bool)) ([]any, error) {
	vals := make([]any, len(names))
	for i, n := range names {
		v, ok := column(n)
		if !ok {
			return nil, fmt.Errorf("no value for column %s", n)
		}
		vals[i] = v
	}
	return vals, nil
}

// parseEventID parses an event id, the timeuuid key of outbox_messages and
// dead_letter_queue; a server would refuse any other uuid as a bad query.
func parseEventID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, &BadEventError{Field: "event_id", Err: err}
	}
	if id.Version() != 1 {
		return uuid.UUID{}, &BadEventError{Field: "event_id", Err: fmt.Errorf("%s is not a time UUID", id)}
	}
	return id, nil
}
