package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/test/harness"
)

// orderPlan is what the test sends for one order and expects back.
type orderPlan struct {
	id            uuid.UUID
	customer      string
	createAmount  string
	createCents   int64
	updateAmount  string
	updateCents   int64
	updateSKU     string
	updateQty     int32
	cancelMessage string
}

func plan(i int) orderPlan {
	return orderPlan{
		customer:      fmt.Sprintf("customer-%03d", i),
		createAmount:  fmt.Sprintf("%d.50", i+1),
		createCents:   int64(i+1)*100 + 50,
		updateAmount:  fmt.Sprintf("%d.05", i+10),
		updateCents:   int64(i+10)*100 + 5,
		updateSKU:     fmt.Sprintf("SKU-%d", i),
		updateQty:     int32(i%7 + 1),
		cancelMessage: fmt.Sprintf("changed mind %d", i),
	}
}

// TestTwoHundredOrdersLifecycle creates, updates and cancels 200 orders
// through outboxctl, then checks every orders row and every outbox row.
func TestTwoHundredOrdersLifecycle(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	const orders, workers = 200, 8

	plans := make([]orderPlan, orders)
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := plan(i)
				out := mustAccept(t, node, "order", "create", "--customer", p.customer, "--amount", p.createAmount, "--item", "START:1")
				id, err := uuid.Parse(out)
				if err != nil {
					t.Errorf("order create printed %q, not an order id", out)
					return
				}
				p.id = id
				mustAccept(t, node, "order", "update", id.String(), "--amount", p.updateAmount, "--item", fmt.Sprintf("%s:%d", p.updateSKU, p.updateQty))
				mustAccept(t, node, "order", "cancel", id.String(), "--reason", p.cancelMessage)
				plans[i] = p
			}
		}()
	}
	for i := range orders {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		return
	}

	s := openStore(t, node)
	if got := countRows(t, s, "orders"); got != orders {
		t.Errorf("orders rows = %d, want %d", got, orders)
	}
	if got := countRows(t, s, "outbox_messages"); got != 3*orders {
		t.Errorf("outbox_messages rows = %d, want %d", got, 3*orders)
	}
	for _, p := range plans {
		checkOrderRow(t, s, p)
		checkOutboxRows(t, s, p)
	}

	// Every committed event goes through CDC to Kafka, none to the DLQ.
	harness.Eventually(t, 60*time.Second, func() error {
		body, _ := node.HTTPGet(t, "/metrics")
		if !strings.Contains(body, fmt.Sprintf("cdc_events_processed_total %d\n", 3*orders)) ||
			!strings.Contains(body, "dlq_messages_total 0\n") {
			return fmt.Errorf("relay counters:\n%s", grepLines(body, "_total "))
		}
		return nil
	})

	got := decodeJSON[map[string]any](t, mustAccept(t, node, "order", "get", plans[0].id.String(), "-o", "json"))
	if got["status"] != "ORDER_STATUS_CANCELLED" || got["version"] != float64(3) || got["customerId"] != plans[0].customer {
		t.Errorf("order get = %v", got)
	}
}

func checkOrderRow(t *testing.T, s store, p orderPlan) {
	t.Helper()
	row, ok := loadOrder(t, s, p.id)
	if !ok {
		t.Errorf("order %s: no row", p.id)
		return
	}
	if row.Status != "CANCELLED" || row.Version != 3 || row.CustomerID != p.customer || row.TotalCents != p.updateCents ||
		row.Currency != "EUR" || len(row.Items) != 1 || row.Items[p.updateSKU] != p.updateQty ||
		row.CreatedAt.IsZero() || row.UpdatedAt.Before(row.CreatedAt) {
		t.Errorf("order %s row = %+v, want cancelled v3 of %+v", p.id, row, p)
	}
}

func checkOutboxRows(t *testing.T, s store, p orderPlan) {
	t.Helper()
	events := loadEvents(t, s, p.id)
	wantTypes := []string{"OrderCreated", "OrderUpdated", "OrderCancelled"}
	wantCents := []int64{p.createCents, p.updateCents, p.updateCents}
	wantStatus := []string{"CREATED", "UPDATED", "CANCELLED"}
	if len(events) != len(wantTypes) {
		t.Errorf("order %s: %d outbox rows, want 3", p.id, len(events))
		return
	}
	for i, e := range events {
		var doc struct {
			OrderID    string `json:"order_id"`
			Status     string `json:"status"`
			TotalCents int64  `json:"total_cents"`
			Version    int32  `json:"version"`
		}
		if err := json.Unmarshal(e.Payload, &doc); err != nil {
			t.Errorf("order %s event %d payload %q: %v", p.id, i, e.Payload, err)
			continue
		}
		if e.AggregateVersion != int32(i+1) || e.EventType != wantTypes[i] || e.AggregateType != "order" ||
			e.EventID.Version() != 1 || doc.OrderID != p.id.String() || doc.Version != int32(i+1) ||
			doc.Status != wantStatus[i] || doc.TotalCents != wantCents[i] {
			t.Errorf("order %s event %d = %+v payload %+v; want v%d %s %s %d",
				p.id, i, e, doc, i+1, wantTypes[i], wantStatus[i], wantCents[i])
		}
	}
}
