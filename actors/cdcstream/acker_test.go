package cdcstream

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/messages"
)

func TestAckerAcksEveryDeliveryOnceAndLogsRejections(t *testing.T) {
	var logs bytes.Buffer
	a := newAcker(slog.New(slog.NewTextHandler(&logs, nil)))
	acks := map[string]int{}
	for _, id := range []string{"e1", "e1", "e2"} {
		a.add(&Delivery{Request: events(id)[0], Ack: func() { acks[id]++ }})
	}
	a.SendUserMessage(nil, &actor.MessageEnvelope{Message: &messages.EventAck{EventId: "e1"}})
	a.SendUserMessage(nil, &messages.EventAck{EventId: "e1"})
	a.SendUserMessage(nil, &messages.EventAck{EventId: "unknown"})
	if acks["e1"] != 2 || acks["e2"] != 0 || a.len() != 1 {
		t.Fatalf("acks %v, %d pending", acks, a.len())
	}
	a.SendUserMessage(nil, &messages.CommandRejected{Reason: "publish: event with an event_id is required"})
	if !strings.Contains(logs.String(), "publisher rejected an event") {
		t.Errorf("rejection not logged: %s", logs.String())
	}
}
