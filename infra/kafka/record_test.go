package kafka_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/messages"
)

var baseTime = time.Date(2026, 11, 27, 2, 30, 0, 123456789, time.UTC)

func newEvent(aggregateID string, version int, eventType string) *messages.OutboxEvent {
	return &messages.OutboxEvent{
		EventId:          aggregateID + "-" + eventType + "-" + time.Duration(version).String(),
		AggregateType:    "order",
		AggregateId:      aggregateID,
		AggregateVersion: int32(version),
		EventType:        eventType,
		Payload:          []byte(`{"status":"CREATED"}`),
		OccurredAt:       timestamppb.New(baseTime.Add(time.Duration(version) * time.Millisecond)),
	}
}

func TestRecordMapping(t *testing.T) {
	m, err := kafka.NewMapper(kafka.DefaultTopicTemplate)
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvent("5b0c1a52-7a9e-4c1e-9a36-0f6f1c1d2e3f", 7, "OrderUpdated")
	ev.Headers = map[string]string{"trace_id": "abc", "event_id": "spoofed", "a": "1", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	r, err := m.Record(ev)
	if err != nil {
		t.Fatal(err)
	}
	if r.Topic != "OrderUpdated" || string(r.Key) != ev.AggregateId {
		t.Fatalf("topic %q key %q", r.Topic, r.Key)
	}
	if !r.Timestamp.Equal(ev.OccurredAt.AsTime()) {
		t.Fatalf("timestamp %v, want %v", r.Timestamp, ev.OccurredAt.AsTime())
	}
	want := []kafka.Header{
		{Key: "event_id", Value: ev.EventId},
		{Key: "event_type", Value: "OrderUpdated"},
		{Key: "aggregate_type", Value: "order"},
		{Key: "aggregate_id", Value: ev.AggregateId},
		{Key: "aggregate_version", Value: "7"},
		{Key: "occurred_at", Value: "2026-11-27T02:30:00.130456789Z"},
		{Key: "a", Value: "1"},
		{Key: "trace_id", Value: "abc"},
		{Key: "traceparent", Value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, // the W3C context travels as is
	}
	if len(r.Headers) != len(want) {
		t.Fatalf("headers %v, want %v", r.Headers, want)
	}
	for i := range want {
		if r.Headers[i] != want[i] {
			t.Fatalf("header %d = %v, want %v", i, r.Headers[i], want[i])
		}
	}
	var back messages.OutboxEvent
	if err := protojson.Unmarshal(r.Value, &back); err != nil {
		t.Fatalf("value is not protojson: %v", err)
	}
	if !proto.Equal(&back, ev) {
		t.Fatalf("value decodes to %v, want %v", &back, ev)
	}
}

func TestTopicTemplates(t *testing.T) {
	ev := newEvent("agg", 1, "OrderCreated")
	for tmpl, want := range map[string]string{
		"{{event_type}}":                    "OrderCreated",
		"orders.{{event_type}}":             "orders.OrderCreated",
		"{{aggregate_type}}.{{event_type}}": "order.OrderCreated",
		"all-events":                        "all-events",
	} {
		m, err := kafka.NewMapper(tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tmpl, err)
		}
		if got := m.Topic(ev); got != want {
			t.Errorf("%q: topic %q, want %q", tmpl, got, want)
		}
	}
	for _, bad := range []string{"{{event}}", "orders {{event_type}}", "", "{{event_type"} {
		if _, err := kafka.NewMapper(bad); err == nil {
			t.Errorf("NewMapper(%q) accepted a bad template", bad)
		}
		if _, err := kafka.New(kafka.Config{Brokers: []string{"127.0.0.1:1"}, TopicTemplate: bad}); bad != "" && !errors.Is(err, kafka.ErrInvalidConfig) {
			t.Errorf("New with template %q: err = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestInvalidEventsArePermanent(t *testing.T) {
	m, err := kafka.NewMapper(kafka.DefaultTopicTemplate)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(*messages.OutboxEvent)) *messages.OutboxEvent {
		ev := newEvent("agg", 1, "OrderCreated")
		f(ev)
		return ev
	}
	tests := []struct {
		name string
		ev   *messages.OutboxEvent
		want error
	}{
		{"nil event", nil, kafka.ErrInvalidEvent},
		{"no event id", mutate(func(e *messages.OutboxEvent) { e.EventId = "" }), kafka.ErrInvalidEvent},
		{"no event type", mutate(func(e *messages.OutboxEvent) { e.EventType = "" }), kafka.ErrInvalidEvent},
		{"no aggregate id", mutate(func(e *messages.OutboxEvent) { e.AggregateId = "" }), kafka.ErrInvalidEvent},
		{"no occurred_at", mutate(func(e *messages.OutboxEvent) { e.OccurredAt = nil }), kafka.ErrInvalidEvent},
		{"bad occurred_at", mutate(func(e *messages.OutboxEvent) { e.OccurredAt = &timestamppb.Timestamp{Nanos: -1} }), kafka.ErrInvalidEvent},
		{"illegal topic", mutate(func(e *messages.OutboxEvent) { e.EventType = "Order Created" }), kafka.ErrInvalidTopic},
		{"invalid utf-8", mutate(func(e *messages.OutboxEvent) { e.AggregateType = "\xff" }), kafka.ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Record(tt.ev)
			var pe *kafka.PublishError
			if !errors.Is(err, tt.want) || !errors.As(err, &pe) || pe.Kind != kafka.KindPermanent || !kafka.IsPermanent(err) {
				t.Fatalf("err = %v, want permanent %v", err, tt.want)
			}
		})
	}
}

// benchEvent is shaped like the events actors/orders writes: an order document
// as payload, a content type and a W3C trace context as headers.
func benchEvent() *messages.OutboxEvent {
	return &messages.OutboxEvent{
		EventId:          "6f1c2a3e-cb1b-11f0-8de9-0242ac120002",
		AggregateType:    "order",
		AggregateId:      "5b0c1a52-7a9e-4c1e-9a36-0f6f1c1d2e3f",
		AggregateVersion: 3,
		EventType:        "OrderUpdated",
		Payload: []byte(`{"order_id":"5b0c1a52-7a9e-4c1e-9a36-0f6f1c1d2e3f","customer_id":"customer-42",` +
			`"status":"UPDATED","items":[{"sku":"SKU-1","quantity":2},{"sku":"SKU-7","quantity":1}],` +
			`"total_cents":12550,"amount":"125.50","currency":"EUR","version":3,` +
			`"created_at":"2026-11-27T02:30:00.123456789Z","updated_at":"2026-11-27T02:31:10.5Z"}`),
		Headers: map[string]string{
			"content_type": "application/json",
			"traceparent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		},
		OccurredAt: timestamppb.New(baseTime),
	}
}

// BenchmarkRecord measures mapping one event to a record, value encoding included.
func BenchmarkRecord(b *testing.B) {
	m, err := kafka.NewMapper(kafka.DefaultTopicTemplate)
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Record(ev); err != nil {
			b.Fatal(err)
		}
	}
}
