package scylla

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2/table"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/messages"
)

func TestOrderRowRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := orders.State{
		OrderID: uuid.New(), CustomerID: "alice", Status: orders.StatusUpdated,
		Items:      []orders.Item{{SKU: "a-1", Quantity: 2}, {SKU: "b-2", Quantity: 1}},
		TotalCents: 1250, Currency: "EUR", Version: 3, CreatedAt: now, UpdatedAt: now,
	}
	got := orderRow(s).state()
	if got.OrderID != s.OrderID || got.Status != s.Status || len(got.Items) != 2 ||
		got.Items[0] != s.Items[0] || got.Items[1] != s.Items[1] || got.TotalCents != 1250 || got.Version != 3 {
		t.Fatalf("round trip: got %+v, want %+v", got, s)
	}
}

func TestOutboxRowRejectsBadEvents(t *testing.T) {
	timeID, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	good := func() *messages.OutboxEvent {
		return &messages.OutboxEvent{
			EventId: timeID.String(), AggregateId: uuid.NewString(), AggregateType: "order",
			AggregateVersion: 1, EventType: "OrderCreated", OccurredAt: timestamppb.Now(),
		}
	}
	if _, err := outboxRow(good()); err != nil {
		t.Fatalf("good event rejected: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(*messages.OutboxEvent) *messages.OutboxEvent
		field string
	}{
		{"nil", func(*messages.OutboxEvent) *messages.OutboxEvent { return nil }, "event"},
		{"event id not a uuid", func(e *messages.OutboxEvent) *messages.OutboxEvent { e.EventId = "x"; return e }, "event_id"},
		{"event id random uuid", func(e *messages.OutboxEvent) *messages.OutboxEvent { e.EventId = uuid.NewString(); return e }, "event_id"},
		{"aggregate id", func(e *messages.OutboxEvent) *messages.OutboxEvent { e.AggregateId = ""; return e }, "aggregate_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := outboxRow(tt.edit(good()))
			var bad *BadEventError
			if !errors.As(err, &bad) || bad.Field != tt.field {
				t.Fatalf("want BadEventError on %s, got %v", tt.field, err)
			}
		})
	}
}

func TestCommonPort(t *testing.T) {
	tests := []struct {
		hosts []string
		port  int
		ok    bool
	}{
		{[]string{"127.0.0.1:19042"}, 19042, true},
		{[]string{"a:9042", "b:9042"}, 9042, true},
		{[]string{"a:9042", "b:9043"}, 0, false},
		{[]string{"a"}, 0, false},
	}
	for _, tt := range tests {
		port, ok := commonPort(tt.hosts)
		if port != tt.port || ok != tt.ok {
			t.Errorf("commonPort(%v) = %d, %v; want %d, %v", tt.hosts, port, ok, tt.port, tt.ok)
		}
	}
}

func TestBindMissingColumn(t *testing.T) {
	cols := map[string]any{"a": 1, "b": 2}
	column := func(name string) (any, bool) { v, ok := cols[name]; return v, ok }
	if _, err := bind([]string{"a", "c"}, column); err == nil {
		t.Fatal("missing column accepted")
	}
	vals, err := bind([]string{"b", "a"}, column)
	if err != nil || vals[0] != 2 || vals[1] != 1 {
		t.Fatalf("bind = %v, %v", vals, err)
	}
}

// Every column of the tables has a value in its row type, so that a column
// added to a table cannot go unbound.
func TestRowsHaveEveryColumn(t *testing.T) {
	for _, tt := range []struct {
		table  *table.Table
		column func(string) (any, bool)
	}{
		{OrdersTable("ks"), OrderRow{}.column},
		{OutboxTable("ks"), OutboxRow{}.column},
	} {
		name := tt.table.Metadata().Name
		for _, c := range tt.table.Metadata().Columns {
			if _, ok := tt.column(c); !ok {
				t.Errorf("%s: no value for column %s", name, c)
			}
		}
		if _, ok := tt.column("no_such_column"); ok {
			t.Errorf("%s: a value for an unknown column", name)
		}
	}
}
