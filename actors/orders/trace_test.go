package orders_test

import (
	"testing"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/infra/tracing"
	"github.com/outboxnode/outbox/messages"
)

// The command's traceparent (or, without one, a trace the node starts) is
// stored in the event's headers and returned in the reply; a malformed one
// is refused before anything is written.
func TestTraceparentTravelsIntoTheEvent(t *testing.T) {
	const given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	h := start(t, orders.Config{})
	create := validCreate()
	create.Traceparent = given
	joined := h.accept(create)
	cancel := &messages.CancelOrder{OrderId: joined.GetOrderId()}
	started := h.accept(cancel)

	changes := h.store.Changes()
	if len(changes) != 2 {
		t.Fatalf("%d changes, want 2", len(changes))
	}
	if got := changes[0].Event.GetHeaders()[tracing.Header]; got != given || joined.GetTraceparent() != given {
		t.Errorf("joined trace: event header %q, reply %q, want %q", got, joined.GetTraceparent(), given)
	}
	if changes[0].Event.GetHeaders()["content_type"] != "application/json" {
		t.Errorf("event headers %v lost content_type", changes[0].Event.GetHeaders())
	}
	sc, err := tracing.Parse(changes[1].Event.GetHeaders()[tracing.Header])
	if err != nil || !sc.IsValid() || sc.TraceID().String() == "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("node-started trace %v (%v): want a fresh valid one", sc, err)
	}
	if started.GetTraceparent() != changes[1].Event.GetHeaders()[tracing.Header] {
		t.Errorf("reply traceparent %q differs from the event's", started.GetTraceparent())
	}

	bad := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
	create.Traceparent = bad
	h.rejected(create, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "traceparent")
	amount := "1.00"
	h.rejected(&messages.UpdateOrder{OrderId: joined.GetOrderId(), Amount: &amount, Traceparent: bad}, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "traceparent")
	h.rejected(&messages.CancelOrder{OrderId: joined.GetOrderId(), Traceparent: bad}, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "traceparent")
	if n := len(h.store.Changes()); n != 2 {
		t.Errorf("%d changes after refused commands, want 2", n)
	}
}
