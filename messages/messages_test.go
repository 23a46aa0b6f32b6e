package messages_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/messages"
)

// The OutboxEvent wire shape is agreed between the command side and the relay: changing a
// field number or type breaks events already in the outbox.
func TestOutboxEventContract(t *testing.T) {
	want := []struct {
		number protoreflect.FieldNumber
		name   protoreflect.Name
		kind   protoreflect.Kind
	}{
		{1, "event_id", protoreflect.StringKind},
		{2, "aggregate_type", protoreflect.StringKind},
		{3, "aggregate_id", protoreflect.StringKind},
		{4, "aggregate_version", protoreflect.Int32Kind},
		{5, "event_type", protoreflect.StringKind},
		{6, "payload", protoreflect.BytesKind},
		{7, "headers", protoreflect.MessageKind},
		{8, "occurred_at", protoreflect.MessageKind},
	}
	desc := (&messages.OutboxEvent{}).ProtoReflect().Descriptor()
	if desc.FullName() != "outbox.v1.OutboxEvent" || desc.Fields().Len() != len(want) {
		t.Fatalf("%s has %d fields", desc.FullName(), desc.Fields().Len())
	}
	for _, w := range want {
		f := desc.Fields().ByNumber(w.number)
		if f == nil || f.Name() != w.name || f.Kind() != w.kind {
			t.Fatalf("field %d = %v, want %s %s", w.number, f, w.name, w.kind)
		}
	}
	if !desc.Fields().ByName("headers").IsMap() || desc.Fields().ByName("occurred_at").Message().FullName() != "google.protobuf.Timestamp" {
		t.Fatal("headers must be map<string,string> and occurred_at a Timestamp")
	}

	ev := &messages.OutboxEvent{
		EventId: "d3b07384-d9a0-11ee-8000-000000000000", AggregateType: "order", AggregateId: "6f1c",
		AggregateVersion: 3, EventType: "OrderUpdated", Payload: []byte(`{"version":3}`),
		Headers: map[string]string{"content_type": "application/json"}, OccurredAt: timestamppb.Now(),
	}
	b, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back messages.OutboxEvent
	if err := proto.Unmarshal(b, &back); err != nil || !proto.Equal(ev, &back) {
		t.Fatalf("round trip: %v, %v", &back, err)
	}
}

// Remote peers resolve messages by full name in the global registry: every request and
// reply must be registered under outbox.v1 as soon as the package is linked.
func TestRequestsAndRepliesAreRegistered(t *testing.T) {
	for _, name := range []protoreflect.FullName{
		"outbox.v1.CreateOrder", "outbox.v1.UpdateOrder", "outbox.v1.CancelOrder", "outbox.v1.GetOrder",
		"outbox.v1.OrderView", "outbox.v1.CommandAccepted", "outbox.v1.CommandRejected",
		"outbox.v1.HealthQuery", "outbox.v1.HealthReport", "outbox.v1.EventsQuery", "outbox.v1.EventsPage",
		"outbox.v1.DLQList", "outbox.v1.DLQListResult", "outbox.v1.DLQReplay", "outbox.v1.DLQSkip",
		"outbox.v1.DLQResult", "outbox.v1.InjectFault", "outbox.v1.FaultInjected", "outbox.v1.OutboxEvent",
		"outbox.v1.ClusterQuery", "outbox.v1.ClusterReport",
	} {
		if _, err := protoregistry.GlobalTypes.FindMessageByName(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestQuoteInputIsBounded(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"EUR", `"EUR"`},
		{"a\nb\x00", `"a\nb\x00"`},
		{"\xff", `"\xff"`},
		{strings.Repeat("x", 64), strconv.Quote(strings.Repeat("x", 64))},
		{strings.Repeat("x", 65), strconv.Quote(strings.Repeat("x", 64)) + "… (65 bytes)"},
		{strings.Repeat("é", 100), strconv.Quote(strings.Repeat("é", 64)) + "… (200 bytes)"},
	} {
		if got := messages.QuoteInput(tc.in); got != tc.want {
			t.Errorf("QuoteInput(%.20q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A record value is compared byte for byte by consumers, so its encoding must not vary with
// protojson's deliberately unstable whitespace.
func TestJSONIsCompactAndStable(t *testing.T) {
	ev := &messages.OutboxEvent{
		EventId:          "e1",
		AggregateType:    "order",
		AggregateId:      "o1",
		AggregateVersion: 3,
		EventType:        "OrderCancelled",
		Payload:          []byte(`{"a":1}`),
		Headers:          map[string]string{"b": "2", "a": "1"},
		OccurredAt:       timestamppb.New(time.Date(2026, 12, 5, 12, 45, 58, 637e6, time.UTC)),
	}
	want := `{"eventId":"e1","aggregateType":"order","aggregateId":"o1","aggregateVersion":3,` +
		`"eventType":"OrderCancelled","payload":"eyJhIjoxfQ==","headers":{"a":"1","b":"2"},` +
		`"occurredAt":"2026-12-05T12:45:58.637Z"}`
	got, err := messages.JSON(protojson.MarshalOptions{}, ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("JSON =\n%s\nwant\n%s", got, want)
	}
}
