package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/messages"
)

func TestPrintJSONAndText(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out}
	a := &messages.CommandAccepted{OrderId: "o-1", Version: 2, EventId: "e-1"}
	if err := e.print(a, func() string { return acceptedText(a) }); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "o-1 version 2 event e-1\n" {
		t.Fatalf("text = %q", got)
	}
	out.Reset()
	e.output = "json"
	if err := e.print(a, func() string { return "unused" }); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("json %q: %v", out.String(), err)
	}
	// The field names of the Kafka record value (protojson), not the proto names.
	if doc["orderId"] != "o-1" || doc["version"] != float64(2) || doc["eventId"] != "e-1" {
		t.Fatalf("json = %v", doc)
	}
}

func TestTexts(t *testing.T) {
	at := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	order := orderText(&messages.OrderView{
		OrderId: "o-1", CustomerId: "alice", Status: messages.OrderStatus_ORDER_STATUS_CANCELLED,
		Items: []*messages.Item{{Sku: "A", Quantity: 2}}, Amount: "12.50", Currency: "EUR", Version: 3,
		CreatedAt: at, UpdatedAt: at,
	})
	event := eventText(&messages.SupervisionEvent{
		Seq: 7, Time: at, Actor: "coordinator/orders", Event: "restarted", Directive: "restart", Reason: "boom",
	})
	letters := dlqText([]*messages.DeadLetter{{
		Event: &messages.OutboxEvent{EventId: "e-1", AggregateType: "order", AggregateId: "o-1", AggregateVersion: 2},
		Topic: "OrderUpdated", Attempts: 5, Error: "too large", LastFailedAt: at,
		State: messages.DeadLetterState_DEAD_LETTER_STATE_DEAD,
	}})
	health := healthText(metrics.HealthFromReport(&messages.HealthReport{Status: messages.HealthStatus_HEALTH_STATUS_DEGRADED, Components: []*messages.Component{
		{Name: "scylla", Status: messages.HealthStatus_HEALTH_STATUS_OK},
		{Name: "breaker", Status: messages.HealthStatus_HEALTH_STATUS_DEGRADED, Detail: "open: publishing paused"},
		{Name: "kafka", Status: messages.HealthStatus_HEALTH_STATUS_DOWN, Detail: "unreachable since 12:00:03: dial tcp: connection refused"},
	}}))
	tests := []struct {
		name, got string
		want      []string
	}{
		{"order", order, []string{"status    CANCELLED", "amount    12.50 EUR", "item      A x2", "version   3"}},
		{"event", event, []string{"7 2026-01-02T03:04:05Z coordinator/orders restarted directive=restart reason=\"boom\""}},
		{"dlq", letters, []string{"e-1 DEAD order/o-1 v2 topic=OrderUpdated attempts=5", `error="too large"`}},
		{"no dlq", dlqText(nil), []string{"no dead letters"}},
		{"health", health, []string{"status       degraded: kafka unreachable since 12:00:03, breaker open\n", "breaker      degraded  open"}},
	}
	for _, tt := range tests {
		for _, w := range tt.want {
			if !strings.Contains(tt.got, w) {
				t.Errorf("%s text lacks %q:\n%s", tt.name, w, tt.got)
			}
		}
	}
	if strings.Index(health, "breaker") > strings.Index(health, "scylla") {
		t.Errorf("health components not sorted:\n%s", health)
	}
}
